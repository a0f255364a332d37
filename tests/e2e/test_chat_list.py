"""The chat list in a real browser: search over stored plain email, and the tab title's
unread count, live."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from chat import queries, requests
from chat.models import Chat, Message
from tests.mailserver import add_mail_user, send_plain_mail

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _wait_for(predicate, timeout=15.0):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_search_finds_a_plain_emails_text_and_the_tab_title_counts_unread_live(
    make_person, open_page
):
    alice = make_person("alice")
    landlord = add_mail_user("landlord")
    send_plain_mail(
        sender=landlord.email, to=alice.mail.email, subject="Flat", body="Hello from the landlord"
    )
    _wait_for(lambda: Chat.objects.filter(account=alice.account).exists())
    requests.accept_chat(chat=Chat.objects.get(account=alice.account))

    page = open_page(alice, "/")
    expect(page).to_have_title("(1) coiweb")
    send_plain_mail(
        sender=landlord.email,
        to=alice.mail.email,
        subject="Rent",
        body="The rent for December is due; the door code is zebra-42.",
    )
    expect(page).to_have_title("(2) coiweb", timeout=15_000)  # pushed, no reload
    hit = Message.objects.get(account=alice.account, text__contains="zebra-42")

    page.fill(".chat-search input", "zebra")
    result = page.locator(".search-hit", has_text="door code")
    expect(result).to_have_count(1)
    expect(result.locator("mark")).to_have_text("zebra")
    expect(page.locator("#chat-list")).to_be_hidden()
    result.locator("a").click()

    expect(page).to_have_url(re.compile(rf"/chats/{hit.chat_id}/#msg-{hit.pk}$"))
    expect(page.locator(f"#msg-{hit.pk}")).to_be_in_viewport()
    expect(page).to_have_title(f"{landlord.email} · coiweb")  # read: no count any more
    assert not Message.objects.filter(account=alice.account, seen=False).exists()

    # Back on the list, the search box is empty and the list is there again.
    page.goto("/")
    expect(page).to_have_title("coiweb")
    expect(page.locator("#chat-list .chat-row", has_text=landlord.email)).to_have_count(1)
    page.fill(".chat-search input", "zebra")
    expect(page.locator(".search-hit")).to_have_count(1)
    page.keyboard.press("Escape")
    expect(page.locator("#chat-list")).to_be_visible()


def test_scrolling_down_the_list_loads_the_next_chats_by_itself(make_person, open_page):
    alice = make_person("alice")
    now = timezone.now()
    count = 2 * queries.CHAT_PAGE_SIZE + 5
    Chat.objects.bulk_create(
        Chat(
            account=alice.account,
            peer_address=f"friend{n:03}@example.org",
            last_activity_at=now - timedelta(minutes=n),
        )
        for n in range(count)
    )

    page = open_page(alice, "/")
    rows = page.locator("#chat-list .chat-row")
    expect(rows).to_have_count(queries.CHAT_PAGE_SIZE)
    for _ in range(3):  # each page's "More chats" link loads the next when it shows
        page.locator("#chat-more").scroll_into_view_if_needed()
        page.wait_for_timeout(200)
    expect(rows).to_have_count(count)
    expect(page.locator("#chat-more a")).to_have_count(0)
    expect(rows.last).to_contain_text(f"friend{count - 1:03}@example.org")
    expect(rows.first).to_contain_text("friend000@example.org")
