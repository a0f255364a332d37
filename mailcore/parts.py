"""MIME tree walking: pick the displayable body and list attachments of a parsed mail."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_string
from email.message import Message
from email.parser import HeaderParser

from mailcore.decoding import decode_bytes, decode_header_value
from mailcore.message_ids import normalize_message_id, parse_id_list

# Deeper nesting only happens in crafted mail; stop instead of walking a bomb.
MAX_DEPTH = 32

# Machine-readable parts that are neither body nor something a user wants to download.
_SKIPPED_TYPES = {
    "application/pgp-signature",
    "application/pkcs7-signature",
    "application/x-pkcs7-signature",
    "message/delivery-status",
    "message/disposition-notification",
    "message/global-delivery-status",
    "message/global-disposition-notification",
    "text/rfc822-headers",
}
_BODY_TYPES = {"text/plain", "text/html"}
# RFC 6522 machine-readable report parts whose fields the chat layer reads (MDN, DSN).
_REPORT_PART_TYPES = {
    "message/delivery-status",
    "message/disposition-notification",
    "message/global-delivery-status",
    "message/global-disposition-notification",
}
# Where a DSN returns the original message or its headers (RFC 3462, RFC 6533).
_RETURNED_HEADER_TYPES = {"text/rfc822-headers", "message/global-headers"}
_RETURNED_MESSAGE_TYPES = {"message/rfc822", "message/global"}
_SUMMARY_RE = re.compile(r"^SUMMARY(?:;[^:\r\n]*)?:(.*)$", re.MULTILINE | re.IGNORECASE)
_ICS_FOLD_RE = re.compile(r"\r?\n[ \t]")


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    size: int
    content_id: str | None
    disposition: str


@dataclass(frozen=True)
class BodyParts:
    """What the MIME walk found: raw body texts, attachments and report data."""

    plain: str | None = None
    plain_is_flowed: bool = False
    plain_delsp: bool = False
    html: str | None = None
    calendar_summary: str | None = None
    attachments: tuple[Attachment, ...] = ()
    mdn_original_ids: tuple[str, ...] = ()
    is_reaction: bool = False
    failures: int = 0
    # Chat-Content of the part that gave the body (COI allows it at part level).
    body_chat_content: str = ""
    # One dict per RFC 3464/8098 field block (per-message, then per-recipient), keys lower-case.
    report_blocks: tuple[dict[str, str], ...] = ()
    returned_message_id: str | None = None
    # Decoded bytes of attachments[payload_index], only when collect_parts was asked for them.
    payload: bytes | None = None


def collect_parts(msg: Message, *, payload_index: int | None = None) -> BodyParts:
    """Walk a parsed message and return its first plain/html bodies and its attachments."""
    collector = _Collector(payload_index=payload_index)
    for part in _leaf_parts(msg):
        try:
            collector.add(part)
        except Exception:
            # One undecodable part must not hide the rest of the message.
            collector.failures += 1
    return collector.result()


def content_type_of(part: Message) -> str:
    """Return the lower-case content type, RFC 2045 defaults included."""
    return part.get_content_type().lower()


def chat_content_of(part: Message) -> str:
    """Return a part's COI/DC ``Chat-Content`` value, lower-case and without parameters."""
    value = raw_header(part, "Chat-Content")
    return decode_header_value(value).split(";")[0].strip().lower() if value else ""


def raw_header(part: Message, name: str) -> str | None:
    """Return the first raw (undecoded) value of a header, without header-object parsing."""
    wanted = name.lower()
    for key, value in part.raw_items():
        if str(key).strip().lower() == wanted:
            return str(value)
    return None


def _leaf_parts(msg: Message) -> Iterator[Message]:
    stack = [(msg, 0)]
    while stack:
        part, depth = stack.pop()
        if content_type_of(part).startswith("multipart/") and part.is_multipart():
            if depth < MAX_DEPTH:
                stack.extend((child, depth + 1) for child in reversed(part.get_payload()))
            continue
        yield part


