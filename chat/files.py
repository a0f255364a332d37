"""Files in messages: recording what a mail carries, and getting a file's bytes."""

from __future__ import annotations

from django.conf import settings

from accounts.connections import imap_session
from chat.models import Attachment, Message
from mailcore import imap
from mailcore.attachments import attachment_bytes, is_voice_message, media_duration_ms
from mailcore.errors import MailError
from mailcore.parse import ParsedMessage


class FileUnavailable(Exception):
    """The file's message is gone from the server, or the server cannot be reached."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


def record(message: Message, parsed: ParsedMessage) -> None:
    """Store what files a mail has (names, types, sizes), not their bytes."""
    Attachment.objects.bulk_create(rows(message.pk, parsed), ignore_conflicts=True)


def rows(message_pk: int, parsed: ParsedMessage) -> list[Attachment]:
    """The unsaved Attachment rows for the files of `parsed` (see `record`)."""
    if not parsed.attachments:
        return []
    voice = is_voice_message(parsed)
    duration = media_duration_ms(parsed)
    return [
        Attachment(
            message_id=message_pk,
            index=index,
            filename=(part.filename or f"file-{index + 1}")[:255],
            content_type=(part.content_type or "application/octet-stream")[:127],
            size=part.size,
            is_voice=voice and part.content_type.startswith("audio/"),
            duration_ms=duration,
        )
        for index, part in enumerate(parsed.attachments)
    ]


def content(attachment: Attachment) -> bytes:
    """The file's bytes: kept ones, from our own raw mail, or fetched from the server once."""
    if attachment.data is not None:
        return bytes(attachment.data)
    message = attachment.message
    raw = bytes(message.raw_outgoing) if message.raw_outgoing else _fetch_raw(message)
    try:
        data = attachment_bytes(raw, attachment.index)
    except IndexError:
        raise FileUnavailable("This file is no longer in the message on the server.") from None
    if len(data) <= settings.COIWEB_KEEP_FILES_UP_TO:
        Attachment.objects.filter(pk=attachment.pk).update(data=data)
    return data


def _fetch_raw(message: Message) -> bytes:
    copy = message.copies.first()
    if copy is None:
        raise FileUnavailable("This message is no longer on the mail server.")
    try:
        with imap_session(message.account) as client:
            raw = imap.fetch_whole(client, copy.folder, copy.uid)
    except MailError as exc:
        raise FileUnavailable(exc.user_message) from None
    if raw is None:
        raise FileUnavailable("This message is no longer on the mail server.")
    return raw
