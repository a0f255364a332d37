"""Chat over a real mailbox, end to end: Chromium ↔ Daphne ↔ Celery ↔ Dovecot/Postfix."""

from __future__ import annotations

import email
import time
from email import policy

import pytest
from playwright.sync_api import expect

from chat import requests
from chat.models import Chat, Message
from tests.mailserver import add_mail_user, fetch_raw_by_message_id, send_plain_mail

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_plain_mail_appears_in_the_open_page_without_reload(make_person, open_page):
    alice = make_person("alice")
    page = open_page(alice, "/")
    page.evaluate("window.__noReload = true")

    outsider = add_mail_user("plain")
    send_plain_mail(
        sender=outsider.email, to=alice.mail.email, subject="Lunch?", body="Shall we meet at noon?"
    )

    # A stranger's first mail is a contact request: one entry, live, not a row of its own.
    entry = page.locator("#requests-entry")
    expect(entry).to_have_text("Contact requests (1)", timeout=15_000)
    expect(page.locator("#chat-list .chat-row", has_text=outsider.email)).to_have_count(0)
    assert page.evaluate("window.__noReload") is True
    entry.click()
    row = page.locator("#request-list .chat-row", has_text=outsider.email)
    expect(row.locator(".badge")).to_have_text("1")
    row.locator("a").click()
    bubble = page.locator(".msg.in", has_text="Shall we meet at noon?")
    expect(bubble).to_have_count(1)
    expect(bubble.locator(".subject")).to_have_text("Lunch?")
    expect(page.locator("#composer")).to_have_count(0)

    # With the request open, the next mail lands in it live, and stays unread.
    page.evaluate("window.__noReload = true")
    send_plain_mail(
        sender=outsider.email, to=alice.mail.email, subject="Re: Lunch?", body="Or at one?"
    )
    expect(page.locator(".msg.in", has_text="Or at one?")).to_have_count(1, timeout=15_000)
    assert page.evaluate("window.__noReload") is True
    expect(row.locator(".badge")).to_have_text("2")
    assert Message.objects.filter(account=alice.account, seen=False).count() == 2

    # Accepted, it is an ordinary chat: the next mail lands live and is read on screen.
    page.locator("#request-bar button", has_text="Accept").click()
    expect(page.locator("#composer")).to_be_visible()
    row = page.locator("#chat-list .chat-row", has_text=outsider.email)
    expect(row).to_be_visible()
    page.evaluate("window.__noReload = true")
    send_plain_mail(
        sender=outsider.email, to=alice.mail.email, subject="Re: Lunch?", body="Or at two?"
    )
    expect(page.locator(".msg.in", has_text="Or at two?")).to_have_count(1, timeout=15_000)
    assert page.evaluate("window.__noReload") is True
    expect(row.locator(".badge")).to_have_count(0)
    for _ in range(50):
        if not Message.objects.filter(account=alice.account, seen=False).exists():
            break
        page.wait_for_timeout(100)
    assert not Message.objects.filter(account=alice.account, seen=False).exists()


def test_blocking_a_request_on_the_page_hides_the_senders_mail_until_unblocked(
    make_person, open_page
):
    alice = make_person("alice")
    pest = add_mail_user("pest")
    send_plain_mail(sender=pest.email, to=alice.mail.email, subject="Buy", body="cheap pills")
    page = open_page(alice, "/")
    page.locator("#requests-entry").click(timeout=15_000)
    page.locator("#request-list .chat-row", has_text=pest.email).locator("a").click()
    page.locator("#request-bar button", has_text="Block").click()
    expect(page.locator("#requests-entry")).to_be_hidden()

    page.evaluate("window.__noReload = true")
    send_plain_mail(sender=pest.email, to=alice.mail.email, subject="Buy", body="more pills")
    for _ in range(150):
        if Message.objects.filter(account=alice.account, text__contains="more pills").exists():
            break
        page.wait_for_timeout(100)
    assert Message.objects.filter(account=alice.account).count() == 2  # kept, not lost
    page.wait_for_timeout(500)  # a push, had there been one, would have come by now
    expect(page.locator("#requests-entry")).to_be_hidden()
    expect(page.locator(".chat-row", has_text=pest.email)).to_have_count(0)

    page.goto(f"/accounts/mailboxes/{alice.account.pk}/")
    page.locator(".blocked-list li", has_text=pest.email).locator("button").click()
    expect(page.locator(".blocked-list")).to_have_count(0)
    page.goto("/")
    expect(page.locator("#requests-entry")).to_have_text("Contact requests (1)")
    page.locator("#requests-entry").click()
    page.locator("#request-list .chat-row", has_text=pest.email).locator("a").click()
    expect(page.locator(".msg.in")).to_have_count(2)


