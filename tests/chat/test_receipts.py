"""Read receipts (RFC 8098 MDNs) between coiweb and real mailboxes: one goes out when the
person has seen a message that asked for it, never twice, never for our own mail, never
when the person turned receipts off or another client already sent one; ours ask for them;
a receipt from anyone a message went to marks it read, also in a group."""

from __future__ import annotations

import email
import smtplib
import time
from datetime import UTC, datetime
from email import policy
from pathlib import Path

import pytest
from django.test import Client

from chat import delivery, requests, services, sync
from chat.models import Message
from mailcore.addresses import Address
from mailcore.message_ids import new_message_id
from mailcore.receipts import build_receipt, parse_receipt
from tests.mailserver import (
    add_mail_user,
    fetch_raw_by_message_id,
    imap_login,
    mail_server,
    send_plain_mail,
)

pytestmark = pytest.mark.django_db


def _client(person) -> Client:
    client = Client()
    client.force_login(person.user)
    return client


def _sync_until(person, predicate):
    for _ in range(50):
        sync.sync_mailbox(person.account.pk)
        if result := predicate():
            return result
        time.sleep(0.1)
    raise AssertionError("condition not reached")


def _received(
    person,
    sender,
    text: str,
    *,
    header: str = "Chat-Disposition-Notification-To",
    known: bool = True,
):
    """A chat message from `sender` (a contact unless not `known`) to the person that asks
    for a receipt, once synced."""
    if known:
        requests.remember_known(person.account, [sender.email])
    extra = {"Chat-Version": "1.0", header: sender.email}
    send_plain_mail(sender=sender.email, to=person.mail.email, subject="Hi", body=text, extra=extra)
    return _sync_until(
        person, lambda: Message.objects.filter(account=person.account, text=text).first()
    )


def _receipts_sent(person) -> list[Message]:
    return list(
        Message.objects.filter(account=person.account, is_control=True).order_by("created_at")
    )


def _open_chat(person, chat_id: int, capture) -> None:
    """The person opens the chat page; what it queues (MDN, flags) runs at commit."""
    with capture(execute=True):
        assert _client(person).get(f"/chats/{chat_id}/").status_code == 200


def _server_flags(user, message_id: str) -> str:
    client = imap_login(user)
    try:
        client.select("INBOX", readonly=True)
        _typ, data = client.uid("SEARCH", None, "HEADER", "Message-ID", message_id)
        uid = data[0].split()[0]
        _typ, flags = client.uid("FETCH", uid, "(FLAGS)")
        return flags[0].decode()
    finally:
        client.logout()


def _set_server_flag(user, message_id: str, flag: str) -> None:
    client = imap_login(user)
    try:
        client.select("INBOX")
        _typ, data = client.uid("SEARCH", None, "HEADER", "Message-ID", message_id)
        client.uid("STORE", data[0].split()[0], "+FLAGS", f"({flag})")
    finally:
        client.logout()


def _mail(raw: bytes):
    return email.message_from_bytes(raw, policy=policy.default)


def test_a_contact_request_sends_no_receipt_until_accepted(
    make_person, django_capture_on_commit_callbacks
):
    alice = make_person("alice")
    stranger = add_mail_user("stranger")
    theirs = _received(alice, stranger, "Do you know me?", known=False)
    assert theirs.chat.is_request

    _open_chat(alice, theirs.chat_id, django_capture_on_commit_callbacks)
    assert _receipts_sent(alice) == []
    assert "\\Seen" not in _server_flags(alice.mail, theirs.message_id)

    requests.accept_chat(chat=theirs.chat)
    _open_chat(alice, theirs.chat_id, django_capture_on_commit_callbacks)
    [receipt] = _receipts_sent(alice)
    assert receipt.to_addresses == [stranger.email]


