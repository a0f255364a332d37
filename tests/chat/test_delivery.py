"""Sending through real SMTP submission: states, failures with reasons, retry."""

from __future__ import annotations

import pytest

from chat import delivery, services
from chat.models import Message, MessageCopy
from tests.mailserver import add_mail_user, fetch_raw_by_message_id

pytestmark = pytest.mark.django_db


def test_a_sent_message_reaches_the_recipient_and_sent_holds_one_copy(make_person):
    alice = make_person("alice")
    bob = add_mail_user("bob")
    chat = services.start_chat(user=alice.user, account=alice.account, address=bob.email)
    message = delivery.send_message(user=alice.user, chat=chat, text="hello there")
    assert message.state == Message.State.QUEUED and message.message_id.startswith("<chat$")
    delivery.deliver_outbox(alice.account.pk)
    message.refresh_from_db()
    assert message.state == Message.State.SENT and message.send_attempts == 1
    assert len(fetch_raw_by_message_id(bob, "INBOX", message.message_id)) == 1
    assert len(fetch_raw_by_message_id(alice.mail, "Sent", message.message_id)) == 1
    assert MessageCopy.objects.filter(message=message, folder="Sent").count() == 1
    # Delivering again (a redelivered task) sends nothing more.
    delivery.deliver_outbox(alice.account.pk)
    assert len(fetch_raw_by_message_id(bob, "INBOX", message.message_id)) == 1


def test_a_refused_recipient_fails_visibly_and_can_be_retried(make_person):
    alice = make_person("alice")
    chat = services.start_chat(
        user=alice.user, account=alice.account, address="nobody-here@example.org"
    )
    message = delivery.send_message(user=alice.user, chat=chat, text="anyone?")
    delivery.deliver_outbox(alice.account.pk)
    message.refresh_from_db()
    assert message.state == Message.State.FAILED
    assert "refused" in message.send_error and "nobody-here@example.org" in message.send_error
    assert message.can_retry

    assert delivery.retry_message(message=message) is True
    message.refresh_from_db()
    assert message.state == Message.State.QUEUED and message.send_error == ""
    assert delivery.retry_message(message=message) is False  # only failed messages can be retried
    delivery.deliver_outbox(alice.account.pk)
    message.refresh_from_db()
    assert message.state == Message.State.FAILED and "refused" in message.send_error


def test_an_unreachable_server_is_retried_later_not_failed(make_person):
    alice = make_person("alice")
    bob = add_mail_user("bob")
    alice.account.smtp_port = 9  # discard port: nothing listens
    alice.account.save(update_fields=["smtp_port"])
    chat = services.start_chat(user=alice.user, account=alice.account, address=bob.email)
    message = delivery.send_message(user=alice.user, chat=chat, text="are you there?")
    with pytest.raises(delivery.TryAgainLater):
        delivery.deliver_outbox(alice.account.pk)
    message.refresh_from_db()
    assert message.state == Message.State.QUEUED
    assert "refused the connection" in message.send_error


def _inbox_texts(user) -> list[str]:
    from email import message_from_bytes, policy

    from tests.mailserver import imap_login

    client = imap_login(user)
    try:
        client.select("INBOX", readonly=True)
        _typ, data = client.uid("SEARCH", None, "ALL")
        texts = []
        for uid in data[0].split():
            _typ, parts = client.uid("FETCH", uid, "(BODY.PEEK[])")
            mail = message_from_bytes(parts[0][1], policy=policy.default)
            texts.append(mail.get_body(("plain",)).get_content().strip())
        return texts
    finally:
        client.logout()


def test_messages_written_while_the_server_is_down_go_out_later_in_order(make_person):
    alice = make_person("alice")
    bob = add_mail_user("bob")
    real_port = alice.account.smtp_port
    alice.account.smtp_port = 9
    alice.account.save(update_fields=["smtp_port"])
    chat = services.start_chat(user=alice.user, account=alice.account, address=bob.email)
    for n in range(3):
        delivery.send_message(user=alice.user, chat=chat, text=f"number {n}")
    with pytest.raises(delivery.TryAgainLater):
        delivery.deliver_outbox(alice.account.pk)
    assert list(Message.objects.filter(chat=chat).values_list("state", flat=True)) == ["queued"] * 3

    alice.account.smtp_port = real_port
    alice.account.save(update_fields=["smtp_port"])
    delivery.deliver_outbox(alice.account.pk)
    assert set(Message.objects.filter(chat=chat).values_list("state", flat=True)) == {"sent"}
    assert _inbox_texts(bob) == ["number 0", "number 1", "number 2"]


def test_a_send_cut_short_after_the_server_took_it_is_not_repeated(make_person):
    alice = make_person("alice")
    bob = add_mail_user("bob")
    chat = services.start_chat(user=alice.user, account=alice.account, address=bob.email)
    message = delivery.send_message(user=alice.user, chat=chat, text="only once")
    delivery.deliver_outbox(alice.account.pk)
    # As if the worker died right after the server accepted it: still "sending" here.
    Message.objects.filter(pk=message.pk).update(state=Message.State.SENDING)
    delivery.deliver_outbox(alice.account.pk)
    message.refresh_from_db()
    assert message.state == Message.State.SENT
    assert _inbox_texts(bob) == ["only once"]


def test_a_send_cut_short_before_the_server_took_it_is_sent_once(make_person):
    alice = make_person("alice")
    bob = add_mail_user("bob")
    chat = services.start_chat(user=alice.user, account=alice.account, address=bob.email)
    message = delivery.send_message(user=alice.user, chat=chat, text="after the crash")
    Message.objects.filter(pk=message.pk).update(state=Message.State.SENDING)  # died before SMTP
    delivery.deliver_outbox(alice.account.pk)
    message.refresh_from_db()
    assert message.state == Message.State.SENT and message.send_attempts == 1
    assert _inbox_texts(bob) == ["after the crash"]
