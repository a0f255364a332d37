"""Group chats: ids, COI group Message-IDs, DC group headers, ad-hoc groups of plain mail."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
from dataclasses import dataclass

from mailcore.addresses import normalize_address, parse_address_list
from mailcore.message_ids import new_message_id
from mailcore.parse import ParsedMessage
from mailcore.text import clean_subject, reply_subject

__all__ = [
    "GroupInfo",
    "adhoc_group_key",
    "adhoc_group_name",
    "group_headers",
    "group_id_from_message_ids",
    "group_message_id",
    "group_subject",
    "is_valid_group_id",
    "membership_headers",
    "new_group_id",
    "parse_group_info",
]

# DC's name for a group whose mail has neither Chat-Group-Name nor a subject (receive_imf.rs).
ADHOC_FALLBACK_NAME = "👥📧"
_GROUP_ID_RE = re.compile(r"^[A-Za-z0-9_-]{11,32}$")
# COI 1.7: <chat$group.<id>.<unique>@domain>; COI ids have no upper bound, 64 keeps it sane.
_COI_GROUP_ID_RE = re.compile(r"^<chat\$group\.([A-Za-z0-9_-]{11,64})\.[^@<>]+@[^<>]+>$")


@dataclass(frozen=True)
class GroupInfo:
    """What a message says about its group; addresses are normalized, members include From."""

    group_id: str | None
    name: str | None
    name_changed_from: str | None
    name_timestamp: int | None
    description: str | None
    member_added: str | None
    member_removed: str | None
    avatar: str | None
    members: tuple[str, ...]
    past_members: tuple[str, ...]
    # (address, timestamp) for To/Cc then past members, only when DC's counts line up.
    member_timestamps: tuple[tuple[str, int], ...]
    left: bool

    @property
    def is_change(self) -> bool:
        """Whether the message changes the group (rename, members, avatar), not only talks in it."""
        return bool(
            self.name_changed_from is not None
            or self.member_added
            or self.member_removed
            or self.avatar is not None
            or self.left
        )

    @property
    def avatar_removed(self) -> bool:
        return self.avatar == "0"

    def avatar_bytes(self) -> bytes | None:
        """Return the image DC sent as ``Chat-Group-Avatar: base64:<data>``, or None."""
        if not self.avatar or not self.avatar.startswith("base64:"):
            return None
        try:
            return base64.b64decode("".join(self.avatar[7:].split()), validate=True)
        except (binascii.Error, ValueError):
            return None


def new_group_id() -> str:
    """Mint a group id as DC's create_id does: 18 random bytes as 24 URL-safe base64 chars."""
    return base64.urlsafe_b64encode(secrets.token_bytes(18)).decode("ascii")


def is_valid_group_id(value: str | None) -> bool:
    """Return whether ``value`` is a group id DC accepts (11-32 of ``[A-Za-z0-9_-]``)."""
    return value is not None and _GROUP_ID_RE.match(value) is not None


def group_message_id(domain: str, group_id: str) -> str:
    """Mint a COI group Message-ID, ``<chat$group.<gid>.<uuid>@domain>``."""
    if not is_valid_group_id(group_id):
        raise ValueError(f"not a group id: {group_id!r}")
    return new_message_id(domain, group_id=group_id)


def group_id_from_message_ids(message_id: str | None, references: tuple[str, ...]) -> str | None:
    """Return the COI group id in the Message-ID, else in the first References id (plain replies)."""
    for candidate in (message_id, references[0] if references else None):
        if candidate and (match := _COI_GROUP_ID_RE.match(candidate)):
            return match.group(1)
    return None


def parse_group_info(parsed: ParsedMessage) -> GroupInfo | None:
    """Return the group a message belongs to by its headers, or None when it names no group."""
    # Reported as sent: DC trusts Chat-Group-ID only in signed and encrypted mail (3.4).
    group_id = parsed.chat_header("Chat-Group-ID")
    if not is_valid_group_id(group_id):
        group_id = group_id_from_message_ids(parsed.message_id, parsed.references)
    name = _stripped(parsed.chat_header("Chat-Group-Name"))
    if group_id is None and name is None:
        return None
    if name is None:
        name = clean_subject(parsed.subject) or None  # COI 1.7: the group name is the Subject
    sender = parsed.from_.addr if parsed.from_ else None
    removed = _single_address(parsed.chat_header("Chat-Group-Member-Removed"))
    past_members = _addresses(parsed.chat_header("Chat-Group-Past-Members"))
    return GroupInfo(
        group_id=group_id,
        name=name,
        name_changed_from=_stripped(parsed.chat_header("Chat-Group-Name-Changed")),
        name_timestamp=_integer(parsed.chat_header("Chat-Group-Name-Timestamp")),
        description=parsed.chat_header("Chat-Group-Description"),
        member_added=_single_address(parsed.chat_header("Chat-Group-Member-Added")),
        member_removed=removed,
        avatar=_stripped(parsed.chat_header("Chat-Group-Avatar")),
        members=tuple(
            dict.fromkeys(a.addr for a in (parsed.from_, *parsed.to, *parsed.cc) if a is not None)
        ),
        past_members=past_members,
        member_timestamps=_member_timestamps(parsed, past_members),
        # DC leaves by removing itself; COI sends a "groupleft" message (1.7).
        left=bool(sender and removed == sender) or parsed.chat_content == "groupleft",
    )