@pytest.mark.parametrize(
    "header", ["Chat-Disposition-Notification-To", "Disposition-Notification-To"]
)
def test_seeing_a_message_that_asks_sends_one_receipt_to_its_sender(
    make_person, django_capture_on_commit_callbacks, header
):
    alice = make_person("alice")
    bob = add_mail_user("bob")
    theirs = _received(alice, bob, "Did you get this?", header=header)
    assert theirs.receipt_to == bob.email and not theirs.seen

    _open_chat(alice, theirs.chat_id, django_capture_on_commit_callbacks)

    [receipt] = _receipts_sent(alice)
    assert receipt.state == Message.State.SENT and receipt.to_addresses == [bob.email]
    [raw] = fetch_raw_by_message_id(bob, "INBOX", receipt.message_id)
    parsed = parse_receipt(raw)
    assert parsed.message_ids == (theirs.message_id,) and parsed.disposition == "displayed"
    assert parsed.sender == alice.mail.email
    # Other clients of the mailbox (Delta Chat on the same account) see it was sent.
    flags = _server_flags(alice.mail, theirs.message_id)
    assert "$MDNSent" in flags and "\\Seen" in flags
    theirs.refresh_from_db()
    assert theirs.seen and theirs.receipt_sent


def test_a_second_tab_a_read_post_and_a_resync_send_no_second_receipt(
    make_person, django_capture_on_commit_callbacks
):
    alice = make_person("alice")
    bob = add_mail_user("bob")
    theirs = _received(alice, bob, "Only once, please")
    _open_chat(alice, theirs.chat_id, django_capture_on_commit_callbacks)
    assert len(_receipts_sent(alice)) == 1

    # Forget that it was read (as if the server lost \Seen), then look again everywhere.
    Message.objects.filter(pk=theirs.pk).update(seen=False)
    with django_capture_on_commit_callbacks(execute=True):
        _client(alice).get(f"/chats/{theirs.chat_id}/")
        _client(alice).post(f"/chats/{theirs.chat_id}/read/")
        _client(alice).get(f"/chats/{theirs.chat_id}/messages/?after=0")
    sync.sync_mailbox(alice.account.pk)
    _open_chat(alice, theirs.chat_id, django_capture_on_commit_callbacks)

    assert len(_receipts_sent(alice)) == 1
    assert len(fetch_raw_by_message_id(bob, "INBOX", _receipts_sent(alice)[0].message_id)) == 1


def test_several_unread_messages_are_acknowledged_in_one_receipt(
    make_person, django_capture_on_commit_callbacks
):
    alice = make_person("alice")
    bob = add_mail_user("bob")
    first = _received(alice, bob, "One")
    second = _received(alice, bob, "Two")

    _open_chat(alice, first.chat_id, django_capture_on_commit_callbacks)

    [receipt] = _receipts_sent(alice)
    parsed = parse_receipt(bytes(receipt.raw_outgoing))
    assert set(parsed.message_ids) == {first.message_id, second.message_id}


def test_no_receipt_when_the_person_turned_receipts_off(
    make_person, django_capture_on_commit_callbacks
):
    alice = make_person("alice")
    alice.user.send_read_receipts = False
    alice.user.save()
    bob = add_mail_user("bob")
    theirs = _received(alice, bob, "Read it yet?")

    _open_chat(alice, theirs.chat_id, django_capture_on_commit_callbacks)

    assert _receipts_sent(alice) == []
    theirs.refresh_from_db()
    assert theirs.seen
    flags = _server_flags(alice.mail, theirs.message_id)
    assert "\\Seen" in flags and "$MDNSent" not in flags


