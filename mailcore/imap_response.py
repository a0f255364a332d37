"""FETCH responses as imaplib hands them over, parsed into data items per UID.

imapclient's parser lexes every byte of a response in Python, which costs more CPU than
reading the mail. imaplib has already cut the literals (the message bodies) out of the
response lines, so only the short text around them is tokenised here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from imapclient.datetime_util import parse_to_datetime

from mailcore.errors import ProtocolError

# One token of a FETCH response: ( ) "quoted" or an atom; an atom may be a section
# like BODY[]<0> or BODY[HEADER.FIELDS (FROM)], whose brackets hold spaces and parens.
_TOKEN = re.compile(
    rb' *(?:(?P<open>\()|(?P<close>\))|"(?P<quoted>[^"\\]*(?:\\.[^"\\]*)*)"'
    rb'|(?P<atom>[^ ()"{\[\]]+(?:\[[^\]]*\](?:<[0-9.]+>)?)?))'
)
# The usual response, read in one regular expression pass: items whose values are atoms,
# strings, literals (marked {} once cut out) or lists of atoms, as FLAGS is.
_ATOM = rb'[^ ()"{\[\]]+'
_FLAT_VALUE = rb'\([^()"{\[\]]*\)|"[^"\\]*(?:\\.[^"\\]*)*"|\{\}|' + _ATOM
_FLAT_KEY = _ATOM + rb"(?:\[[^\]]*\](?:<[0-9.]+>)?)?"
_FLAT_ITEM = re.compile(rb"( ?)(" + _FLAT_KEY + rb") (" + _FLAT_VALUE + rb")")
_FLAT_START = re.compile(rb"\d+ \(")
_QUOTED_ESCAPE = re.compile(rb"\\(.)")
_LITERAL_MARK = re.compile(rb"\{(\d+)\}\Z")
_INTERNALDATE = re.compile(
    rb"( ?\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)\Z"
)
_MONTHS = {
    name: number
    for number, name in enumerate(
        (b"JAN", b"FEB", b"MAR", b"APR", b"MAY", b"JUN")
        + (b"JUL", b"AUG", b"SEP", b"OCT", b"NOV", b"DEC"),
        start=1,
    )
}
_NIL = object()  # the atom NIL while parsing (a quoted "NIL" stays the string)


def parse_fetch(data: list) -> dict[int, dict[bytes, object]]:
    """Data items by UID from imaplib's untagged FETCH data (`uid("FETCH", ...)[1]`).

    Keys are upper-case (b"FLAGS", b"BODY[]<0>"); UID and RFC822.SIZE become ints,
    FLAGS a tuple of str, INTERNALDATE an aware datetime in UTC (None if unreadable),
    NIL None, strings and literals bytes, lists tuples. Several responses about one
    message (an unsolicited flag update beside our answer) are merged, later ones winning,
    as imapclient does. Responses without a UID are unsolicited updates keyed by sequence
    number, which says nothing about UIDs: they are left out. One without a UID that
    carries a body section answers our request but cannot be placed; it raises rather
    than let the message pass for expunged.
    """
    messages: dict[int, dict[bytes, object]] = {}
    segments: list = []
    for item in data:
        if item is None:  # imaplib's "no FETCH response at all"
            continue
        if isinstance(item, tuple):  # (text up to a literal, the literal)
            segments.append(item)
            continue
        segments.append(item)  # the text after the last literal ends the response
        uid, items = _one_response(segments)
        segments = []
        if uid is not None:
            messages.setdefault(uid, {}).update(items)
        elif any(key.startswith(b"BODY[") for key in items):
            raise ProtocolError(
                "The mail server answered a UID FETCH without the UID.", detail=repr(data[:1])[:500]
            )
    if segments:
        raise _unreadable(repr(segments)[:500])
    return messages


def _one_response(segments: list) -> tuple[int | None, dict[bytes, object]]:
    pairs = _flat_pairs(segments)
    if pairs is None:
        pairs = _nested_pairs(segments)
    items: dict[bytes, object] = {}
    uid = None
    for key, value in pairs:
        key = key.upper()
        if key == b"UID":
            uid = _integer(value, pairs)
        else:
            items[key] = _value(key, value, pairs)
    return uid, items


def _flat_pairs(segments: list) -> list[tuple[bytes, object]] | None:
    """The (key, value) items of the usual response, whose lists hold only atoms, in one
    regular expression; None for anything else (nested lists, sections with spaces...)."""
    parts = []
    literals = []
    for segment in segments:
        if isinstance(segment, tuple):
            text, literal = segment
            mark = _LITERAL_MARK.search(text)
            if mark is None or int(mark.group(1)) != len(literal):
                raise _unreadable(repr(text))
            parts.append(text[: mark.start()])
            parts.append(b"{}")
            literals.append(literal)
        else:
            parts.append(segment)
    text = b"".join(parts)
    start = _FLAT_START.match(text)
    if start is None or not text.endswith(b")"):
        return None
    inner = text[start.end() : -1]
    pairs = []
    literal = iter(literals)
    covered = 0
    for space, key, value in _FLAT_ITEM.findall(inner):
        # findall skips what it cannot match: all of it matched, one space apart, or
        # the response is left to the full parser.
        if space != (b" " if pairs else b""):
            return None
        covered += len(space) + len(key) + 1 + len(value)
        first = value[0]
        if first == 40:  # (
            pairs.append((key, [_NIL if a == b"NIL" else a for a in value[1:-1].split()]))
        elif first == 34:  # "
            pairs.append((key, _unquote(value[1:-1])))
        elif first == 123:  # {
            pairs.append((key, next(literal)))
        else:
            pairs.append((key, _NIL if value == b"NIL" else value))
    return pairs if covered == len(inner) else None


def _nested_pairs(segments: list) -> list[tuple[bytes, object]]:
    top = _parse(segments)
    if len(top) != 2 or not isinstance(top[0], bytes) or not isinstance(top[1], list):
        raise _unreadable(_show(top))
    if not top[0].isdigit():
        raise _unreadable(_show(top))
    items = top[1]
    if len(items) % 2 or not all(isinstance(key, bytes) for key in items[::2]):
        raise _unreadable(_show(top))
    return list(zip(items[::2], items[1::2], strict=True))


def _value(key: bytes, value: object, context: list) -> object:
    if key == b"FLAGS":
        if not isinstance(value, list):
            raise _unreadable(_show(context))
        if not all(isinstance(flag, bytes) for flag in value):
            raise _unreadable(_show(context))
        return tuple(flag.decode("ascii", "replace") for flag in value)
    if key == b"INTERNALDATE":
        return internal_date(_plain(value))
    if key == b"RFC822.SIZE":
        return _integer(value, context)
    return _plain(value)


def _parse(segments: list) -> list:
    """The tokens of one response, parenthesised lists as lists, literals as bytes."""
    top: list = []
    stack = [top]
    current = top
    for segment in segments:
        text, literal = segment if isinstance(segment, tuple) else (segment, None)
        if literal is not None:
            mark = _LITERAL_MARK.search(text)
            if mark is None or int(mark.group(1)) != len(literal):
                raise _unreadable(repr(text))
            text = text[: mark.start()]
        pos, end = 0, len(text)
        while pos < end:
            match = _TOKEN.match(text, pos)
            if match is None or match.end() == pos:
                if text[pos:].strip(b" ") == b"":
                    break
                raise _unreadable(repr(text[pos:]))
            pos = match.end()
            kind = match.lastgroup
            if kind == "atom":
                atom = match.group("atom")
                current.append(_NIL if atom == b"NIL" else atom)
            elif kind == "quoted":
                current.append(_unquote(match.group("quoted")))
            elif kind == "open":
                current = []
                stack[-1].append(current)
                stack.append(current)
            else:
                if len(stack) == 1:
                    raise _unreadable(repr(text))
                stack.pop()
                current = stack[-1]
        if literal is not None:
            current.append(literal)
    if len(stack) != 1:
        raise _unreadable(_show(top))
    return top


def internal_date(value: object) -> datetime | None:
    """An INTERNALDATE ("06-Dec-2026 21:57:15 +0100") as an aware datetime in UTC."""
    if not isinstance(value, bytes):
        return None
    match = _INTERNALDATE.match(value)
    if match is not None:
        day, month, year, hour, minute, second, sign, zone_h, zone_m = match.groups()
        number = _MONTHS.get(month.upper())
        if number is not None:
            try:
                when = datetime(
                    int(year), number, int(day), int(hour), int(minute), int(second), tzinfo=UTC
                )
            except ValueError:
                return None
            if zone_h == b"00" and zone_m == b"00":
                return when
            offset = timedelta(hours=int(zone_h), minutes=int(zone_m))
            return when - offset if sign == b"+" else when + offset
    try:  # not the RFC 3501 form: imapclient's lenient parser, as it would have read it
        parsed = parse_to_datetime(value, normalise=False)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _unquote(quoted: bytes) -> bytes:
    return _QUOTED_ESCAPE.sub(rb"\1", quoted) if b"\\" in quoted else quoted


def _plain(value: object) -> object:
    if value is _NIL:
        return None
    if isinstance(value, list):
        return tuple(_plain(v) for v in value)
    return value


def _integer(value: object, context: list) -> int:
    if isinstance(value, bytes) and value.isdigit():
        return int(value)
    raise _unreadable(_show(context))


def _show(top: list) -> str:
    return repr(top)[:500]


def _unreadable(detail: str) -> ProtocolError:
    return ProtocolError("The mail server sent a FETCH answer we could not read.", detail=detail)
