"""Message-IDs: minting COI ids, normalizing and parsing id headers, DC-style References."""

from __future__ import annotations

import hashlib
import re
import uuid

# RFC 5322 caps a line at 998 octets; anything longer is garbage, not an id worth keeping.
MAX_ID_LENGTH = 995

_BRACKETED_RE = re.compile(r"<([^<>]*)>")
_TOKEN_RE = re.compile(r"<[^<>]*>|[^\s<>,;()]+")
_COMMENT_RE = re.compile(r"\([^()]*\)")
_WHITESPACE_RE = re.compile(r"\s+")
_DOMAIN_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$")
_GROUP_ID_RE = re.compile(r"^[0-9A-Za-z_-]+$")


def new_message_id(domain: str, *, group_id: str | None = None) -> str:
    """Mint a unique COI Message-ID: ``<chat$<uuid>@domain>`` or ``<chat$group.<id>.<uuid>@domain>``."""
    domain = domain.strip().lower()
    if not domain.isascii():
        domain = domain.encode("idna").decode("ascii")
    if not _DOMAIN_RE.match(domain):
        raise ValueError(f"not a usable Message-ID domain: {domain!r}")
    unique = uuid.uuid4().hex
    if group_id is None:
        return f"<chat${unique}@{domain}>"
    if not _GROUP_ID_RE.match(group_id):
        raise ValueError(f"not a COI group id: {group_id!r}")
    return f"<chat$group.{group_id}.{unique}@{domain}>"


def normalize_message_id(value: str | None) -> str | None:
    """Return the first id in a Message-ID-like value as ``<...>``, or None when there is none."""
    if not value:
        return None
    ids = _ids_in(str(value), first_only=True)
    return ids[0] if ids else None


def parse_id_list(value: str | None) -> tuple[str, ...]:
    """Parse a References/In-Reply-To value into unique ``<...>`` ids, in order."""
    if not value:
        return ()
    return tuple(dict.fromkeys(_ids_in(str(value), first_only=False)))


def synthetic_message_id(raw: bytes) -> str:
    """Return a deterministic stand-in Message-ID for mail that lacks a usable one."""
    return f"<{hashlib.sha256(raw).hexdigest()[:32]}@coiweb.invalid>"


def build_references(parent_references: tuple[str, ...], parent_id: str | None) -> tuple[str, ...]:
    """Return DC-style References for a reply: thread root plus the last ids, ending with the parent."""
    chain = [ref for ref in dict.fromkeys(parent_references) if ref != parent_id]
    if parent_id:
        chain.append(parent_id)
    if len(chain) <= 3:
        return tuple(chain)
    return (chain[0], *chain[-2:])


def _ids_in(value: str, *, first_only: bool) -> list[str]:
    ids = []
    for token in _TOKEN_RE.findall(_strip_comments(value)):
        if token.startswith("<"):
            # Some mailers fold inside the brackets; whitespace is never part of an id.
            inner = _WHITESPACE_RE.sub("", token[1:-1])
        elif "@" in token:
            inner = token
        else:
            continue
        if inner and len(inner) <= MAX_ID_LENGTH:
            ids.append(f"<{inner}>")
            if first_only:
                break
    return ids


def _strip_comments(value: str) -> str:
    # Only comments outside brackets matter in practice; ids never contain parentheses.
    if "(" not in value:
        return value
    outside = _BRACKETED_RE.split(value)
    for index in range(0, len(outside), 2):
        previous = None
        while previous != outside[index]:
            previous = outside[index]
            outside[index] = _COMMENT_RE.sub(" ", outside[index])
    return "".join(part if i % 2 == 0 else f"<{part}>" for i, part in enumerate(outside))