def test_no_receipt_when_another_client_already_sent_one(
    make_person, django_capture_on_commit_callbacks
):
    alice = make_person("alice")
    bob = add_mail_user("bob")
    requests.remember_known(alice.account, [bob.email])
    asks = {"Chat-Version": "1.0", "Chat-Disposition-Notification-To": bob.email}
    # One flagged before coiweb first fetched it, one flagged after it was stored.
    mid = send_plain_mail(
        sender=bob.email, to=alice.mail.email, subject="Hi", body="Seen on the phone", extra=asks
    )
    _wait_in_inbox(alice.mail, mid)
    _set_server_flag(alice.mail, mid, "$MDNSent")
    flagged_first = _sync_until(
        alice, lambda: Message.objects.filter(account=alice.account, message_id=mid).first()
    )
    flagged_later = _received(alice, bob, "Seen on the laptop")
    assert flagged_first.receipt_sent and not flagged_later.receipt_sent
    _set_server_flag(alice.mail, flagged_later.message_id, "$MDNSent")
    _sync_until(
        alice, lambda: Message.objects.filter(pk=flagged_later.pk, receipt_sent=True).exists()
    )

    _open_chat(alice, flagged_later.chat_id, django_capture_on_commit_callbacks)

    assert _receipts_sent(alice) == []
    assert Message.objects.filter(chat=flagged_later.chat, seen=True).count() == 2


def _wait_in_inbox(user, message_id: str) -> None:
    for _ in range(100):
        if fetch_raw_by_message_id(user, "INBOX", message_id):
            return
        time.sleep(0.1)
    raise AssertionError(f"{message_id} never reached {user.email}")


def test_no_receipt_for_own_mail_or_for_mail_that_did_not_ask(
    make_person, django_capture_on_commit_callbacks
):
    alice = make_person("alice")
    bob = add_mail_user("bob")
    # Our own mail (sent from another client, back to us) asking for a receipt to us.
    send_plain_mail(
        sender=alice.mail.email,
        to=alice.mail.email,
        subject="Note to self",
        body="Own mail",
        extra={"Chat-Version": "1.0", "Chat-Disposition-Notification-To": alice.mail.email},
    )
    own = _sync_until(
        alice, lambda: Message.objects.filter(account=alice.account, text="Own mail").first()
    )
    send_plain_mail(sender=bob.email, to=alice.mail.email, subject="Hi", body="No request")
    plain = _sync_until(
        alice, lambda: Message.objects.filter(account=alice.account, text="No request").first()
    )
    assert own.receipt_to == "" and plain.receipt_to == ""

    _open_chat(alice, own.chat_id, django_capture_on_commit_callbacks)
    _open_chat(alice, plain.chat_id, django_capture_on_commit_callbacks)

    assert _receipts_sent(alice) == []


def test_our_messages_ask_for_receipts_unless_the_sender_turned_them_off(make_person):
    alice = make_person("alice")
    chat = services.start_chat(user=alice.user, account=alice.account, address="bob@example.org")
    asking = delivery.send_message(user=alice.user, chat=chat, text="Tell me when you read it")
    assert _mail(bytes(asking.raw_outgoing))["Chat-Disposition-Notification-To"] == (
        alice.mail.email
    )
    # Plain mail clients prompt for the standard header; Delta Chat's own is enough.
    assert _mail(bytes(asking.raw_outgoing))["Disposition-Notification-To"] is None

    alice.user.send_read_receipts = False
    quiet = delivery.send_message(user=alice.user, chat=chat, text="No need to tell me")
    assert _mail(bytes(quiet.raw_outgoing))["Chat-Disposition-Notification-To"] is None


def test_group_changes_ask_for_no_receipt(make_person):
    alice = make_person("alice")
    group = services.create_group(
        user=alice.user, account=alice.account, name="Hikers", addresses=["bob@example.org"]
    )
    change = services.rename_group(user=alice.user, chat=group, name="Climbers")
    assert _mail(bytes(change.raw_outgoing))["Chat-Disposition-Notification-To"] is None


def _send_receipt(frm, to, original: str) -> None:
    """Deliver `frm`'s read receipt for `original` to `to`, and wait until it is there."""
    message_id = new_message_id("example.org")
    raw = build_receipt(
        Address("", frm.email),
        Address("", to.email),
        original,
        message_id=message_id,
        date=datetime.now(UTC),
    )
    server = mail_server()
    with smtplib.SMTP(server.host, server.smtp_port, timeout=10) as smtp:
        smtp.sendmail(frm.email, [to.email], raw)
    _wait_in_inbox(to, message_id)


