"""Parse any incoming mail into a ParsedMessage that can be shown; never raises."""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from functools import cached_property

from mailcore.addresses import Address, parse_address_list
from mailcore.decoding import decode_header_value, fix_surrogates, unfold
from mailcore.html import html_to_text, sanitize_html
from mailcore.message_ids import normalize_message_id, parse_id_list, synthetic_message_id
from mailcore.mime import split_message
from mailcore.parts import Attachment, BodyParts, chat_content_of, collect_parts, content_type_of
from mailcore.text import decode_flowed, split_quote_and_signature, split_signature

__all__ = ["Attachment", "ParsedMessage", "attachment_payload", "parse_message", "split_quote"]

PROBLEM_UNREADABLE = "Could not display this message; download the raw mail to read it."
PROBLEM_EMPTY = "This message is empty (0 bytes)."
PROBLEM_NOT_MAIL = "This does not look like an e-mail message; download the raw mail to inspect it."
PROBLEM_ENCRYPTED = "This message is end-to-end encrypted; it cannot be shown here yet."

# If none of these is present the bytes are not a mail, and their "body" is noise.
_MAIL_HEADERS = {
    "from", "to", "cc", "date", "subject", "message-id", "received", "mime-version",
    "content-type", "return-path", "references", "in-reply-to", "sender", "reply-to",
    "delivered-to", "dkim-signature", "chat-version",
}  # fmt: skip
# The header-line test of email.feedparser: a line failing it ends the header block.
_HEADER_LINE_RE = re.compile(rb"^(?:From |[\041-\071\073-\176]*:|[\t ])")
_HEADER_NAME_RE = re.compile(rb"^[\041-\071\073-\176]+:")
_HEADER_END_RE = re.compile(rb"\r?\n\r?\n")
_EXTRA_CHAT_HEADERS = {
    "autocrypt", "auto-submitted", "disposition-notification-to", "secure-join", "iroh-node-addr",
}  # fmt: skip
_CHAT_ID_PREFIX = "<chat$"


# compat32 builds no header objects: every header is read raw and decoded here (the
# modern policy parses one anew each time it is read, and chokes on some).
_POLICY = email.policy.compat32


@dataclass(frozen=True)
class ParsedMessage:
    message_id: str
    has_real_message_id: bool
    from_: Address | None
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    reply_to: tuple[Address, ...]
    date: datetime | None
    date_offset_minutes: int | None
    subject: str
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    is_chat: bool
    chat_version: str | None
    chat_headers: dict[str, str]
    text: str
    folded_text: str
    html: str | None
    attachments: tuple[Attachment, ...]
    content_type: str
    is_auto_submitted: bool
    is_mdn: bool
    problem: str | None
    size: int
    # Beyond display: what the chat layer needs to consume MDNs and reactions.
    mdn_original_ids: tuple[str, ...] = ()
    is_reaction: bool = False
    # What the message is for, beyond its text (see mailcore.classify).
    report_type: str = ""
    report_blocks: tuple[dict[str, str], ...] = ()
    returned_message_id: str | None = None
    chat_content: str = ""

    def chat_header(self, name: str) -> str | None:
        """Return the decoded value of a collected chat header, matching its name in any case."""
        return self._chat_headers_by_lower_name.get(name.lower())

    @cached_property
    def _chat_headers_by_lower_name(self) -> dict[str, str]:
        # Classifying a message asks for a dozen headers; the first spelling met wins.
        by_name: dict[str, str] = {}
        for key, value in self.chat_headers.items():
            by_name.setdefault(key.lower(), value)
        return by_name


def parse_message(raw: bytes) -> ParsedMessage:
    """Parse raw RFC 5322 bytes; on any failure return what was recovered with ``problem`` set."""
    try:
        raw = bytes(raw)
    except Exception:
        raw = b""
    if not raw.strip():
        return _headers_only(raw, None, PROBLEM_EMPTY)
    try:
        msg = _message(raw)
        headers = _first_headers(msg)
    except Exception:
        return _headers_only(raw, None, PROBLEM_UNREADABLE)
    if not headers.keys() & _MAIL_HEADERS:
        return _headers_only(raw, msg, PROBLEM_NOT_MAIL)
    try:
        return _parse(raw, msg, headers)
    except Exception:
        return _headers_only(raw, msg, PROBLEM_UNREADABLE)


