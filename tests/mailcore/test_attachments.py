from __future__ import annotations

import base64
import email
import email.policy
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailcore.addresses import Address
from mailcore.attachments import (
    OutgoingFile,
    attachment_bytes,
    build_message_with_attachments,
    build_voice_message,
    guess_content_type,
    is_voice_message,
    media_duration_ms,
    voice_message_headers,
)
from mailcore.classify import Kind, classify
from mailcore.compose import OutgoingMessage
from mailcore.parse import Attachment, ParsedMessage, parse_message

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "mail"
ALL_FIXTURES = sorted(FIXTURES.glob("*.eml"))
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
MESSAGE = OutgoingMessage(
    from_=Address("Bob", "bob@example.org"),
    to=(Address("Carol", "carol@example.org"),),
    message_id="<chat$img1@example.org>",
    date=datetime(2026, 11, 23, 16, 11, 37, tzinfo=UTC),
    subject="Message from Bob",
    text="The whiteboard from this morning",
)


def load(name: str) -> ParsedMessage:
    return parse_message((FIXTURES / name).read_bytes())


# --- receiving -------------------------------------------------------------------------


def test_delta_chat_image_is_a_caption_and_a_named_png():
    parsed = load("delta-chat-image.eml")
    assert classify(parsed) is Kind.MESSAGE
    assert parsed.text == "The whiteboard from this morning"
    assert parsed.attachments == (
        Attachment("whiteboard.png", "image/png", len(PNG), None, "attachment"),
    )
    assert not is_voice_message(parsed)
    assert attachment_bytes((FIXTURES / "delta-chat-image.eml").read_bytes(), 0) == PNG


def test_delta_chat_voice_message_has_its_flag_and_duration():
    parsed = load("delta-chat-voice.eml")
    assert is_voice_message(parsed)
    assert media_duration_ms(parsed) == 3480
    assert parsed.text == ""
    (audio,) = parsed.attachments
    assert audio.content_type == "audio/aac"
    assert audio.filename == "voice-messsage_2026-11-23_16-11-42.aac"
    raw = (FIXTURES / "delta-chat-voice.eml").read_bytes()
    assert attachment_bytes(raw, 0)[:2] == b"\xff\xf1"  # an ADTS frame header


@pytest.mark.parametrize("path", ALL_FIXTURES, ids=lambda path: path.name)
def test_attachment_bytes_match_every_listed_attachment(path):
    raw = path.read_bytes()
    parsed = parse_message(raw)
    for index, attachment in enumerate(parsed.attachments):
        assert len(attachment_bytes(raw, index)) == attachment.size, attachment
    with pytest.raises(IndexError):
        attachment_bytes(raw, len(parsed.attachments))


def test_attachment_bytes_picks_the_right_part_of_several():
    raw = (FIXTURES / "nested-multipart.eml").read_bytes()
    assert attachment_bytes(raw, 1).startswith(b"%PDF")
    with pytest.raises(IndexError):
        attachment_bytes(raw, -1)


@pytest.mark.parametrize("value", ["", "0", "abc", "-5", " 12.5"])
def test_missing_or_garbage_duration_is_none(value):
    raw = (
        (FIXTURES / "delta-chat-voice.eml")
        .read_bytes()
        .replace(b"Chat-Duration: 3480", b"Chat-Duration: " + value.encode())
    )
    assert media_duration_ms(parse_message(raw)) is None


# --- sending ---------------------------------------------------------------------------


def test_attachments_follow_the_text_part_as_named_base64_files():
    raw = build_message_with_attachments(
        MESSAGE,
        (
            OutgoingFile("whiteboard.png", "image/png", PNG),
            OutgoingFile("notes.pdf", "application/pdf", b"%PDF-1.4 tiny"),
        ),
    )
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    assert mail.get_content_type() == "multipart/mixed"
    text, image, pdf = mail.get_payload()
    assert text.get_content_type() == "text/plain"
    assert text.get_content().strip() == "The whiteboard from this morning"
    for part, name in ((image, "whiteboard.png"), (pdf, "notes.pdf")):
        assert part.get_content_disposition() == "attachment"
        assert part.get_filename() == name
        assert part["Content-Transfer-Encoding"] == "base64"
        assert "MIME-Version" not in part
    assert mail["Chat-Version"] == "1.0"
    assert b"\n" not in raw.replace(b"\r\n", b"")


