"""Delivery reports: read receipts (RFC 8098 MDNs, as DC and COI send them) and bounces (RFC 3464)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email.message import Message, MIMEPart

from mailcore.addresses import Address, normalize_address, parse_address_list
from mailcore.classify import is_bounce
from mailcore.compose import OutgoingMessage, compose_email
from mailcore.message_ids import normalize_message_id, parse_id_list
from mailcore.parse import ParsedMessage, parse_message

__all__ = [
    "Bounce",
    "BouncedRecipient",
    "Receipt",
    "build_receipt",
    "parse_bounce",
    "parse_receipt",
    "receipt_request_header",
    "receipt_requested",
]

RECEIPT_SUBJECT = "Receipt Notification"
RECEIPT_TEXT = "This is a receipt notification."
REPORTING_UA = "coiweb"
# COI 1.8 asks for "MDN-sent-manually"; DC sends "-automatically". Receivers read neither.
DISPOSITION = "manual-action/MDN-sent-manually; displayed"
# DC asks with its own header; COI with the standard one (coi-protocol 4: accept both).
_REQUEST_HEADERS = ("Chat-Disposition-Notification-To", "Disposition-Notification-To")
_MESSAGE_ID_LINE_RE = re.compile(r"^\s*Message-ID:\s*(<[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Receipt:
    """A read receipt: which of our messages ``sender`` has seen (``disposition``, e.g. displayed)."""

    original_message_id: str | None
    additional_message_ids: tuple[str, ...]
    disposition: str
    final_recipient: str | None
    sender: str | None

    @property
    def message_ids(self) -> tuple[str, ...]:
        """Every acknowledged Message-ID, the original first (DC acknowledges several at once)."""
        first = (self.original_message_id,) if self.original_message_id else ()
        return tuple(dict.fromkeys((*first, *self.additional_message_ids)))


@dataclass(frozen=True)
class BouncedRecipient:
    address: str
    action: str
    status: str
    diagnostic: str


@dataclass(frozen=True)
class Bounce:
    """A delivery report about ``original_message_id`` (None when the report does not say)."""

    original_message_id: str | None
    recipients: tuple[BouncedRecipient, ...]
    text: str

    @property
    def failed(self) -> bool:
        """Whether delivery failed for good (not just delayed); bounces without fields count."""
        if not self.recipients:
            return True
        return any(recipient.action == "failed" for recipient in self.recipients)


def parse_receipt(source: bytes | ParsedMessage) -> Receipt | None:
    """Return the MDN a message is, or None when it is none or acknowledges no message."""
    parsed = source if isinstance(source, ParsedMessage) else parse_message(source)
    if parsed.report_type != "disposition-notification":
        return None
    fields = next((block for block in parsed.report_blocks if "disposition" in block), None)
    if fields is None:
        return None  # RFC 8098 3.2.6: Disposition is required; DC ignores reports without
    # MS Exchange leaves Original-Message-ID out and puts the id into In-Reply-To (DC's parser).
    original = normalize_message_id(fields.get("original-message-id")) or next(
        iter(parsed.in_reply_to), None
    )
    additional = tuple(
        mid for mid in parse_id_list(fields.get("additional-message-ids")) if mid != original
    )
    if original is None and not additional:
        return None
    return Receipt(
        original_message_id=original,
        additional_message_ids=additional,
        disposition=_disposition_type(fields["disposition"]),
        final_recipient=_typed_address(fields.get("final-recipient")),
        sender=parsed.from_.addr if parsed.from_ else None,
    )


def build_receipt(
    from_: Address,
    to: Address,
    original_message_id: str,
    *,
    additional: tuple[str, ...] = (),
    message_id: str,
    date: datetime,
) -> bytes:
    """Build an RFC 8098 "displayed" MDN for one or more messages; the original is not attached."""
    original = _checked_id(original_message_id)
    extra_ids = tuple(dict.fromkeys(_checked_id(mid) for mid in additional if mid))
    extra_ids = tuple(mid for mid in extra_ids if mid != original)
    mail = compose_email(
        OutgoingMessage(
            from_=from_,
            to=(to,),
            message_id=message_id,
            date=date,
            subject=RECEIPT_SUBJECT,
            text=RECEIPT_TEXT,
            extra_headers=(("Auto-Submitted", "auto-replied"),),
        )
    )
    mail.make_mixed()
    mail.set_type("multipart/report")
    mail.set_param("report-type", "disposition-notification")
    mail.attach(_notification_part(from_.addr, original, extra_ids))
    return mail.as_bytes()


def receipt_requested(parsed: ParsedMessage, own_address: str) -> str | None:
    """Return where a read receipt for ``parsed`` should go, or None when none may be sent."""
    if parsed.report_type or parsed.is_mdn or parsed.from_ is None:
        return None  # RFC 8098 2.1: never answer a report with a report
    sender = parsed.from_.addr
    if sender == normalize_address(own_address):
        return None
    for name in _REQUEST_HEADERS:
        requested = parse_address_list(parsed.chat_header(name))
        # COI 1.4, DC 3.8: honoured only when it asks for a receipt to the sender itself.
        if len(requested) == 1 and requested[0].addr == sender:
            return sender
    return None


def receipt_request_header(own_address: str) -> tuple[str, str]:
    """Return the header that asks for a read receipt, for compose's ``extra_headers``."""
    # DC's header, not the standard one, which makes plain mail clients prompt (coi-protocol 4).
    return ("Chat-Disposition-Notification-To", normalize_address(own_address))


