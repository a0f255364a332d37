"""Build our outgoing chat messages as RFC 5322 bytes (COI / Delta Chat compatible)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

from mailcore.addresses import Address, format_address
from mailcore.text import reply_subject

CHAT_VERSION = "1.0"
# RFC 5322 2.1.1: 998 octets per line, not counting CRLF.
MAX_LINE_OCTETS = 998

# Headers build_message owns, plus the two COI/DC tell us never to send.
_RESERVED_HEADERS = {
    "from", "to", "cc", "bcc", "date", "message-id", "subject", "in-reply-to", "references",
    "mime-version", "chat-version", "content-type", "content-transfer-encoding",
    "content-disposition", "sender", "disposition-notification-to",
}  # fmt: skip
_HEADER_NAME_RE = re.compile(r"^[!-9;-~]+$")
_LINE_BREAK_RE = re.compile(r"\s*[\r\n]+\s*")


@dataclass(frozen=True)
class OutgoingMessage:
    from_: Address
    to: tuple[Address, ...]
    message_id: str
    date: datetime
    subject: str
    text: str
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    extra_headers: tuple[tuple[str, str], ...] = ()


def build_message(msg: OutgoingMessage) -> bytes:
    """Render an OutgoingMessage as CRLF-terminated bytes ready for SMTP and IMAP APPEND."""
    return compose_email(msg).as_bytes()


def compose_email(msg: OutgoingMessage) -> EmailMessage:
    """Build an OutgoingMessage as an EmailMessage (SMTP policy) for further parts or wrapping."""
    if not msg.to:
        raise ValueError("an outgoing message needs at least one recipient")
    if msg.date.utcoffset() is None:
        raise ValueError("the Date must be timezone-aware")
    mail = EmailMessage(policy=policy.SMTP)
    mail["Chat-Version"] = CHAT_VERSION
    mail["From"] = format_address(msg.from_.name, msg.from_.addr)
    mail["To"] = ", ".join(format_address(a.name, a.addr) for a in msg.to)
    mail["Date"] = format_datetime(msg.date)
    mail["Message-ID"] = msg.message_id
    if msg.in_reply_to:
        mail["In-Reply-To"] = msg.in_reply_to
    if msg.references:
        mail["References"] = " ".join(msg.references)
    if subject := _single_line(msg.subject):
        mail["Subject"] = subject
    for name, value in msg.extra_headers:
        mail[_checked_header_name(name)] = _single_line(value)
    text = msg.text.replace("\r\n", "\n").replace("\r", "\n")
    mail.set_content(text, subtype="plain", charset="utf-8", cte=_transfer_encoding(text))
    return mail


def default_subject(*, sender_name: str, last_subject: str | None) -> str:
    """Return Delta Chat's subject: ``Re: <last subject>`` in a thread, else ``Message from <name>``."""
    if last_subject and reply_subject(last_subject) != "Re:":
        return reply_subject(last_subject)
    return f"Message from {_single_line(sender_name)}".strip()


def quote_block(quoted_text: str) -> str:
    """Render text as Delta Chat's reply quote: every line prefixed ``> `` (``>`` when empty)."""
    lines = quoted_text.replace("\r\n", "\n").replace("\r", "\n").strip("\n").split("\n")
    # DC's format_flowed_quote trims line ends, so an empty quoted line becomes a bare ">".
    return "\n".join(f"> {line}".rstrip() for line in lines)


def with_quote(text: str, quoted_text: str | None) -> str:
    """Return ``text`` preceded by a DC quote block of ``quoted_text`` and a blank line."""
    if not quoted_text or not quoted_text.strip():
        return text
    return f"{quote_block(quoted_text)}\n\n{text}"


def _transfer_encoding(text: str) -> str:
    # 7bit keeps the body readable as-is; anything else goes quoted-printable (as Delta Chat
    # does) rather than 8bit, so servers without 8BITMIME and IMAP APPEND never see raw
    # 8-bit bytes, and over-long lines get soft breaks instead of breaking the message.
    if text.isascii() and all(len(line) <= MAX_LINE_OCTETS for line in text.split("\n")):
        return "7bit"
    return "quoted-printable"


def _single_line(value: str) -> str:
    # A line break in a header value would let the text inject headers of its own.
    return _LINE_BREAK_RE.sub(" ", value).strip()


def _checked_header_name(name: str) -> str:
    if not _HEADER_NAME_RE.match(name) or name.lower() in _RESERVED_HEADERS:
        raise ValueError(f"header not allowed in extra_headers: {name!r}")
    return name
