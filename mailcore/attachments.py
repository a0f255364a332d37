"""Files in chat messages: sending them as DC does, voice notes, and serving them from raw mail."""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from mailcore.compose import OutgoingMessage, compose_email
from mailcore.parse import ParsedMessage, attachment_payload

__all__ = [
    "OutgoingFile",
    "attachment_bytes",
    "build_message_with_attachments",
    "build_voice_message",
    "guess_content_type",
    "is_voice_message",
    "media_duration_ms",
    "voice_message_headers",
]

_DEFAULT_TYPE = "application/octet-stream"
# RFC 6838 4.2 restricted-name; anything else (parameters, line breaks) is not a type.
_TYPE_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")


@dataclass(frozen=True)
class OutgoingFile:
    filename: str
    content_type: str
    data: bytes


def guess_content_type(filename: str) -> str:
    """Return the MIME type a file name suggests, ``application/octet-stream`` when unknown."""
    return mimetypes.guess_type(filename, strict=False)[0] or _DEFAULT_TYPE


def build_message_with_attachments(msg: OutgoingMessage, files: Sequence[OutgoingFile]) -> bytes:
    """Build ``msg`` as multipart/mixed: its text part first, then each file as an attachment."""
    if not files:
        raise ValueError("no files to attach; use compose.build_message")
    mail = compose_email(msg)
    for file in files:
        filename = " ".join(file.filename.replace("/", " ").replace("\\", " ").split())
        if not filename:
            raise ValueError("an attachment needs a file name")
        maintype, subtype = _content_type(file.content_type or guess_content_type(filename))
        # DC always sends a text part first and names every file: it drops unnamed images,
        # audio and video (3.2, 3.11). The email package writes non-ASCII names per RFC 2231.
        mail.add_attachment(
            file.data,
            maintype=maintype,
            subtype=subtype,
            filename=filename,
            cte="base64",
        )
    for part in mail.iter_parts():
        # add_attachment builds EmailMessage parts, which repeat MIME-Version inside the body.
        del part["MIME-Version"]
    return mail.as_bytes()


def _content_type(value: str) -> tuple[str, str]:
    maintype, _, subtype = value.strip().lower().partition("/")
    # RFC 2046 5.1, 5.2: composite types may not be base64, so a file is never one.
    if maintype in {"message", "multipart"} or not all(
        _TYPE_NAME_RE.match(name) for name in (maintype, subtype)
    ):
        maintype, _, subtype = _DEFAULT_TYPE.partition("/")
    return maintype, subtype


def voice_message_headers(duration_ms: int | None) -> tuple[tuple[str, str], ...]:
    """Return DC's voice-note headers (``Chat-Voice-Message: 1`` and ``Chat-Duration``)."""
    headers = [("Chat-Voice-Message", "1")]
    if duration_ms is not None and duration_ms > 0:
        headers.append(("Chat-Duration", str(int(duration_ms))))
    return tuple(headers)


def build_voice_message(
    msg: OutgoingMessage, audio: OutgoingFile, *, duration_ms: int | None
) -> bytes:
    """Build a DC voice note: ``msg`` with the audio attached and the voice headers set."""
    if not audio.content_type.lower().startswith("audio/"):
        raise ValueError(f"a voice message is audio, not {audio.content_type!r}")
    headers = msg.extra_headers + voice_message_headers(duration_ms)
    return build_message_with_attachments(replace(msg, extra_headers=headers), (audio,))


def is_voice_message(parsed: ParsedMessage) -> bool:
    """Return whether DC marked the message as a voice note."""
    return (parsed.chat_header("Chat-Voice-Message") or "").strip() == "1"


def media_duration_ms(parsed: ParsedMessage) -> int | None:
    """Return DC's ``Chat-Duration`` in milliseconds, or None when absent or garbage."""
    value = (parsed.chat_header("Chat-Duration") or "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def attachment_bytes(raw: bytes, index: int) -> bytes:
    """Return the decoded content of ``parse_message(raw).attachments[index]``; IndexError if none."""
    payload = attachment_payload(raw, index)
    if payload is None:
        raise IndexError(f"the message has no attachment number {index}")
    return payload
