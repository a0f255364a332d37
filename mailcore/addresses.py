"""E-mail addresses: normalizing, parsing header lists and formatting for headers."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from email.utils import formataddr, getaddresses

from mailcore.decoding import decode_words, fix_surrogates, unfold

_WHITESPACE_RE = re.compile(r"\s+")


@dataclass(frozen=True)
class Address:
    name: str
    addr: str


def normalize_address(addr: str) -> str:
    """Return the address stripped and lower-cased, with an IDN domain in its ASCII form."""
    addr = addr.strip().strip("<>").strip().lower()
    local, at, domain = addr.rpartition("@")
    if not at or domain.isascii():
        return addr
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return addr
    return f"{local}@{domain}"


def domain_of(addr: str) -> str:
    """Return the normalized domain part of an address ("" when there is none)."""
    local, at, domain = normalize_address(addr).rpartition("@")
    return domain if at else ""


def parse_address_list(value: str | None) -> tuple[Address, ...]:
    """Parse a raw To/Cc/From header value; garbage and empty group members are skipped."""
    if not value:
        return ()
    value = str(value)
    return _parse_cached(value) if len(value) <= 1000 else _parse(value)


# The same few headers come again and again (every mail To: the mailbox's owner), and
# the result is immutable.
@functools.lru_cache(maxsize=4096)
def _parse_cached(value: str) -> tuple[Address, ...]:
    return _parse(value)


def _parse(value: str) -> tuple[Address, ...]:
    value = unfold(fix_surrogates(value))
    result = []
    for name, addr in _getaddresses(value):
        addr = normalize_address(addr)
        if not _looks_like_address(addr):
            continue
        name = _WHITESPACE_RE.sub(" ", decode_words(name)).strip()
        if normalize_address(name) == addr:
            name = ""  # Outlook repeats the address as the name; it says nothing new
        result.append(Address(name=name, addr=addr))
    return tuple(result)


def format_address(name: str, addr: str) -> str:
    """Format one address for a header per RFC 5322, RFC 2047-encoding a non-ASCII name."""
    name = _WHITESPACE_RE.sub(" ", name or "").strip()
    return formataddr((name, normalize_address(addr)), charset="utf-8")


def _getaddresses(value: str) -> list[tuple[str, str]]:
    # Python >= 3.11.10 parses strictly by default and then drops the whole list when one
    # entry is malformed; we want the good entries of a partly broken header.
    try:
        return getaddresses([value], strict=False)
    except TypeError:
        return getaddresses([value])


def _looks_like_address(addr: str) -> bool:
    local, at, domain = addr.rpartition("@")
    return bool(at and local and domain) and not any(c.isspace() or c in "<>,;:" for c in addr)