@dataclass
class _Collector:
    plain: str | None = None
    plain_is_flowed: bool = False
    plain_delsp: bool = False
    html: str | None = None
    calendar_summary: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    mdn_original_ids: list[str] = field(default_factory=list)
    is_reaction: bool = False
    failures: int = 0
    plain_chat_content: str = ""
    html_chat_content: str = ""
    report_blocks: list[dict[str, str]] = field(default_factory=list)
    returned_message_id: str | None = None
    payload_index: int | None = None
    payload: bytes | None = None

    def add(self, part: Message) -> None:
        content_type = content_type_of(part)
        if content_type in _SKIPPED_TYPES:
            if content_type.endswith("disposition-notification"):
                self.mdn_original_ids.extend(_mdn_ids(part))
            if content_type in _REPORT_PART_TYPES:
                self.report_blocks.extend(_report_field_blocks(part))
            if content_type in _RETURNED_HEADER_TYPES:
                self._note_returned_id(_returned_headers_id(part))
            return
        disposition = (part.get_content_disposition() or "").lower()
        filename = _filename(part)
        if content_type.startswith("multipart/"):
            content_type = "text/plain"  # a multipart without boundary: its text is all we have
        if content_type in _BODY_TYPES and disposition != "attachment" and not filename:
            self._add_body(part, content_type, disposition)
        else:
            self._add_attachment(part, content_type, disposition, filename)

    def result(self) -> BodyParts:
        return BodyParts(
            plain=self.plain,
            plain_is_flowed=self.plain_is_flowed,
            plain_delsp=self.plain_delsp,
            html=self.html,
            calendar_summary=self.calendar_summary,
            attachments=tuple(self.attachments),
            mdn_original_ids=tuple(dict.fromkeys(self.mdn_original_ids)),
            is_reaction=self.is_reaction,
            failures=self.failures,
            body_chat_content=self.plain_chat_content or self.html_chat_content,
            report_blocks=tuple(self.report_blocks),
            returned_message_id=self.returned_message_id,
            payload=self.payload,
        )

    def _note_returned_id(self, message_id: str | None) -> None:
        if self.returned_message_id is None:
            self.returned_message_id = message_id

    def _add_body(self, part: Message, content_type: str, disposition: str) -> None:
        if content_type == "text/html":
            if self.html is None:
                self.html = decode_bytes(_payload(part), _charset(part))
                self.html_chat_content = chat_content_of(part)
            return
        if self.plain is not None:
            return
        self.plain = decode_bytes(_payload(part), _charset(part))
        self.plain_chat_content = chat_content_of(part)
        self.plain_is_flowed = str(part.get_param("format") or "").lower() == "flowed"
        self.plain_delsp = str(part.get_param("delsp") or "").lower() == "yes"
        # RFC 9078: a reaction is a text part with "Content-Disposition: reaction".
        self.is_reaction = disposition == "reaction"

    def _add_attachment(
        self, part: Message, content_type: str, disposition: str, filename: str
    ) -> None:
        payload = _payload(part)
        if content_type == "text/calendar" and self.calendar_summary is None:
            self.calendar_summary = _calendar_summary(decode_bytes(payload, _charset(part)))
        if filename.lower() == "winmail.dat":
            content_type = "application/ms-tnef"
        if content_type in _RETURNED_MESSAGE_TYPES:
            self._note_returned_id(_returned_message_id(part))
        elif content_type in _RETURNED_HEADER_TYPES:
            self._note_returned_id(_returned_headers_id(part))
        if len(self.attachments) == self.payload_index:
            self.payload = payload
        self.attachments.append(
            Attachment(
                filename=filename,
                content_type=content_type,
                size=len(payload),
                content_id=normalize_message_id(raw_header(part, "Content-ID")),
                disposition=disposition if disposition in {"attachment", "inline"} else "",
            )
        )


def _payload(part: Message) -> bytes:
    if part.is_multipart():
        # message/rfc822 and friends: the size of the embedded message as sent.
        return b"".join(_message_bytes(inner) for inner in part.get_payload())
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _message_bytes(inner: object) -> bytes:
    try:
        return inner.as_bytes() if isinstance(inner, Message) else str(inner).encode()
    except Exception:
        return b""


def _charset(part: Message) -> str | None:
    try:
        return part.get_content_charset()
    except Exception:
        return None


def _filename(part: Message) -> str:
    try:
        filename = part.get_filename() or ""
    except Exception:
        return ""
    # Encoded-words in filenames break RFC 2231 but are what many mailers send.
    return decode_header_value(str(filename)) if filename else ""


def _calendar_summary(ics: str) -> str:
    match = _SUMMARY_RE.search(_ICS_FOLD_RE.sub("", ics))
    if not match:
        return ""
    summary = match.group(1).strip()
    for escaped, plain in (("\\n", " "), ("\\N", " "), ("\\,", ","), ("\\;", ";"), ("\\\\", "\\")):
        summary = summary.replace(escaped, plain)
    return summary


def _mdn_ids(part: Message) -> list[str]:
    ids: list[str] = []
    for block in _report_blocks(part):
        original = normalize_message_id(raw_header(block, "Original-Message-ID"))
        if original:
            ids.append(original)
        ids.extend(parse_id_list(raw_header(block, "Additional-Message-IDs")))
    return ids


def _report_blocks(part: Message) -> list[Message]:
    payload = part.get_payload()
    blocks = payload if isinstance(payload, list) else [message_from_string(str(payload))]
    return [block for block in blocks if isinstance(block, Message)]


def _report_field_blocks(part: Message) -> list[dict[str, str]]:
    result = []
    for block in _report_blocks(part):
        fields: dict[str, str] = {}
        for name, value in block.raw_items():
            fields.setdefault(str(name).strip().lower(), decode_header_value(str(value)))
        if fields:
            result.append(fields)
    return result


def _returned_headers_id(part: Message) -> str | None:
    try:
        payload = part.get_payload(decode=True)
        text = decode_bytes(payload) if isinstance(payload, bytes) else str(part.get_payload())
        headers = HeaderParser().parsestr(text, headersonly=True)
        return normalize_message_id(raw_header(headers, "Message-ID"))
    except Exception:
        return None  # the returned headers are a hint; the report itself still counts


def _returned_message_id(part: Message) -> str | None:
    try:
        payload = part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            return normalize_message_id(raw_header(payload[0], "Message-ID"))
    except Exception:
        pass
    return None