def test_in_a_group_one_members_receipt_marks_our_message_read_a_strangers_does_not(
    make_person,
):
    alice = make_person("alice")
    bob, carol, mallory = add_mail_user("bob"), add_mail_user("carol"), add_mail_user("mallory")
    group = services.create_group(
        user=alice.user, account=alice.account, name="Trip", addresses=[bob.email, carol.email]
    )
    ours = delivery.send_message(user=alice.user, chat=group, text="Who is coming?")
    delivery.deliver_outbox(alice.account.pk)
    ours.refresh_from_db()
    assert ours.state == Message.State.SENT

    _send_receipt(mallory, alice.mail, ours.message_id)
    sync.sync_mailbox(alice.account.pk)
    ours.refresh_from_db()
    assert ours.state == Message.State.SENT

    _send_receipt(carol, alice.mail, ours.message_id)
    sync.sync_mailbox(alice.account.pk)
    ours.refresh_from_db()
    assert ours.state == Message.State.READ
    # Receipts are no bubbles of their own.
    assert list(Message.objects.filter(account=alice.account, is_control=False)) == [ours]


def test_the_page_shows_queued_sent_and_read_ticks(make_person):
    alice = make_person("alice")
    sync.sync_mailbox(alice.account.pk)  # what comes next is live mail, not history
    bob = add_mail_user("bob")
    chat = services.start_chat(user=alice.user, account=alice.account, address=bob.email)
    ours = delivery.send_message(user=alice.user, chat=chat, text="Ticks")

    def tick() -> str:
        page = _client(alice).get(f"/chats/{chat.pk}/").content.decode()
        return page.split(f'id="msg-{ours.pk}"')[1].split('class="tick"')[1].split("</span>")[0]

    assert "🕓" in tick()
    delivery.deliver_outbox(alice.account.pk)
    assert tick().endswith(">✓")
    _send_receipt(bob, alice.mail, ours.message_id)
    sync.sync_mailbox(alice.account.pk)
    assert tick().endswith(">✓✓")


def test_delta_chats_receipt_for_several_messages_marks_each_read(make_person):
    # Delta Chat's own MDN (tests/fixtures/mail), acknowledging three messages in one.
    alice = make_person("alice")
    sync.sync_mailbox(alice.account.pk)  # what comes next is live mail, not history
    carol = add_mail_user("carol")
    chat = services.start_chat(user=alice.user, account=alice.account, address=carol.email)
    ours = [delivery.send_message(user=alice.user, chat=chat, text=t) for t in "ABC"]
    delivery.deliver_outbox(alice.account.pk)
    raw = (Path(__file__).parent.parent / "fixtures/mail/delta-chat-mdn-several.eml").read_bytes()
    for old, new in zip(
        (
            b"<7721aac2-e2a4-4ee4-abe5-47011ed4f4c3@localhost>",
            b"<0b9a3c51-6e2f-4d8a-9c47-1f5e2d3a4b6c@localhost>",
            b"<c8e1f2a3-4b5c-4d6e-8f7a-9b0c1d2e3f4a@localhost>",
        ),
        ours,
        strict=True,
    ):
        raw = raw.replace(old, new.message_id.encode())
    raw = raw.replace(b"carol@example.org", carol.email.encode())
    raw = raw.replace(b"alice@example.org", alice.mail.email.encode())
    server = mail_server()
    with smtplib.SMTP(server.host, server.smtp_port, timeout=10) as smtp:
        smtp.sendmail(carol.email, [alice.mail.email], raw)

    _sync_until(
        alice,
        lambda: Message.objects.filter(pk__in=[m.pk for m in ours], state="read").count() == 3,
    )
