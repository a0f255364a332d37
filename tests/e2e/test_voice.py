"""A voice message from the composer: one audio file, its length measured by the browser."""

from __future__ import annotations

import io
import wave

import pytest
from playwright.sync_api import expect

from chat.models import Attachment

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _wav(seconds: float) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * int(8000 * seconds))
    return buffer.getvalue()


def test_an_audio_file_goes_as_a_voice_message_with_its_length(make_person, open_page):
    alice, bob = make_person("alice"), make_person("bob")
    page = open_page(alice, "/chats/new/")
    page.fill("input[name=address]", bob.mail.email)
    page.click("button[type=submit]")
    option = page.locator(".composer-voice")
    expect(option).to_be_hidden()

    page.set_input_files(
        "#composer input[type=file]",
        files=[{"name": "note.wav", "mimeType": "audio/wav", "buffer": _wav(2.0)}],
    )
    expect(option).to_be_visible()
    expect(page.locator("#composer input[name=duration_ms]")).to_have_value("2000")
    option.locator("input").check()
    page.locator("#composer button[type=submit]").click()

    bubble = page.locator(".msg.out .file.audio")
    expect(bubble).to_contain_text("Voice message · 0:02", timeout=15_000)
    [file] = Attachment.objects.filter(message__account=alice.account)
    assert file.is_voice and file.duration_ms == 2000
    expect(option).to_be_hidden()  # the composer is ready for the next message
