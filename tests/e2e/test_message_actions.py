"""The message menu and files in the browser: react, reply, edit, delete, attach."""

from __future__ import annotations

import base64

import pytest
from playwright.sync_api import expect

from chat.models import Attachment, Message

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# A 2x2 red PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg=="
)


def _chat_pages(make_person, open_page):
    alice, bob = make_person("alice"), make_person("bob")
    alice_page = open_page(alice, "/chats/new/")
    alice_page.fill("input[name=address]", bob.mail.email)
    alice_page.click("button[type=submit]")
    alice_page.fill(".composer textarea", "Hi Bob!")
    alice_page.keyboard.press("Enter")
    bob_page = open_page(bob, "/")
    # Alice is new to Bob: he accepts her contact request first.
    bob_page.locator("#requests-entry").click(timeout=15_000)
    bob_page.locator("#request-list .chat-row", has_text="Alice").locator("a").click()
    bob_page.locator("#request-bar button", has_text="Accept").click()
    expect(bob_page.locator(".msg.in", has_text="Hi Bob!")).to_have_count(1)
    return alice, bob, alice_page, bob_page


def _menu(page, bubble):
    bubble.hover()
    bubble.locator(".msg-menu-button").click()
    expect(page.locator("#msg-menu")).to_be_visible()
    return page.locator("#msg-menu")


def test_react_reply_edit_and_delete_from_the_message_menu(make_person, open_page):
    alice, bob, alice_page, bob_page = _chat_pages(make_person, open_page)

    theirs = bob_page.locator(".msg.in", has_text="Hi Bob!")
    _menu(bob_page, theirs).locator("[data-react='👍']").click()
    expect(theirs.locator(".reaction")).to_have_text("👍")
    expect(alice_page.locator(".msg.out", has_text="Hi Bob!").locator(".reaction")).to_have_text(
        "👍", timeout=15_000
    )
    # The reaction went out as a message of its own, which no page ever shows.
    assert Message.objects.filter(account=bob.account, is_control=True, state="sent").exists()
    expect(bob_page.locator(".msg.out")).to_have_count(0)

    menu = _menu(bob_page, theirs)
    expect(menu.locator("[data-action=edit]")).to_be_hidden()  # not his message
    menu.locator("[data-action=reply]").click()
    expect(bob_page.locator(".composer-context")).to_contain_text("Replying to: Hi Bob!")
    bob_page.fill(".composer textarea", "Hello Alice")
    bob_page.keyboard.press("Enter")
    reply = alice_page.locator(".msg.in", has_text="Hello Alice")
    expect(reply.locator(".quote")).to_have_text("Hi Bob!", timeout=15_000)
    expect(bob_page.locator(".composer-context")).to_be_hidden()

    ours = alice_page.locator(".msg.out", has_text="Hi Bob!")
    _menu(alice_page, ours).locator("[data-action=edit]").click()
    expect(alice_page.locator(".composer textarea")).to_have_value("Hi Bob!")
    alice_page.fill(".composer textarea", "Hi Bob, long time!")
    alice_page.keyboard.press("Enter")
    edited = bob_page.locator(".msg.in", has_text="Hi Bob, long time!")
    expect(edited.locator(".edited")).to_have_count(1, timeout=15_000)
    assert Message.objects.filter(account=alice.account, is_control=False).count() == 2

    alice_page.on("dialog", lambda dialog: dialog.accept())
    _menu(alice_page, alice_page.locator(".msg.out", has_text="long time")).locator(
        "[data-action=delete]"
    ).click()
    expect(bob_page.locator(".msg.in .deleted")).to_have_count(1, timeout=15_000)
    expect(bob_page.locator(".msg.in", has_text="long time")).to_have_count(0)


def test_an_image_goes_out_and_shows_inline_and_in_the_lightbox(make_person, open_page):
    alice, bob, alice_page, bob_page = _chat_pages(make_person, open_page)
    alice_page.set_input_files(
        "#composer input[type=file]",
        files=[{"name": "red.png", "mimeType": "image/png", "buffer": PNG}],
    )
    expect(alice_page.locator(".composer-files")).to_contain_text("red.png")
    alice_page.fill(".composer textarea", "Look at this")
    alice_page.click(".composer button[type=submit]")

    image = bob_page.locator(".msg.in", has_text="Look at this").locator("a.file.image img")
    expect(image).to_have_count(1, timeout=15_000)
    expect(image).to_have_attribute("alt", "red.png")
    bob_page.wait_for_function(
        "document.querySelector('a.file.image img').naturalWidth === 2", timeout=15_000
    )
    image.click()
    expect(bob_page.locator("#lightbox img")).to_be_visible()
    stored = Attachment.objects.get(message__account=bob.account)
    assert stored.filename == "red.png" and bytes(stored.data) == PNG  # kept once opened


def test_an_oversized_file_is_refused_before_upload_and_nothing_is_sent(make_person, open_page):
    alice, bob, alice_page, bob_page = _chat_pages(make_person, open_page)
    limit = int(alice_page.get_attribute("#composer input[type=file]", "data-max-bytes"))
    alice_page.set_input_files(
        "#composer input[type=file]",
        files=[
            {
                "name": "huge.bin",
                "mimeType": "application/octet-stream",
                "buffer": b"\0" * (limit + 1),
            }
        ],
    )
    expect(alice_page.locator(".composer-error")).to_contain_text("Too large to send")
    alice_page.fill(".composer textarea", "with a huge file")
    alice_page.click(".composer button[type=submit]")
    alice_page.wait_for_timeout(1000)
    assert not Message.objects.filter(account=alice.account, text="with a huge file").exists()
    expect(alice_page.locator(".composer textarea")).to_have_value("with a huge file")
