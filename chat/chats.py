"""Which chat a message belongs to: a one-to-one chat, a group known by its id, the group
of the message it answers, or an ad-hoc group of plain multi-recipient mail.

The order follows Delta Chat's (coi-protocol.md 3.4): a group id, else the parent
message's group, else an ad-hoc group when the mail names a group or has several other
recipients, else the sender's (or for our own mail, the recipient's) one-to-one chat.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction

from accounts.models import MailAccount
from chat import requests
from chat.models import Chat, ChatMember, Message
from mailcore.attachments import attachment_bytes
from mailcore.groups import (
    GroupInfo,
    adhoc_group_key,
    adhoc_group_name,
    group_id_from_message_ids,
    is_valid_group_id,
    parse_group_info,
)
from mailcore.images import MAX_AVATAR_BYTES, image_type
from mailcore.parse import ParsedMessage


@dataclass(frozen=True)
class Placement:
    chat: Chat
    # What the message did to its group, as a line for the chat ("Dora renamed …"); None
    # for an ordinary message.
    change: str | None = None


def place(
    account: MailAccount, parsed: ParsedMessage, *, when: datetime, raw: bytes | None = None
) -> Placement:
    """Return the chat `parsed` belongs to, creating it and applying group changes.

    A chat this creates for someone we never wrote to is a contact request. `raw` (the
    mail's bytes) lets an old Delta Chat's group image, sent as an attachment, be read.
    """
    own = account.email
    sender = parsed.from_.addr if parsed.from_ else ""
    outgoing = sender == own
    others = _others(parsed, own)
    info = parse_group_info(parsed)
    new_chat = {
        "last_activity_at": when,
        "requested_by": "" if outgoing else sender,
        # Evaluated only when the chat is created (get_or_create resolves callables).
        "is_request": lambda: (
            bool(sender) and not outgoing and not requests.is_known(account, sender)
        ),
    }
    if not _is_groupish(parsed, others, info):
        peer = _peer(parsed, own, others)
        return Placement(_single_chat(account, peer, parsed, outgoing=outgoing, new_chat=new_chat))
    group = None
    if info is not None and info.group_id:
        group = _group_by_id(account, info, others, new_chat)
    if group is None:
        parent = _parent_chat(account, parsed)
        group = parent if parent is not None and parent.is_group else None
        if group is None:
            group = _adhoc_group(account, parsed, others, new_chat)
    change = _apply_change(account, group, info, parsed, raw) if info is not None else None
    return Placement(group, change)


def single_peer(account: MailAccount, parsed: ParsedMessage) -> str | None:
    """The peer whose one-to-one chat `parsed` goes to, or None when place() must decide
    (a group, or possibly one)."""
    others = _others(parsed, account.email)
    if _is_groupish(parsed, others, parse_group_info(parsed)):
        return None
    return _peer(parsed, account.email, others)


def single_chats(
    account: MailAccount,
    names: dict[str, str],
    *,
    when: dict[str, datetime],
    requests_from: set[str],
):
    """The one-to-one chats with these peers, creating missing ones with one query; returns
    ({peer: chat}, peers whose chat was created). `names` gives a name per peer ("" if
    none is known), `when` the activity time of a new chat; a new chat with a peer in
    `requests_from` is a contact request."""
    chats = {
        c.peer_address: c
        for c in Chat.objects.filter(
            account=account, kind=Chat.Kind.SINGLE, peer_address__any=names
        )
    }
    missing = [peer for peer in names if peer not in chats]
    if missing:
        # A concurrent sync may create some of them meanwhile: its rows are taken then.
        Chat.objects.bulk_create(
            [
                Chat(
                    account=account,
                    kind=Chat.Kind.SINGLE,
                    peer_address=peer,
                    name=names[peer][:200],
                    last_activity_at=when[peer],
                    is_request=peer in requests_from,
                    requested_by=peer if peer in requests_from else "",
                )
                for peer in missing
            ],
            ignore_conflicts=True,
        )
        for chat in Chat.objects.filter(
            account=account, kind=Chat.Kind.SINGLE, peer_address__any=missing
        ):
            chats[chat.peer_address] = chat
    for peer, chat in chats.items():
        name = names[peer][:200]
        if name and not chat.name:
            # A chat started from our side knows only the address until the peer answers.
            Chat.objects.filter(pk=chat.pk, name="").update(name=name)
            chat.name = name
    return chats, set(missing)


def _is_groupish(parsed: ParsedMessage, others: list[str], info: GroupInfo | None) -> bool:
    # A reply to the sender alone, from a group thread, is a private one (DC's "reply
    # privately"; a plain client's "Reply" instead of "Reply all"), unless it says otherwise.
    return len(others) > 1 or (info is not None and _names_its_group(parsed))


def _peer(parsed: ParsedMessage, own: str, others: list[str]) -> str:
    sender = parsed.from_.addr if parsed.from_ else ""
    if sender == own:
        return others[0] if others else own
    return sender or "unknown@invalid"


def _names_its_group(parsed: ParsedMessage) -> bool:
    """Whether the message itself says it is a group message, rather than merely answering
    one (a group id found only in References, as a plain client's reply carries it)."""
    return bool(
        is_valid_group_id(parsed.chat_header("Chat-Group-ID"))
        or parsed.chat_header("Chat-Group-Name")
        or group_id_from_message_ids(parsed.message_id, ())
    )


def _others(parsed: ParsedMessage, own: str) -> list[str]:
    """Everyone on the message except us, sender first."""
    addresses = (a.addr for a in (parsed.from_, *parsed.to, *parsed.cc) if a is not None)
    return [a for a in dict.fromkeys(addresses) if a and a != own]


def _single_chat(
    account: MailAccount, peer: str, parsed: ParsedMessage, *, outgoing: bool, new_chat: dict
) -> Chat:
    name = "" if outgoing or not parsed.from_ else parsed.from_.name[:200]
    chat, created = _get_or_create(
        account,
        kind=Chat.Kind.SINGLE,
        peer_address=peer,
        defaults={"name": name, **new_chat},
    )
    if not created and not chat.name and name:
        # A chat started from our side knows only the address until the peer answers.
        Chat.objects.filter(pk=chat.pk, name="").update(name=name)
        chat.name = name
    return chat


def _group_by_id(
    account: MailAccount, info: GroupInfo, others: list[str], new_chat: dict
) -> Chat | None:
    chat, created = _get_or_create(
        account,
        kind=Chat.Kind.GROUP,
        group_id=info.group_id,
        defaults={"name": (info.name or "")[:200], **new_chat},
    )
    if created:
        _add_members(chat, others)
    return chat


def _adhoc_group(
    account: MailAccount, parsed: ParsedMessage, others: list[str], new_chat: dict
) -> Chat:
    name = adhoc_group_name(parsed)
    key = adhoc_group_key(name, [*others, account.email])
    chat, created = _get_or_create(
        account,
        kind=Chat.Kind.GROUP,
        group_id=key,
        defaults={"name": name[:200], **new_chat},
    )
    if created:
        _add_members(chat, others)
    return chat


def _get_or_create(account: MailAccount, *, defaults: dict, **lookup) -> tuple[Chat, bool]:
    try:
        with transaction.atomic():
            return Chat.objects.get_or_create(account=account, **lookup, defaults=defaults)
    except IntegrityError:
        # A concurrent sync created it between our read and our insert.
        return Chat.objects.get(account=account, **lookup), False


def _parent_chat(account: MailAccount, parsed: ParsedMessage) -> Chat | None:
    candidates = [*parsed.in_reply_to, *reversed(parsed.references)]
    if not candidates:
        return None
    parents = {
        m.message_id: m.chat
        for m in Message.objects.filter(account=account, message_id__in=candidates).select_related(
            "chat"
        )
    }
    return next((parents[c] for c in candidates if c in parents), None)


def _add_members(chat: Chat, addresses: list[str], at: int = 0) -> None:
    for address in addresses:
        set_membership(chat, address, is_member=True, at=at)


def set_membership(chat: Chat, address: str, *, is_member: bool, at: int) -> None:
    """Record an add or remove at unix time `at`; an older change than the one we know of
    loses (Delta Chat's membership CRDT), so late mail cannot undo a removal."""
    member, created = ChatMember.objects.get_or_create(
        chat=chat, address=address, defaults={"is_member": is_member, "changed_at": at}
    )
    if created:
        return
    if at > member.changed_at or (at == member.changed_at and not is_member):
        ChatMember.objects.filter(pk=member.pk).update(is_member=is_member, changed_at=at)


def _apply_change(
    account: MailAccount, chat: Chat, info: GroupInfo, parsed: ParsedMessage, raw: bytes | None
) -> str | None:
    """Apply the membership and name the message carries; return a line for the chat when
    it is a change (rename, member added or removed) rather than a message."""
    own = account.email
    sender = parsed.from_.addr if parsed.from_ else ""
    at = int(parsed.date.timestamp()) if parsed.date else 0
    if sender and sender != own and not chat.members.filter(address=sender).exists():
        set_membership(chat, sender, is_member=True, at=0)
    past = set(info.past_members)
    for address, stamp in info.member_timestamps:
        if address != own:
            set_membership(chat, address, is_member=address not in past, at=stamp)

    who = "You" if sender == own else ((parsed.from_.name or sender) if parsed.from_ else "Someone")
    if info.name_changed_from is not None and info.name:
        Chat.objects.filter(pk=chat.pk).update(name=info.name[:200])
        chat.name = info.name[:200]
        return f"{who} renamed the group to “{info.name}”."
    if info.left:
        if sender == own:
            _set_left(chat, True)
        else:
            set_membership(chat, sender, is_member=False, at=at)
        return f"{who} left the group."
    if info.member_removed:
        if info.member_removed != own:
            set_membership(chat, info.member_removed, is_member=False, at=at)
        else:
            _set_left(chat, True)
        removed = "you" if info.member_removed == own else info.member_removed
        return f"{who} removed {removed}."
    if info.member_added:
        if info.member_added != own:
            set_membership(chat, info.member_added, is_member=True, at=at)
        else:
            _set_left(chat, False)
        added = "you" if info.member_added == own else info.member_added
        return f"{who} added {added}."
    if info.avatar is not None:
        return _apply_avatar(chat, info, parsed, raw, who)
    if not chat.name and info.name:
        Chat.objects.filter(pk=chat.pk, name="").update(name=info.name[:200])
        chat.name = info.name[:200]
    return None


def _set_left(chat: Chat, left: bool) -> None:
    Chat.objects.filter(pk=chat.pk).update(we_left=left)
    chat.we_left = left


def _apply_avatar(
    chat: Chat, info: GroupInfo, parsed: ParsedMessage, raw: bytes | None, who: str
) -> str | None:
    """Delta Chat's group image: ``0`` removes it, ``base64:<data>`` carries it, and older
    versions name an attachment of the message instead (mimeparser.rs)."""
    if info.avatar_removed:
        set_avatar(chat, None)
        return f"{who} removed the group image."
    data = info.avatar_bytes()
    if data is None and raw is not None:
        index = next(
            (i for i, a in enumerate(parsed.attachments) if a.filename == info.avatar), None
        )
        if index is not None:
            try:
                data = attachment_bytes(raw, index)
            except IndexError:
                data = None
    if data is None or len(data) > MAX_AVATAR_BYTES or image_type(data) is None:
        return None  # not an image we can show: the message stays an ordinary one
    set_avatar(chat, data)
    return f"{who} changed the group image."


def set_avatar(chat: Chat, data: bytes | None) -> None:
    """Store (or with None remove) a group's image; its URL changes with each version."""
    kind = image_type(data) if data else None
    Chat.objects.filter(pk=chat.pk).update(
        avatar=data if kind else None,
        avatar_type=kind or "",
        avatar_version=chat.avatar_version + 1,
    )
    chat.avatar_type, chat.avatar_version = kind or "", chat.avatar_version + 1