def parse_bounce(source: bytes | ParsedMessage) -> Bounce | None:
    """Return the delivery report a message is (RFC 3464 DSN or a mailer-daemon's text), or None."""
    parsed = source if isinstance(source, ParsedMessage) else parse_message(source)
    if not is_bounce(parsed):
        return None
    recipients = tuple(
        BouncedRecipient(
            address=_typed_address(block.get("final-recipient")) or "",
            action=block.get("action", "").strip().lower(),
            status=next(iter(block.get("status", "").split()), ""),
            diagnostic=block.get("diagnostic-code", "").partition(";")[2].strip(),
        )
        for block in parsed.report_blocks
        if "final-recipient" in block or "action" in block
    )
    original = parsed.returned_message_id or _message_id_in_text(
        f"{parsed.text}\n{parsed.folded_text}"
    )
    return Bounce(original_message_id=original, recipients=recipients, text=parsed.text)


def _notification_part(reporter: str, original: str, additional: tuple[str, ...]) -> MIMEPart:
    # The fields are a header block (RFC 8098 3.1); as a Message the generator folds long
    # Additional-Message-IDs and writes the message's own line endings.
    fields = Message()
    fields["Reporting-UA"] = REPORTING_UA
    fields["Original-Recipient"] = f"rfc822;{reporter}"
    fields["Final-Recipient"] = f"rfc822;{reporter}"
    fields["Original-Message-ID"] = original
    fields["Disposition"] = DISPOSITION
    if additional:
        fields["Additional-Message-IDs"] = " ".join(additional)
    part = MIMEPart()
    part["Content-Type"] = "message/disposition-notification"
    part.set_payload([fields])
    return part


def _disposition_type(value: str) -> str:
    # "manual-action/MDN-sent-manually; displayed/error" -> "displayed"
    return value.rpartition(";")[2].split("/")[0].strip().lower()


def _typed_address(value: str | None) -> str | None:
    # RFC 3464/8098 recipient fields are "address-type;address", e.g. "rfc822;bob@example.org".
    if not value:
        return None
    address = normalize_address(value.partition(";")[2] or value)
    return address or None


def _message_id_in_text(text: str) -> str | None:
    # DC's heuristic for bounces that are not DSNs: a quoted "Message-ID:" line of the original.
    match = _MESSAGE_ID_LINE_RE.search(text)
    return normalize_message_id(match.group(1)) if match else None


def _checked_id(message_id: str) -> str:
    normalized = normalize_message_id(message_id)
    if normalized is None:
        raise ValueError(f"not a Message-ID: {message_id!r}")
    return normalized