def split_quote(text: str) -> tuple[str | None, str]:
    """Split Delta Chat's leading ``> `` quote block off a reply: (quoted text or None, rest)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    count = 0
    # As DC's simplify.rs remove_top_quote: consecutive ">" lines at the very top, no gaps.
    while count < len(lines) and lines[count].startswith(">"):
        count += 1
    if not count:
        return None, text
    quote = "\n".join(_unquote(line) for line in lines[:count])
    rest = lines[count:]
    while rest and not rest[0].strip():
        rest.pop(0)
    return quote, "\n".join(rest).rstrip()


def attachment_payload(raw: bytes, index: int) -> bytes | None:
    """Return the decoded bytes of ``parse_message(raw).attachments[index]``, or None."""
    if index < 0:
        return None
    try:
        raw = bytes(raw)
        msg = _message(raw)
        if not _first_headers(msg).keys() & _MAIL_HEADERS:
            return None
        if _safe_content_type(msg) == "multipart/encrypted":
            return None
        return _collect_parts_leniently(raw, msg, payload_index=index).payload
    except Exception:
        return None


def _unquote(line: str) -> str:
    line = line[1:]
    return line[1:] if line.startswith(" ") else line


def _message(raw: bytes) -> Message:
    # split_message declines any header block that _repair_folding would change.
    return split_message(raw) or email.message_from_bytes(_repair_folding(raw), policy=_POLICY)


def _repair_folding(raw: bytes) -> bytes:
    """Indent header lines that lost their folding whitespace, so later headers survive."""
    end = _HEADER_END_RE.search(raw)
    if end is None or not _HEADER_LINE_RE.match(raw):
        return raw
    lines = raw[: end.start()].split(b"\n")
    broken = [i for i, line in enumerate(lines) if not _HEADER_LINE_RE.match(line)]
    last_header = max((i for i, line in enumerate(lines) if _HEADER_NAME_RE.match(line)), default=0)
    # Without this the parser would end the headers at the broken line and show the rest
    # of the header block (From, To, Date...) as body text. Broken lines after the last
    # real header are more likely a body that lacks its blank separator line: left alone.
    to_fix = {i for i in broken if i < last_header}
    if not to_fix:
        return raw
    fixed = [b" " + line if i in to_fix else line for i, line in enumerate(lines)]
    return b"\n".join(fixed) + raw[end.start() :]


def _parse(raw: bytes, msg: Message, headers: dict[str, str]) -> ParsedMessage:
    fields = _header_fields(raw, msg, headers)
    content_type = _safe_content_type(msg)
    is_mdn = content_type == "multipart/report" and _report_type(msg) == "disposition-notification"
    if content_type == "multipart/encrypted":
        return ParsedMessage(**fields, **_no_body(PROBLEM_ENCRYPTED), is_mdn=is_mdn)
    parts = _collect_parts_leniently(raw, msg)
    text = _main_text(parts)
    if fields["chat_version"] is not None or fields["message_id"].startswith(_CHAT_ID_PREFIX):
        # Written by a messenger: quotes are there on purpose, only the status signature
        # goes. Classic replies that are chat only by their References fold as mail does.
        text, folded = split_signature(text)
    else:
        text, folded = split_quote_and_signature(text)
    nothing_shown = not text and not parts.attachments and not parts.is_reaction
    fields["chat_content"] = fields["chat_content"] or parts.body_chat_content
    return ParsedMessage(
        **fields,
        text=text,
        folded_text=folded,
        html=_sanitized(parts.html),
        attachments=parts.attachments,
        is_mdn=is_mdn,
        problem=PROBLEM_UNREADABLE if parts.failures and nothing_shown else None,
        mdn_original_ids=parts.mdn_original_ids,
        is_reaction=parts.is_reaction,
        report_blocks=parts.report_blocks,
        # Outside a report an embedded message is a forward, not a returned original.
        returned_message_id=parts.returned_message_id if fields["report_type"] else None,
    )


def _header_fields(raw: bytes, msg: Message, headers: dict[str, str]) -> dict:
    real_id = normalize_message_id(headers.get("message-id"))
    message_id = real_id or synthetic_message_id(raw)
    references = parse_id_list(headers.get("references"))
    chat_version = _decoded(headers, "chat-version")
    date, offset = _parse_date(headers.get("date"))
    from_list = parse_address_list(headers.get("from"))
    auto_submitted = (_decoded(headers, "auto-submitted") or "").split(";")[0].strip().lower()
    return {
        "message_id": message_id,
        "has_real_message_id": real_id is not None,
        "from_": from_list[0] if from_list else None,
        "to": parse_address_list(headers.get("to")),
        "cc": parse_address_list(headers.get("cc")),
        "reply_to": parse_address_list(headers.get("reply-to")),
        "date": date,
        "date_offset_minutes": offset,
        "subject": " ".join((_decoded(headers, "subject") or "").split()),
        "in_reply_to": parse_id_list(headers.get("in-reply-to")),
        "references": references,
        # COI 1.3: any of the three marks chat; "chat$" is matched case-sensitively.
        "is_chat": chat_version is not None
        or bool(real_id and real_id.startswith(_CHAT_ID_PREFIX))
        or bool(references and references[0].startswith(_CHAT_ID_PREFIX)),
        "chat_version": chat_version,
        "chat_headers": _chat_headers(msg),
        "content_type": _safe_content_type(msg),
        "is_auto_submitted": auto_submitted not in {"", "no"},
        "size": len(raw),
        "report_type": _report_type(msg) if _safe_content_type(msg) == "multipart/report" else "",
        "chat_content": chat_content_of(msg),
    }


def _headers_only(raw: bytes, msg: Message | None, problem: str) -> ParsedMessage:
    """Build the result for mail whose body cannot be used, keeping any readable headers."""
    fields = None
    if msg is not None:
        try:
            fields = _header_fields(raw, msg, _first_headers(msg))
        except Exception:
            fields = None
    if fields is None:
        fields = {
            "message_id": synthetic_message_id(raw),
            "has_real_message_id": False,
            "from_": None,
            "to": (),
            "cc": (),
            "reply_to": (),
            "date": None,
            "date_offset_minutes": None,
            "subject": "",
            "in_reply_to": (),
            "references": (),
            "is_chat": False,
            "chat_version": None,
            "chat_headers": {},
            "content_type": "",
            "is_auto_submitted": False,
            "size": len(raw),
        }
    return ParsedMessage(**fields, **_no_body(problem), is_mdn=False)


def _no_body(problem: str) -> dict:
    return {"text": "", "folded_text": "", "html": None, "attachments": (), "problem": problem}


def _first_headers(msg: Message) -> dict[str, str]:
    """Map lower-case header names to their first raw value (no header-object parsing)."""
    headers: dict[str, str] = {}
    for name, value in msg.raw_items():
        headers.setdefault(fix_surrogates(str(name)).strip().lower(), str(value))
    return headers


def _decoded(headers: dict[str, str], name: str) -> str | None:
    raw = headers.get(name)
    return None if raw is None else decode_header_value(raw)


def _chat_headers(msg: Message) -> dict[str, str]:
    result: dict[str, str] = {}
    seen: set[str] = set()
    for name, value in msg.raw_items():
        name = fix_surrogates(str(name)).strip()
        lower = name.lower()
        if lower in seen or not (lower.startswith("chat-") or lower in _EXTRA_CHAT_HEADERS):
            continue
        seen.add(lower)
        result[name] = decode_header_value(str(value))
    return result


def _parse_date(raw: str | None) -> tuple[datetime | None, int | None]:
    if not raw:
        return None, None
    try:
        parsed = parsedate_to_datetime(decode_header_value(raw))
        offset = parsed.utcoffset()
        if offset is None:
            # "-0000" means the sender's zone is unknown (RFC 5322 3.3); the time is UTC.
            return parsed.replace(tzinfo=UTC), None
        return parsed.astimezone(UTC), int(offset.total_seconds() // 60)
    except Exception:
        return None, None


def _safe_content_type(msg: Message) -> str:
    try:
        return content_type_of(msg)
    except Exception:
        return "text/plain"


def _report_type(msg: Message) -> str:
    try:
        return str(msg.get_param("report-type") or "").strip().lower()
    except Exception:
        return ""


def _collect_parts_leniently(
    raw: bytes, msg: Message, *, payload_index: int | None = None
) -> BodyParts:
    try:
        return collect_parts(msg, payload_index=payload_index)
    except Exception:
        return BodyParts(failures=1)


def _main_text(parts: BodyParts) -> str:
    if parts.plain and parts.plain.strip():
        if parts.plain_is_flowed:
            return decode_flowed(parts.plain, delsp=parts.plain_delsp)
        return parts.plain
    if parts.html and parts.html.strip():
        return html_to_text(parts.html)
    if parts.calendar_summary is not None:
        summary = unfold(parts.calendar_summary).strip()
        return f"Calendar invitation: {summary}" if summary else "Calendar invitation"
    return ""


def _sanitized(html: str | None) -> str | None:
    if html is None:
        return None
    try:
        return sanitize_html(html)
    except Exception:
        return None
