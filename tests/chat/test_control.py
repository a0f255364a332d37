"""Reactions, read receipts, edits, deletes and bounces arriving from a real mailbox are
applied to the messages they concern and never shown as bubbles of their own."""

from __future__ import annotations

import smtplib
import time
from datetime import UTC, datetime

import pytest

from chat import delivery, services, sync
from chat.models import Message, Reaction
from mailcore.addresses import Address
from mailcore.edits import build_delete, build_edit
from mailcore.message_ids import new_message_id
from mailcore.reactions import build_reaction
from mailcore.receipts import build_receipt
from tests.mailserver import add_mail_user, mail_server, send_plain_mail

pytestmark = pytest.mark.django_db


def _deliver(to: str, raw: bytes, sender: str) -> None:
    server = mail_server()
    with smtplib.SMTP(server.host, server.smtp_port, timeout=10) as smtp:
        smtp.sendmail(sender, [to], raw)


def _sync_until(person, predicate) -> None:
    for _ in range(50):
        sync.sync_mailbox(person.account.pk)
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached")


def _now():
    return datetime.now(UTC)


@pytest.fixture
def conversation(make_person):
    """Alice (coiweb) and Bob (any mail client): Bob wrote once, Alice answered once."""
    alice = make_person("alice")
    sync.sync_mailbox(alice.account.pk)
    bob = add_mail_user("bob")
    send_plain_mail(sender=bob.email, to=alice.mail.email, subject="hi", body="Hello Alice")
    _sync_until(alice, lambda: Message.objects.filter(account=alice.account).exists())
    incoming = Message.objects.get(account=alice.account)
    ours = delivery.send_message(user=alice.user, chat=incoming.chat, text="Hello Bob")
    delivery.deliver_outbox(alice.account.pk)
    ours.refresh_from_db()
    return alice, bob, incoming, ours


def _bob(bob):
    return Address("Bob", bob.email)


def test_a_reaction_shows_on_its_message_and_a_new_one_replaces_it(conversation):
    alice, bob, _incoming, ours = conversation
    to = (Address("", alice.mail.email),)
    for emoji in ("👍", "❤️"):
        raw = build_reaction(
            _bob(bob),
            to,
            ours.message_id,
            emoji,
            message_id=new_message_id("example.org"),
            date=_now(),
        )
        _deliver(alice.mail.email, raw, bob.email)
        _sync_until(alice, lambda e=emoji: Reaction.objects.filter(message=ours, emoji=e).exists())
    assert list(Reaction.objects.filter(message=ours).values_list("sender", "emoji")) == [
        (bob.email, "❤️")
    ]
    raw = build_reaction(
        _bob(bob), to, ours.message_id, "", message_id=new_message_id("example.org"), date=_now()
    )
    _deliver(alice.mail.email, raw, bob.email)
    _sync_until(alice, lambda: not Reaction.objects.filter(message=ours).exists())
    assert Message.objects.filter(account=alice.account).count() == 2  # no reaction bubbles


def test_a_read_receipt_marks_our_message_read(conversation):
    alice, bob, _incoming, ours = conversation
    assert ours.state == Message.State.SENT
    raw = build_receipt(
        _bob(bob),
        Address("", alice.mail.email),
        ours.message_id,
        message_id=new_message_id("example.org"),
        date=_now(),
    )
    _deliver(alice.mail.email, raw, bob.email)
    _sync_until(alice, lambda: Message.objects.get(pk=ours.pk).state == Message.State.READ)
    assert Message.objects.filter(account=alice.account).count() == 2


def test_only_the_author_can_edit_or_delete_a_message(conversation):
    alice, bob, incoming, ours = conversation
    to = (Address("", alice.mail.email),)
    # Bob may not edit Alice's message...
    raw = build_edit(
        _bob(bob),
        to,
        ours.message_id,
        "forged",
        message_id=new_message_id("example.org"),
        date=_now(),
    )
    _deliver(alice.mail.email, raw, bob.email)
    # ...but may edit and then delete his own.
    raw = build_edit(
        _bob(bob),
        to,
        incoming.message_id,
        "Hello Alice, edited",
        message_id=new_message_id("example.org"),
        date=_now(),
    )
    _deliver(alice.mail.email, raw, bob.email)
    _sync_until(alice, lambda: Message.objects.get(pk=incoming.pk).is_edited)
    assert Message.objects.get(pk=incoming.pk).text == "Hello Alice, edited"
    assert (
        Message.objects.get(pk=ours.pk).text == "Hello Bob"
        and not Message.objects.get(pk=ours.pk).is_edited
    )
    raw = build_delete(
        _bob(bob), to, (incoming.message_id,), message_id=new_message_id("example.org"), date=_now()
    )
    _deliver(alice.mail.email, raw, bob.email)
    _sync_until(alice, lambda: Message.objects.get(pk=incoming.pk).is_deleted)
    assert Message.objects.get(pk=incoming.pk).text == ""
    assert Message.objects.filter(account=alice.account).count() == 2


def test_a_bounce_marks_our_message_failed_with_the_reason(make_person):
    alice = make_person("alice")
    sync.sync_mailbox(alice.account.pk)
    chat = services.start_chat(
        user=alice.user, account=alice.account, address="someone@elsewhere.example"
    )
    ours = delivery.send_message(user=alice.user, chat=chat, text="are you there?")
    Message.objects.filter(pk=ours.pk).update(state=Message.State.SENT)
    dsn = (
        f"From: MAILER-DAEMON@mail.example.org\r\nTo: {alice.mail.email}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: <bounce-{ours.pk}@mail.example.org>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mail.example.org\r\n\r\n"
        "Final-Recipient: rfc822; someone@elsewhere.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n"
        f"--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {ours.message_id}\r\nFrom: {alice.mail.email}\r\n"
        "--b--\r\n"
    )
    _deliver(alice.mail.email, dsn.encode(), "")
    _sync_until(alice, lambda: Message.objects.get(pk=ours.pk).state == Message.State.FAILED)
    assert "no such user" in Message.objects.get(pk=ours.pk).send_error
    assert Message.objects.filter(account=alice.account).count() == 1