def group_headers(
    *,
    group_id: str | None,
    name: str,
    name_changed_from: str | None = None,
    member_added: str | None = None,
    member_removed: str | None = None,
    name_timestamp: int | None = None,
    avatar: str | None = None,
) -> tuple[tuple[str, str], ...]:
    """Return DC's group headers for compose's ``extra_headers`` (id, name, rename, add,
    remove; `avatar` is a ``Chat-Group-Avatar`` value, see mailcore.images)."""
    if group_id is not None and not is_valid_group_id(group_id):
        raise ValueError(f"not a group id: {group_id!r}")
    name = " ".join(name.split())
    if not name:
        raise ValueError("a group needs a name")
    headers: list[tuple[str, str]] = []
    if group_id is not None:
        headers.append(("Chat-Group-ID", group_id))
    headers.append(("Chat-Group-Name", name))
    if name_timestamp is not None:
        headers.append(("Chat-Group-Name-Timestamp", str(int(name_timestamp))))
    if name_changed_from is not None:
        headers.append(("Chat-Group-Name-Changed", " ".join(name_changed_from.split())))
    if member_added:
        headers.append(("Chat-Group-Member-Added", normalize_address(member_added)))
    if member_removed:
        headers.append(("Chat-Group-Member-Removed", normalize_address(member_removed)))
    if avatar is not None:
        # DC marks the change as a system message and carries the image in the header.
        headers.append(("Chat-Content", "group-avatar-changed"))
        headers.append(("Chat-Group-Avatar", avatar))
    return tuple(headers)


def membership_headers(
    current: list[tuple[str, int]], past: list[tuple[str, int]]
) -> tuple[tuple[str, str], ...]:
    """Return DC's membership CRDT headers for a group message whose To lists `current`
    in that order: past members, then one timestamp per To address and per past member."""
    headers: list[tuple[str, str]] = []
    if past:
        headers.append(
            ("Chat-Group-Past-Members", ", ".join(f"<{normalize_address(a)}>" for a, _ in past))
        )
    stamps = [str(int(ts)) for _, ts in (*current, *past)]
    if stamps:
        headers.append(("Chat-Group-Member-Timestamps", " ".join(stamps)))
    return tuple(headers)


def adhoc_group_name(parsed: ParsedMessage) -> str:
    """Return DC's ad-hoc group name: Chat-Group-Name, else the cleaned Subject, else "👥📧"."""
    return (
        _stripped(parsed.chat_header("Chat-Group-Name"))
        or clean_subject(parsed.subject)
        or ADHOC_FALLBACK_NAME
    )


def adhoc_group_key(name: str, member_addresses: tuple[str, ...] | list[str] | set[str]) -> str:
    """Return a stable key for an ad-hoc group: its cleaned name plus the set of all members."""
    # DC matches ad-hoc groups by identical name and identical member set (3.4); pass every
    # participant, the sender and ourselves included, e.g. GroupInfo.members.
    cleaned = clean_subject(name) or ADHOC_FALLBACK_NAME
    members = sorted({normalize_address(addr) for addr in member_addresses if addr.strip()})
    digest = hashlib.sha256("\x00".join([cleaned, *members]).encode("utf-8")).hexdigest()
    return f"adhoc-{digest[:32]}"


def group_subject(name: str, replying: bool) -> str:
    """Return the Subject of a group message: the name, ``Re: <name>`` when replying (DC)."""
    return reply_subject(name) if replying else " ".join(name.split())


def _member_timestamps(
    parsed: ParsedMessage, past_members: tuple[str, ...]
) -> tuple[tuple[str, int], ...]:
    raw = parsed.chat_header("Chat-Group-Member-Timestamps")
    if not raw:
        return ()
    timestamps = [int(token) for token in raw.split() if token.isdigit()]
    recipients = [address.addr for address in (*parsed.to, *parsed.cc)]
    # DC sends one timestamp per To address, then one per past member, and ignores the
    # header when the count is off (receive_imf.rs update_chats_contacts_timestamps).
    if len(timestamps) != len(recipients) + len(past_members):
        return ()
    return tuple(zip([*recipients, *past_members], timestamps, strict=True))


def _addresses(value: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(address.addr for address in parse_address_list(value)))


def _single_address(value: str | None) -> str | None:
    addresses = _addresses(value)
    return addresses[0] if addresses else None


def _stripped(value: str | None) -> str | None:
    value = " ".join(value.split()) if value else ""
    return value or None


def _integer(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() else None
