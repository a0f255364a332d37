"""Edits and deletes of earlier messages: DC ``Chat-Edit``/``Chat-Delete``, COI edit/deleterequest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mailcore.addresses import Address
from mailcore.compose import OutgoingMessage, compose_email, with_quote
from mailcore.message_ids import normalize_message_id
from mailcore.parse import ParsedMessage, split_quote

__all__ = [
    "EDITED_PREFIX",
    "Delete",
    "Edit",
    "build_delete",
    "build_edit",
    "parse_delete",
    "parse_edit",
]

# DC prefixes edited text with this so plain mail clients see it is an edit (constants.rs).
EDITED_PREFIX = "✏️"
# DC sends any non-empty body with a delete request; this is the one it uses (message.rs).
DELETE_BODY = "🚮"
_PENCIL = "✏"  # EDITED_PREFIX without its variation selector, as some keyboards send it


@dataclass(frozen=True)
class Edit:
    """New text for an earlier message; the chat layer must check ``sender`` wrote the target."""

    target_message_id: str
    text: str
    sender: str | None


@dataclass(frozen=True)
class Delete:
    """A delete-for-everyone; the chat layer must check ``sender`` wrote each target."""

    target_message_ids: tuple[str, ...]
    sender: str | None


def parse_edit(parsed: ParsedMessage) -> Edit | None:
    """Return the edit a message requests (DC ``Chat-Edit`` or COI ``editrequest``), else None."""
    dc_target = normalize_message_id(parsed.chat_header("Chat-Edit"))
    if dc_target:
        # DC sends "> original\n\n✏️new text"; the quote and pencil are for plain clients.
        text = _strip_pencil(split_quote(parsed.text)[1])
        target = dc_target
    elif parsed.chat_content == "editrequest" and parsed.in_reply_to:
        # COI 1.9: the body is the new text; successive edits point at the previous edit.
        text = parsed.text.strip()
        target = parsed.in_reply_to[0]
    else:
        return None
    if not text:
        return None  # COI: an empty edit is a delete (parse_delete); DC never sends one
    return Edit(target_message_id=target, text=text, sender=_sender(parsed))


def parse_delete(parsed: ParsedMessage) -> Delete | None:
    """Return the delete a message requests (DC ``Chat-Delete``, COI deleterequest/empty edit)."""
    if value := parsed.chat_header("Chat-Delete"):
        targets = _dc_id_list(value)
    elif _is_coi_delete(parsed):
        targets = parsed.in_reply_to[:1]
    else:
        return None
    if not targets:
        return None
    return Delete(target_message_ids=targets, sender=_sender(parsed))


def build_edit(
    from_: Address,
    to: tuple[Address, ...],
    target_message_id: str,
    new_text: str,
    *,
    message_id: str,
    date: datetime,
    references: tuple[str, ...] = (),
    subject: str = "",
    quoted_text: str | None = None,
    extra_headers: tuple[tuple[str, str], ...] = (),
) -> bytes:
    """Build DC's edit request: ``Chat-Edit`` and ``In-Reply-To`` = target, body "✏️new text"."""
    target = _checked_id(target_message_id)
    if not new_text.strip():
        raise ValueError("an edit needs new text; send a delete instead")
    mail = compose_email(
        OutgoingMessage(
            from_=from_,
            to=to,
            message_id=message_id,
            date=date,
            subject=subject,
            text=with_quote(EDITED_PREFIX + new_text.strip(), quoted_text),
            in_reply_to=target,
            references=references,
            extra_headers=(("Chat-Edit", target), *extra_headers),
        )
    )
    return mail.as_bytes()


def build_delete(
    from_: Address,
    to: tuple[Address, ...],
    target_message_ids: tuple[str, ...],
    *,
    message_id: str,
    date: datetime,
    references: tuple[str, ...] = (),
    subject: str = "",
    extra_headers: tuple[tuple[str, str], ...] = (),
) -> bytes:
    """Build DC's delete-for-everyone: ``Chat-Delete`` listing the targets, In-Reply-To the first."""
    targets = tuple(dict.fromkeys(_checked_id(target) for target in target_message_ids))
    if not targets:
        raise ValueError("a delete needs at least one target Message-ID")
    mail = compose_email(
        OutgoingMessage(
            from_=from_,
            to=to,
            message_id=message_id,
            date=date,
            subject=subject,
            text=DELETE_BODY,
            in_reply_to=targets[0],
            references=references,
            extra_headers=(("Chat-Delete", " ".join(targets)), *extra_headers),
        )
    )
    return mail.as_bytes()


def _is_coi_delete(parsed: ParsedMessage) -> bool:
    if not parsed.in_reply_to or parsed.chat_header("Chat-Edit"):
        return False
    if parsed.chat_content == "deleterequest":
        return True
    return parsed.chat_content == "editrequest" and not parsed.text.strip()


def _dc_id_list(value: str) -> tuple[str, ...]:
    # DC renders several ids as one bracketed list, "<a@x b@y>", and its receiver splits on
    # whitespace and trims the brackets; accept that as well as the standard "<a@x> <b@y>".
    ids = (token.strip("<>") for token in value.replace(",", " ").split())
    return tuple(dict.fromkeys(f"<{inner}>" for inner in ids if inner))


def _strip_pencil(text: str) -> str:
    text = text.strip()
    for prefix in (EDITED_PREFIX, _PENCIL):
        if text.startswith(prefix):
            return text[len(prefix) :].strip()
    return text


def _sender(parsed: ParsedMessage) -> str | None:
    return parsed.from_.addr if parsed.from_ else None


def _checked_id(message_id: str) -> str:
    normalized = normalize_message_id(message_id)
    if normalized is None:
        raise ValueError(f"not a Message-ID: {message_id!r}")
    return normalized
