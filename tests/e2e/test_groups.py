"""Groups in the browser: create one, talk in it, rename it, change its members."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from chat.models import Chat
from tests.mailserver import add_mail_user, fetch_raw_by_message_id

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_group_made_on_the_page_reaches_its_members_and_follows_a_rename(make_person, open_page):
    alice = make_person("alice")
    bob = make_person("bob")
    carol = add_mail_user("carol")  # on plain email
    page = open_page(alice, "/chats/new-group/")
    page.fill("input[name=name]", "Board games")
    page.fill("textarea[name=members]", f"{bob.mail.email}\n{carol.email}")
    page.click("button[type=submit]")
    expect(page.locator(".conversation-head h2")).to_have_text("Board games")
    expect(page.locator(".conversation-head .sub")).to_contain_text("3 members")

    bob_page = open_page(bob, "/")
    page.fill(".composer textarea", "Game night on Friday?")
    page.keyboard.press("Enter")
    expect(page.locator(".msg.out .tick[data-state=sent]")).to_have_count(1, timeout=15_000)

    # A group from someone Bob never wrote to is a contact request; he accepts it.
    bob_page.locator("#requests-entry").click(timeout=15_000)
    bob_page.locator("#request-list .chat-row", has_text="Board games").locator("a").click()
    bob_page.locator("#request-bar button", has_text="Accept").click()
    bubble = bob_page.locator(".msg.in", has_text="Game night on Friday?")
    expect(bubble).to_have_count(1)
    expect(bubble.locator(".sender")).to_have_text("Alice")
    expect(bob_page.locator(".conversation-head .sub")).to_contain_text(carol.email)
    bob_group = Chat.objects.get(account=bob.account)
    assert bob_group.is_group
    alice_group = Chat.objects.get(account=alice.account)
    assert bob_group.group_id == alice_group.group_id

    page.locator(".group-info summary").click()
    page.fill(".group-info input[name=name]", "Board game night")
    page.locator(".group-info button", has_text="Rename").click()
    expect(page.locator(".conversation-head h2")).to_have_text("Board game night")
    expect(bob_page.locator(".msg.system", has_text="“Board game night”")).to_have_count(
        1, timeout=15_000
    )
    bob_page.reload()
    expect(bob_page.locator(".conversation-head h2")).to_have_text("Board game night")

    page.locator(".group-info summary").click()
    page.locator(".group-info li", has_text=carol.email).locator("button").click()
    expect(page.locator(".conversation-head .sub")).not_to_contain_text(carol.email)
    expect(
        page.locator(".msg.out.system", has_text=f"Member {carol.email} removed.")
    ).to_have_count(1)
    expect(bob_page.locator(".msg.system", has_text=f"removed {carol.email}")).to_have_count(
        1, timeout=15_000
    )
    # Carol, on plain email, got every message, the removal included.
    removal = alice_group.messages.get(text=f"Member {carol.email} removed.")
    for _ in range(50):
        if fetch_raw_by_message_id(carol, "INBOX", removal.message_id):
            break
        page.wait_for_timeout(200)
    assert len(fetch_raw_by_message_id(carol, "INBOX", removal.message_id)) == 1