def test_sent_attachments_round_trip_through_parse():
    files = (
        OutgoingFile("whiteboard.png", "image/png", PNG),
        OutgoingFile("data.bin", "application/octet-stream", bytes(range(256)) * 40),
    )
    raw = build_message_with_attachments(MESSAGE, files)
    parsed = parse_message(raw)
    assert parsed.text == MESSAGE.text
    assert [(a.filename, a.content_type, a.size) for a in parsed.attachments] == [
        (f.filename, f.content_type, len(f.data)) for f in files
    ]
    assert [attachment_bytes(raw, i) for i in range(2)] == [f.data for f in files]


def test_non_ascii_file_names_use_rfc2231_and_survive():
    name = "Grüße aus dem Büro – ein sehr langer Dateiname für den Zeilenumbruch.png"
    raw = build_message_with_attachments(MESSAGE, (OutgoingFile(name, "image/png", PNG),))
    head_and_parts = raw.replace(PNG, b"")
    assert head_and_parts.isascii()
    assert b"filename*" in raw and b"utf-8''" in raw
    assert parse_message(raw).attachments[0].filename == name
    part = next(email.message_from_bytes(raw, policy=email.policy.default).iter_attachments())
    assert part.get_filename() == name


def test_file_names_lose_directories_and_need_a_name():
    raw = build_message_with_attachments(
        MESSAGE, (OutgoingFile("../../etc/x.txt", "text/plain", b"x"),)
    )
    assert parse_message(raw).attachments[0].filename == ".. .. etc x.txt"
    with pytest.raises(ValueError):
        build_message_with_attachments(MESSAGE, (OutgoingFile(" ", "text/plain", b"x"),))
    with pytest.raises(ValueError):
        build_message_with_attachments(MESSAGE, ())


def test_missing_or_broken_content_type_is_guessed_or_octet_stream():
    raw = build_message_with_attachments(
        MESSAGE,
        (
            OutgoingFile("photo.jpg", "", b"\xff\xd8"),
            OutgoingFile("blob", "nonsense", b"x"),
            OutgoingFile("evil", "image/png\r\nBcc: victim@example.org", b"x"),
            OutgoingFile("upper.GIF", " Image/GIF ", b"GIF89a"),
        ),
    )
    assert [a.content_type for a in parse_message(raw).attachments] == [
        "image/jpeg",
        "application/octet-stream",
        "application/octet-stream",
        "image/gif",
    ]
    assert b"Bcc" not in raw


def test_composite_types_are_sent_as_octet_streams_with_crlf_lines():
    eml = b"From: x@example.org\r\nSubject: forwarded\r\n\r\nHi\r\n"
    raw = build_message_with_attachments(
        MESSAGE,
        (
            OutgoingFile("forwarded.eml", "message/rfc822", eml),
            OutgoingFile("parts.bin", "multipart/mixed", b"x"),
        ),
    )
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert [a.content_type for a in parse_message(raw).attachments] == [
        "application/octet-stream",
        "application/octet-stream",
    ]
    assert attachment_bytes(raw, 0) == eml


def test_voice_message_carries_delta_chats_headers():
    raw = build_voice_message(
        OutgoingMessage(**{**MESSAGE.__dict__, "text": ""}),
        OutgoingFile("voice-message.opus", "audio/ogg", b"OggS" * 8),
        duration_ms=3480,
    )
    parsed = parse_message(raw)
    assert is_voice_message(parsed)
    assert media_duration_ms(parsed) == 3480
    assert parsed.attachments[0].content_type == "audio/ogg"
    assert classify(parsed) is Kind.MESSAGE


def test_voice_headers_leave_out_an_unknown_duration():
    assert voice_message_headers(None) == (("Chat-Voice-Message", "1"),)
    assert voice_message_headers(0) == (("Chat-Voice-Message", "1"),)
    assert voice_message_headers(1500) == (("Chat-Voice-Message", "1"), ("Chat-Duration", "1500"))


def test_voice_message_must_be_audio():
    with pytest.raises(ValueError):
        build_voice_message(MESSAGE, OutgoingFile("x.png", "image/png", PNG), duration_ms=1)


def test_content_type_is_guessed_from_the_file_name():
    assert guess_content_type("a.PNG") == "image/png"
    assert guess_content_type("noext") == "application/octet-stream"
