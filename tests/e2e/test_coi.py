"""COI server mode with the live stack: chats the server files into COI/Chats show live."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from accounts import services as account_services
from chat.models import Message, MessageCopy
from chat.requests import remember_known
from tests.mailserver import add_mail_user, folder_flags_by_message_id, send_plain_mail

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _wait_for(predicate, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _watching(live_stack, folder: str, account_id: int) -> bool:
    log = (live_stack.log_dir / "watcher.log").read_text(errors="replace")
    return f"watching {folder} of mailbox {account_id} with IDLE" in log


def test_with_the_active_filter_chat_mail_lands_in_coi_chats_and_shows_live_once(
    make_person, open_page, live_stack
):
    alice = make_person("alice", coi=True)
    account_services.enable_coi(account=alice.account, message_filter="active")
    # Delivery under "active" never touches INBOX: only an IDLE on COI/Chats notices it.
    assert _wait_for(lambda: _watching(live_stack, "COI/Chats", alice.account.pk)), (
        live_stack.log_dir / "watcher.log"
    ).read_text()[-2000:]
    page = open_page(alice, "/")
    page.evaluate("window.__noReload = true")

    friend = add_mail_user("friend")
    remember_known(alice.account, [friend.email])  # someone we wrote to before
    chat_id = send_plain_mail(
        sender=friend.email,
        to=alice.mail.email,
        subject="Chat",
        body="filed by the server",
        extra={"Chat-Version": "1.0"},
    )
    # Only the chat first: nothing changes in INBOX, so only the COI/Chats IDLE can notice.
    row = page.locator("#chat-list .chat-row", has_text=friend.email)
    expect(row).to_be_visible(timeout=15_000)
    assert page.evaluate("window.__noReload") is True  # it arrived live, no reload
    plain_id = send_plain_mail(
        sender=friend.email, to=alice.mail.email, subject="Plain", body="plain in the inbox"
    )
    expect(row.locator(".badge")).to_have_text("2", timeout=15_000)
    row.locator("a").click()
    expect(page.locator(".msg.in", has_text="filed by the server")).to_have_count(1)
    expect(page.locator(".msg.in", has_text="plain in the inbox")).to_have_count(1)

    assert "$Chat" in folder_flags_by_message_id(alice.mail, "COI/Chats")[chat_id]
    inbox = folder_flags_by_message_id(alice.mail, "INBOX")
    assert chat_id not in inbox and plain_id in inbox
    message = Message.objects.get(account=alice.account, message_id=chat_id)
    assert list(MessageCopy.objects.filter(message=message).values_list("folder", flat=True)) == [
        "COI/Chats"
    ]
    # A later sync changes nothing: still one message, shown once.
    time.sleep(1)
    assert Message.objects.filter(account=alice.account, message_id=chat_id).count() == 1
    expect(page.locator(".msg.in", has_text="filed by the server")).to_have_count(1)


def test_the_fallback_move_files_a_live_chat_in_coi_chats_and_shows_it_once(
    make_person, open_page, live_stack
):
    alice = make_person("alice")
    account_services.set_fallback_move(account=alice.account, enabled=True)
    page = open_page(alice, "/")
    friend = add_mail_user("friend")
    remember_known(alice.account, [friend.email])  # someone we wrote to before
    chat_id = send_plain_mail(
        sender=friend.email,
        to=alice.mail.email,
        subject="Chat",
        body="moved by us",
        extra={"Chat-Version": "1.0"},
    )
    row = page.locator("#chat-list .chat-row", has_text=friend.email)
    expect(row).to_be_visible(timeout=15_000)
    row.locator("a").click()
    assert _wait_for(lambda: chat_id in folder_flags_by_message_id(alice.mail, "COI/Chats"))
    assert chat_id not in folder_flags_by_message_id(alice.mail, "INBOX")
    assert _wait_for(
        lambda: (
            list(
                MessageCopy.objects.filter(message__message_id=chat_id).values_list(
                    "folder", flat=True
                )
            )
            == ["COI/Chats"]
        )
    )
    expect(page.locator(".msg.in", has_text="moved by us")).to_have_count(1)
    assert Message.objects.filter(account=alice.account, message_id=chat_id).count() == 1
