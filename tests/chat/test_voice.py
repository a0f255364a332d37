"""Voice messages: Delta Chat's arrive as a playable recording with its length; an audio
file from the composer can go as one (Chat-Voice-Message, Chat-Duration when known)."""

from __future__ import annotations

import email
import smtplib
import time
from email import policy
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from chat import delivery, services, sync
from chat.models import Attachment, Message
from mailcore.attachments import is_voice_message, media_duration_ms
from mailcore.parse import parse_message
from tests.mailserver import add_mail_user, fetch_raw_by_message_id, mail_server

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "mail"
AUDIO = b"\xff\xf1\x50\x80\x02\x1f\xfc" * 40  # ADTS frame headers: enough to be "audio/aac"


def _client(person) -> Client:
    client = Client()
    client.force_login(person.user)
    return client


def _chat(alice, bob):
    return services.start_chat(user=alice.user, account=alice.account, address=bob.email)


def _sent(person, bob, chat_pk: int, data: dict) -> tuple[Message, bytes]:
    response = _client(person).post(f"/chats/{chat_pk}/send/", data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200, response.content
    delivery.deliver_outbox(person.account.pk)
    message = Message.objects.get(account=person.account, is_control=False)
    assert message.state == Message.State.SENT
    [raw] = fetch_raw_by_message_id(bob, "INBOX", message.message_id)
    return message, raw


def test_an_audio_file_sent_as_voice_message_carries_dcs_headers_and_duration(make_person):
    alice = make_person("alice")
    bob = add_mail_user("bob")
    chat = _chat(alice, bob)
    upload = SimpleUploadedFile("note.aac", AUDIO, content_type="audio/aac")

    message, raw = _sent(
        alice, bob, chat.pk, {"text": "", "files": upload, "voice": "1", "duration_ms": "3480"}
    )

    parsed = parse_message(raw)
    assert is_voice_message(parsed) and media_duration_ms(parsed) == 3480
    [part] = parsed.attachments
    assert (part.filename, part.content_type) == ("note.aac", "audio/aac")
    [audio] = email.message_from_bytes(raw, policy=policy.default).iter_attachments()
    assert audio.get_content_disposition() == "attachment"
    [file] = message.attachments.all()
    assert file.is_voice and file.duration_ms == 3480
    page = _client(alice).get(f"/chats/{chat.pk}/").content.decode()
    assert "Voice message · 0:03" in page and "<audio controls" in page


def test_a_voice_message_of_unknown_length_has_no_duration_header(make_person):
    alice = make_person("alice")
    bob = add_mail_user("bob")
    chat = _chat(alice, bob)
    upload = SimpleUploadedFile("note.ogg", AUDIO, content_type="audio/ogg")

    _message, raw = _sent(alice, bob, chat.pk, {"text": "", "files": upload, "voice": "1"})

    mail = email.message_from_bytes(raw, policy=policy.default)
    assert mail["Chat-Voice-Message"] == "1" and mail["Chat-Duration"] is None


def test_an_audio_file_without_the_voice_box_is_an_ordinary_file(make_person):
    alice = make_person("alice")
    bob = add_mail_user("bob")
    chat = _chat(alice, bob)
    upload = SimpleUploadedFile("song.mp3", AUDIO, content_type="audio/mpeg")

    message, raw = _sent(alice, bob, chat.pk, {"text": "Listen", "files": upload})

    assert not is_voice_message(parse_message(raw))
    assert not message.attachments.get().is_voice


def test_only_one_audio_file_can_be_a_voice_message_and_nothing_is_sent_otherwise(make_person):
    alice = make_person("alice")
    bob = add_mail_user("bob")
    chat = _chat(alice, bob)
    upload = SimpleUploadedFile("photo.png", b"\x89PNG\r\n", content_type="image/png")

    response = _client(alice).post(
        f"/chats/{chat.pk}/send/", {"files": upload, "voice": "1"}, HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 422
    assert "A voice message is one audio file." in response.content.decode()
    assert not Message.objects.filter(account=alice.account).exists()
    assert not Attachment.objects.exists()


def test_a_delta_chat_voice_message_shows_as_a_recording_with_its_length(make_person):
    alice = make_person("alice")
    raw = (FIXTURES / "delta-chat-voice.eml").read_bytes()
    server = mail_server()
    with smtplib.SMTP(server.host, server.smtp_port, timeout=10) as smtp:
        smtp.sendmail("bob@example.org", [alice.mail.email], raw)
    for _ in range(50):
        sync.sync_mailbox(alice.account.pk)
        if message := Message.objects.filter(account=alice.account).first():
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the voice message never arrived")

    [file] = message.attachments.all()
    assert file.is_voice and file.duration_ms == 3480 and file.is_audio
    page = _client(alice).get(f"/chats/{message.chat_id}/").content.decode()
    assert "Voice message · 0:03" in page
    assert f'<audio controls preload="none" src="/files/{file.pk}/"' in page
    served = _client(alice).get(f"/files/{file.pk}/")
    assert served.status_code == 200 and served["Content-Type"] == "audio/aac"
    assert len(served.content) == file.size
