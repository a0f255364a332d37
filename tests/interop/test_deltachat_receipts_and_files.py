"""Read receipts, images and voice messages between coiweb and a real Delta Chat core,
both ways, asserted on what Delta Chat reports through its RPC API and what coiweb stores.
Delta Chat has read receipts on here (mdns_enabled=1)."""

from __future__ import annotations

import base64

import pytest
from deltachat_rpc_client.const import MessageState
from playwright.sync_api import expect

from chat import delivery
from chat.delivery import Voice
from chat.models import Message
from chat.requests import remember_known
from chat.services import start_chat
from mailcore.attachments import OutgoingFile
from tests.deltachat_peer import deltachat_peer
from tests.interop.test_deltachat_1to1 import TIMEOUT, stored, unique, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# A 2x2 red PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg=="
)
AUDIO = b"\xff\xf1\x50\x80\x02\x1f\xfc" * 40


@pytest.fixture
def dc(live_stack):
    with deltachat_peer("dc", display_name="Dora", config={"mdns_enabled": "1"}) as peer:
        yield peer


def _pumped(dc, check):
    return lambda: (dc.pump(0.3), check())[1]


def test_delta_chat_asks_for_no_receipt_in_unencrypted_mail_so_reading_sends_none(
    make_person, dc, open_page
):
    # Delta Chat 2.65 puts Chat-Disposition-Notification-To only into encrypted mail (and
    # sends receipts only for those), even with mdns_enabled=1. Unasked, coiweb sends
    # none either (RFC 8098 2.1), however often the chat is opened.
    alice = make_person("alice")
    remember_known(alice.account, [dc.addr])  # a contact: reading a request would not count
    text = unique("Tell me when you have read this")
    dc_msg = dc.send_text(alice.mail.email, text)
    theirs = stored(alice, text)
    assert theirs.receipt_to == ""

    page = open_page(alice, f"/chats/{theirs.chat_id}/")
    expect(page.locator(".msg.in", has_text=text)).to_have_count(1)
    page.reload()
    expect(page.locator(".msg.in", has_text=text)).to_have_count(1)

    wait_for(lambda: Message.objects.filter(pk=theirs.pk, seen=True).exists(), "read here")
    assert not Message.objects.filter(account=alice.account, is_control=True).exists()
    dc.pump(2)
    assert dc.message(dc_msg).state == MessageState.OUT_DELIVERED


def test_a_read_receipt_from_coiweb_shows_as_read_in_delta_chat(make_person, dc):
    # What coiweb sends once a message asked for a receipt (tests/chat/test_receipts.py),
    # through the same outbox: Delta Chat takes it and reports its message as read.
    alice = make_person("alice")
    text = unique("Did you see this?")
    dc_msg = dc.send_text(alice.mail.email, text)
    theirs = stored(alice, text)

    receipt = delivery.send_receipt(
        user=alice.user, chat=theirs.chat, to=dc.addr, message_ids=(theirs.message_id,)
    )

    wait_for(
        _pumped(dc, lambda: dc.message(dc_msg).state == MessageState.OUT_MDN_RCVD),
        "Delta Chat reporting its message as read",
    )
    receipt.refresh_from_db()
    assert receipt.state == Message.State.SENT and receipt.to_addresses == [dc.addr]
    # The receipt is no message in Delta Chat's chat.
    assert [m.text for m in dc.messages(dc.message(dc_msg).chat_id)] == [text]


def test_an_image_from_delta_chat_arrives_as_an_image(make_person, dc, open_page, tmp_path):
    alice = make_person("alice")
    path = tmp_path / "red.png"
    path.write_bytes(PNG)
    text = unique("A red square")

    dc.send_file(alice.mail.email, path, viewtype="Image", text=text)

    message = stored(alice, text)
    [image] = message.attachments.all()
    assert image.is_image and image.content_type.startswith("image/")
    page = open_page(alice, f"/chats/{message.chat_id}/")
    picture = page.locator(f"#msg-{message.pk} a.file.image img")
    expect(picture).to_have_count(1)
    # The browser decoded it: it is a real picture, not a broken link.
    wait_for(lambda: picture.evaluate("img => img.complete && img.naturalWidth") > 0, "decoded")


def test_our_image_and_voice_message_arrive_in_delta_chat_as_image_and_voice(make_person, dc):
    alice = make_person("alice")
    chat = start_chat(user=alice.user, account=alice.account, address=dc.addr)
    photo = delivery.send_message(
        user=alice.user,
        chat=chat,
        text=unique("Look"),
        files=(OutgoingFile("red.png", "image/png", PNG),),
    )
    voice = delivery.send_message(
        user=alice.user,
        chat=chat,
        text="",
        files=(OutgoingFile("note.aac", "audio/aac", AUDIO),),
        voice=Voice(duration_ms=3480),
    )

    got_photo = dc.find(photo.message_id.strip("<>"), TIMEOUT)
    got_voice = dc.find(voice.message_id.strip("<>"), TIMEOUT)
    assert got_photo.view_type == "Image" and got_photo.file_name == "red.png"
    assert got_photo.text == photo.text
    assert got_voice.view_type == "Voice" and got_voice.duration_ms == 3480