def test_two_people_chat_both_ways_live_and_sent_holds_one_copy_each(make_person, open_page):
    alice = make_person("alice")
    bob = make_person("bob")
    alice_page = open_page(alice, "/chats/new/")
    alice_page.fill("input[name=address]", bob.mail.email)
    alice_page.click("button[type=submit]")
    bob_page = open_page(bob, "/")

    alice_page.fill(".composer textarea", "Hi Bob, this is Alice.")
    alice_page.keyboard.press("Enter")
    expect(alice_page.locator(".msg.out", has_text="Hi Bob, this is Alice.")).to_have_count(1)
    expect(alice_page.locator(".msg.out .tick[data-state=sent]")).to_have_count(1, timeout=15_000)

    # Alice is new to Bob: her chat is a request, which he accepts before answering.
    bob_page.locator("#requests-entry").click(timeout=15_000)
    bob_page.locator("#request-list .chat-row", has_text="Alice").locator("a").click()
    expect(bob_page.locator(".msg.in", has_text="Hi Bob, this is Alice.")).to_have_count(1)
    bob_page.locator("#request-bar button", has_text="Accept").click()

    bob_page.fill(".composer textarea", "Hello Alice! Bob here.")
    bob_page.click(".composer button[type=submit]")
    expect(alice_page.locator(".msg.in", has_text="Hello Alice! Bob here.")).to_have_count(
        1, timeout=15_000
    )
    expect(bob_page.locator(".msg.out .tick[data-state=sent]")).to_have_count(1, timeout=15_000)

    # Each message exists once per side, and each Sent folder holds exactly one copy.
    for person, text in ((alice, "Hi Bob, this is Alice."), (bob, "Hello Alice! Bob here.")):
        sent = Message.objects.get(account=person.account, text=text)
        assert sent.direction == Message.Direction.OUTGOING
        assert len(fetch_raw_by_message_id(person.mail, "Sent", sent.message_id)) == 1
    assert Message.objects.filter(account=bob.account, text="Hi Bob, this is Alice.").count() == 1
    assert Message.objects.filter(account=alice.account, text="Hello Alice! Bob here.").count() == 1
    # The Sent copies merged into the rows we created (the sync has seen them by now).
    expect(alice_page.locator(".msg", has_text="Hi Bob, this is Alice.")).to_have_count(1)
    expect(bob_page.locator(".msg", has_text="Hello Alice! Bob here.")).to_have_count(1)


def test_our_message_carries_every_chat_header(make_person, open_page):
    alice = make_person("alice")
    bob = add_mail_user("bob")
    first_id = send_plain_mail(
        sender=bob.email, to=alice.mail.email, subject="Plans", body="Any plans?"
    )
    _accept_once_arrived(alice, bob.email)
    page = open_page(alice, "/")
    page.locator("#chat-list .chat-row", has_text=bob.email).locator("a").click(timeout=15_000)

    page.fill(".composer textarea", "Hiking on Sunday, want to join? ✓")
    page.keyboard.press("Enter")
    expect(page.locator(".msg.out .tick[data-state=sent]")).to_have_count(1, timeout=15_000)

    ours = Message.objects.get(account=alice.account, direction="out")
    raws = fetch_raw_by_message_id(bob, "INBOX", ours.message_id)
    assert len(raws) == 1
    msg = email.message_from_bytes(raws[0], policy=policy.default)
    assert msg["Chat-Version"] == "1.0"
    assert len(msg.get_all("From")) == 1 and msg["From"].addresses[0].addr_spec == alice.mail.email
    assert msg["Date"] is not None and msg["Date"].datetime.tzinfo is not None
    assert msg["Message-ID"] == ours.message_id and ours.message_id.startswith("<chat$")
    assert msg["In-Reply-To"] == first_id
    assert first_id in msg["References"]
    assert msg["Subject"] == "Re: Plans"
    assert msg["MIME-Version"] == "1.0"
    body = msg.get_body(("plain",))
    assert body is not None and body.get_content_charset() == "utf-8"
    assert (msg.get_content_type() == "text/plain") or next(
        msg.iter_parts()
    ).get_content_type() == "text/plain"
    assert "Hiking on Sunday, want to join? ✓" in body.get_content()


