"""Delivery ticks in the browser: 🕓 while queued, ✓ once the server took it, ✓✓ pushed
live when the other person has opened the chat and their read receipt came back."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from chat.models import Message
from tests.e2e.shell_data import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_senders_page_shows_read_live_once_the_recipient_opened_the_chat(
    make_person, open_page
):
    alice, bob = make_person("alice"), make_person("bob")
    alice_page = open_page(alice, "/chats/new/")
    alice_page.fill("input[name=address]", bob.mail.email)
    alice_page.click("button[type=submit]")
    alice_page.fill(".composer textarea", "Did you read this?")
    alice_page.keyboard.press("Enter")
    tick = alice_page.locator(".msg.out", has_text="Did you read this?").locator(".tick")
    expect(tick).to_have_text("✓", timeout=15_000)
    ours = Message.objects.get(account=alice.account, text="Did you read this?")
    assert ours.state == Message.State.SENT

    # (That a request appears live is test_live_chat's; here it only has to be there.)
    wait_for(
        lambda: Message.objects.filter(account=bob.account, text="Did you read this?").exists(),
        what="Alice's message to reach Bob",
    )
    bob_page = open_page(bob, "/")
    # Alice is new to Bob: her chat is a contact request, which sends no receipt.
    bob_page.locator("#requests-entry").click(timeout=15_000)
    bob_page.locator("#request-list .chat-row", has_text="Alice").locator("a").click()
    expect(bob_page.locator(".msg.in", has_text="Did you read this?")).to_have_count(1)
    expect(tick).to_have_text("✓")
    # Accepted, with the message on his screen, Bob has read it.
    bob_page.locator("#request-bar button", has_text="Accept").click()

    # Alice's page was not reloaded: the new state arrived over the websocket.
    expect(tick).to_have_text("✓✓", timeout=20_000)
    expect(tick).to_have_attribute("data-state", "read")
    [receipt] = Message.objects.filter(account=bob.account, is_control=True)
    assert receipt.to_addresses == [alice.mail.email]
    expect(alice_page.locator(".msg.in")).to_have_count(0)
