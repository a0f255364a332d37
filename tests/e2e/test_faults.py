"""Faults with traffic flowing: every message ends up present exactly once, pages live."""

from __future__ import annotations

import os
import subprocess
import time

import pytest
from playwright.sync_api import expect

from chat.models import Message, MessageCopy
from chat.requests import remember_known
from tests.mailserver import (
    SCRIPT,
    add_mail_user,
    fetch_raw_by_message_id,
    mail_server,
    send_plain_mail,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _friend_of(person):
    """Someone the person wrote to before: their mail goes to a chat, not to requests."""
    friend = add_mail_user("friend")
    remember_known(person.account, [friend.email])
    return friend


def _wait_for(predicate, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _send_many(person, sender, prefix: str, n: int) -> list[str]:
    bodies = [f"{prefix} {i}" for i in range(n)]
    for body in bodies:
        send_plain_mail(sender=sender, to=person.mail.email, subject=prefix, body=body)
    return bodies


def _exactly_once(person, bodies: list[str]) -> bool:
    texts = list(Message.objects.filter(account=person.account).values_list("text", flat=True))
    return all(sum(1 for t in texts if t.strip() == b) == 1 for b in bodies)


def _mailserver(*args: str) -> None:
    subprocess.run([str(SCRIPT), *args], check=True, capture_output=True)


def test_worker_killed_during_a_sync(make_person, open_page, live_stack):
    alice = make_person("alice")
    friend = _friend_of(alice)
    page = open_page(alice, "/")
    bodies = _send_many(alice, friend.email, "burst", 15)
    time.sleep(0.7)  # the first sync is under way
    live_stack.kill("worker")
    live_stack.start("worker")
    bodies += _send_many(alice, friend.email, "after", 2)
    assert _wait_for(lambda: _exactly_once(alice, bodies)), "not every message arrived exactly once"
    page.locator("#chat-list .chat-row", has_text=friend.email).locator("a").click()
    expect(page.locator(".msg.in")).to_have_count(len(bodies))


def test_watcher_killed(make_person, open_page, live_stack):
    alice = make_person("alice")
    friend = _friend_of(alice)
    page = open_page(alice, "/")
    live_stack.kill("watcher")
    bodies = _send_many(alice, friend.email, "while down", 3)
    live_stack.start("watcher")
    bodies += _send_many(alice, friend.email, "after restart", 2)
    assert _wait_for(lambda: _exactly_once(alice, bodies))
    expect(page.locator("#chat-list .chat-row", has_text=friend.email)).to_be_visible()


def test_dovecot_restarted_during_idle(make_person, open_page, live_stack):
    alice = make_person("alice")
    friend = _friend_of(alice)
    page = open_page(alice, "/")
    bodies = _send_many(alice, friend.email, "before", 2)
    assert _wait_for(lambda: _exactly_once(alice, bodies))
    _mailserver("dovecot-restart")
    bodies += _send_many(alice, friend.email, "after", 2)
    assert _wait_for(lambda: _exactly_once(alice, bodies)), (
        "mail after the restart was not picked up"
    )
    page.locator("#chat-list .chat-row", has_text=friend.email).locator("a").click()
    expect(page.locator(".msg.in", has_text="after 1")).to_have_count(1)


def test_postfix_stopped_during_sends(make_person, open_page, live_stack):
    alice = make_person("alice")
    bob = add_mail_user("bob")
    page = open_page(alice, "/chats/new/")
    page.fill("input[name=address]", bob.email)
    page.click("button[type=submit]")
    _mailserver("postfix-stop")
    try:
        for n in range(3):
            page.fill(".composer textarea", f"queued {n}")
            page.keyboard.press("Enter")
            expect(page.locator(".msg.out", has_text=f"queued {n}")).to_have_count(1)
        expect(page.locator(".msg.out .send-error").first).to_contain_text(
            "Trying again", timeout=15_000
        )
    finally:
        _mailserver("postfix-start")
    expect(page.locator(".msg.out .tick[data-state=sent]")).to_have_count(3, timeout=60_000)
    sent = list(
        Message.objects.filter(account=alice.account, direction="out").order_by("created_at")
    )
    for message in sent:
        assert len(fetch_raw_by_message_id(bob, "INBOX", message.message_id)) == 1
        assert len(fetch_raw_by_message_id(alice.mail, "Sent", message.message_id)) == 1


def test_uidvalidity_changed_on_the_server(make_person, live_stack):
    alice = make_person("alice")
    friend = _friend_of(alice)
    bodies = _send_many(alice, friend.email, "old numbering", 2)
    assert _wait_for(lambda: _exactly_once(alice, bodies))
    old_validity = (
        MessageCopy.objects.filter(account=alice.account, folder="INBOX").first().uidvalidity
    )
    conf = f"{mail_server().ca_file.rsplit('/tls/', 1)[0]}/dovecot/dovecot.conf"
    subprocess.run(
        [
            "doveadm",
            "-c",
            conf,
            "mailbox",
            "update",
            "-u",
            alice.mail.email,
            "--uid-validity",
            str(old_validity + 1000),
            "INBOX",
        ],
        check=True,
        capture_output=True,
    )
    bodies += _send_many(alice, friend.email, "new numbering", 1)
    assert _wait_for(lambda: _exactly_once(alice, bodies))
    copies = MessageCopy.objects.filter(account=alice.account, folder="INBOX")
    assert copies.count() == 3
    assert set(copies.values_list("uidvalidity", flat=True)) == {old_validity + 1000}


def test_redis_restarted(make_person, open_page, live_stack):
    port = os.environ.get("COIWEB_TEST_REDIS_PORT")
    if not port:
        pytest.fail(
            "run the suite through ./run test: it gives the tests a Redis of their own to restart"
        )
    alice = make_person("alice")
    friend = _friend_of(alice)
    page = open_page(alice, "/")
    bodies = _send_many(alice, friend.email, "before", 1)
    assert _wait_for(lambda: _exactly_once(alice, bodies))
    page.locator("#chat-list .chat-row", has_text=friend.email).locator("a").click()

    subprocess.run(["redis-cli", "-p", port, "shutdown", "nosave"], capture_output=True)
    time.sleep(1)
    subprocess.run(
        [str(SCRIPT.parent / "services.sh"), "ensure-redis"],
        env={**os.environ, "COIWEB_REDIS_PORT": port},
        check=True,
        capture_output=True,
    )
    bodies += _send_many(alice, friend.email, "after", 2)
    assert _wait_for(lambda: _exactly_once(alice, bodies)), "mail after the Redis restart was lost"
    # The open page is live again: it shows the new mail without a reload.
    expect(page.locator(".msg.in", has_text="after 1")).to_have_count(1, timeout=30_000)