def test_hostile_html_mail_renders_inert(make_person, open_page):
    alice = make_person("alice")
    outsider = add_mail_user("attacker")
    hostile = (
        "<p>Hello <b>friend</b></p>"
        "<script>window.parent.__pwned = 1; alert('x')</script>"
        '<img src=x onerror="window.parent.__pwned = 2">'
        '<a href="javascript:window.parent.__pwned = 3">click me</a>'
        '<iframe src="javascript:alert(4)"></iframe>'
    )
    send_plain_mail(
        sender=outsider.email,
        to=alice.mail.email,
        subject="Totally safe",
        body="Hello friend",
        html=hostile,
    )
    _accept_once_arrived(alice, outsider.email)
    page = open_page(alice, "/")
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.locator("#chat-list .chat-row", has_text=outsider.email).locator("a").click(timeout=15_000)
    page.locator(".msg.in a.full").click()

    frame = page.frame_locator("iframe.mail-html")
    expect(frame.locator("b", has_text="friend")).to_be_visible()
    link = frame.locator("a", has_text="click me")
    href = link.get_attribute("href")
    assert href is None or not href.lower().startswith("javascript")
    link.click()
    page.wait_for_timeout(500)
    assert page.evaluate("window.__pwned === undefined")
    assert dialogs == []
    stored = Message.objects.get(account=alice.account)
    for needle in ("<script", "onerror", "javascript:", "<iframe"):
        assert needle not in stored.html.lower()
    assert Chat.objects.filter(account=alice.account).count() == 1


def test_a_page_whose_socket_dropped_fetches_what_it_missed(make_person, open_page, live_stack):
    alice = make_person("alice")
    friend = add_mail_user("friend")
    first_id = send_plain_mail(
        sender=friend.email, to=alice.mail.email, subject="first", body="before the outage"
    )
    _accept_once_arrived(alice, friend.email)
    page = open_page(alice, "/")
    page.locator("#chat-list .chat-row", has_text=friend.email).locator("a").click()
    expect(page.locator(".msg.in", has_text="before the outage")).to_have_count(1)
    page.evaluate("window.__noReload = true")

    live_stack.stop("daphne")  # the socket drops; pushes made now reach nobody
    expect(page.locator("#live")).to_have_attribute("data-state", "closed")
    send_plain_mail(
        sender=friend.email, to=alice.mail.email, subject="second", body="during the outage"
    )
    # A change to a message the page already shows: the friend edits the first one.
    send_plain_mail(
        sender=friend.email,
        to=alice.mail.email,
        subject="first",
        body="✏️before the outage, corrected",
        extra={"Chat-Version": "1.0", "Chat-Edit": first_id},
    )
    chat = Chat.objects.get(account=alice.account)
    for _ in range(100):
        if chat.messages.count() == 2 and chat.messages.filter(is_edited=True).exists():
            break
        page.wait_for_timeout(100)
    assert chat.messages.count() == 2 and chat.messages.filter(is_edited=True).exists()
    live_stack.start("daphne")

    expect(page.locator(".msg.in", has_text="during the outage")).to_have_count(1, timeout=20_000)
    expect(page.locator(".msg.in", has_text="corrected")).to_have_count(1)
    expect(page.locator(".msg.in")).to_have_count(2)
    assert page.evaluate("window.__noReload") is True


def test_a_refused_message_shows_the_reason_and_a_working_retry(make_person, open_page):
    alice = make_person("alice")
    page = open_page(alice, "/chats/new/")
    page.fill("input[name=address]", "no-such-user@example.org")
    page.click("button[type=submit]")
    page.fill(".composer textarea", "hello?")
    page.keyboard.press("Enter")
    failed = page.locator(".msg.out.state-failed")
    expect(failed).to_have_count(1, timeout=15_000)
    expect(failed.locator(".send-error")).to_contain_text("no-such-user@example.org")
    expect(failed.locator(".send-error")).to_contain_text("refused")
    first_try = Message.objects.get(account=alice.account, direction="out").claimed_at
    failed.locator("button", has_text="Retry").click()
    # The retry really goes to the server again (a new claim) and fails again, visibly, once.
    for _ in range(150):
        message = Message.objects.get(account=alice.account, direction="out")
        if message.claimed_at > first_try and message.state == Message.State.FAILED:
            break
        page.wait_for_timeout(100)
    assert message.claimed_at > first_try and message.state == Message.State.FAILED
    assert message.send_attempts == 1 and "refused" in message.send_error
    expect(page.locator(".msg.out.state-failed")).to_have_count(1)
    expect(page.locator(".msg.out")).to_have_count(1)


def _accept_once_arrived(person, sender: str) -> None:
    """Accept the request a stranger's mail started, as the person would on the page."""
    for _ in range(150):
        chat = Chat.objects.filter(account=person.account, peer_address=sender).first()
        if chat is not None:
            requests.accept_chat(chat=chat)
            return
        time.sleep(0.1)
    raise AssertionError(f"no chat with {sender}")
