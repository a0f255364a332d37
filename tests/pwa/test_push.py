"""Web Push of new messages, against a local push service that checks VAPID and decrypts."""

from __future__ import annotations

import email.utils

import pytest
from django.utils import timezone

from chat import requests, sync
from chat.models import Chat, Message
from mailcore.parse import parse_message
from pwa import notify, tasks, webpush
from pwa.models import PushSubscription

pytestmark = pytest.mark.django_db


def _subscribe(person, push_service):
    device = push_service.new_device()
    notify.subscribe_device(
        user=person.user, endpoint=device.endpoint, p256dh=device.p256dh, auth=device.auth
    )
    return device


def _incoming(account, *, text="See you at noon?", name="Fred Friendly", seen=False) -> Message:
    chat, _ = Chat.objects.get_or_create(
        account=account,
        peer_address="fred@example.org",
        defaults={"last_activity_at": timezone.now(), "name": name},
    )
    return Message.objects.create(
        account=account,
        chat=chat,
        direction="in",
        state="received",
        message_id=email.utils.make_msgid(domain="example.org"),
        from_address="fred@example.org",
        from_name=name,
        text=text,
        sort_at=timezone.now(),
        seen=seen,
    )


def _raw_mail(*, sender: str, to: str, body: str) -> bytes:
    return (
        f"From: Fred Friendly <{sender}>\r\nTo: {to}\r\nSubject: lunch\r\n"
        f"Date: {email.utils.formatdate()}\r\nMessage-ID: {email.utils.make_msgid()}\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


def test_a_new_message_reaches_every_device_of_its_owner_encrypted_for_each(
    make_person, push_service
):
    alice = make_person("alice")
    phone, laptop = _subscribe(alice, push_service), _subscribe(alice, push_service)
    message = _incoming(alice.account)

    tasks.notify_message.delay(message.pk)

    deliveries = {d.token: d for d in (push_service.next_delivery(), push_service.next_delivery())}
    assert set(deliveries) == {phone.token, laptop.token}
    for delivery in deliveries.values():
        assert (delivery.status, delivery.problem) == (201, "")  # VAPID checked, decrypted
        assert delivery.payload == {
            "title": "Fred Friendly",
            "body": "See you at noon?",
            "url": f"/chats/{message.chat_id}/",
            "tag": f"chat-{message.chat_id}",
        }
        assert delivery.headers["topic"] == f"chat-{message.chat_id}"
        assert int(delivery.headers["ttl"]) >= 3600
    # Each device's copy is encrypted for that device alone.
    assert deliveries[phone.token].body != deliveries[laptop.token].body
    assert all(s.last_success_at for s in PushSubscription.objects.filter(user=alice.user))


def test_only_the_owners_devices_are_notified(make_person, push_service):
    alice, bob = make_person("alice"), make_person("bob")
    _subscribe(alice, push_service)
    bobs = _subscribe(bob, push_service)

    tasks.notify_message.delay(_incoming(bob.account).pk)

    assert push_service.next_delivery().token == bobs.token
    assert push_service.no_more_deliveries()


def test_the_preview_is_one_short_line(make_person, push_service):
    alice = make_person("alice")
    _subscribe(alice, push_service)
    long_text = "Dear Alice,\n\n" + "word " * 100

    tasks.notify_message.delay(_incoming(alice.account, text=long_text, name="").pk)

    payload = push_service.next_delivery().payload
    assert payload["title"] == "fred@example.org"  # no name: the chat's title, its address
    assert payload["body"].startswith("Dear Alice, word word")
    assert "\n" not in payload["body"] and len(payload["body"]) <= notify.PREVIEW_CHARS


@pytest.mark.parametrize("status", [404, 410])
def test_a_subscription_the_push_service_no_longer_knows_is_deleted(
    make_person, push_service, status
):
    alice = make_person("alice")
    gone, kept = _subscribe(alice, push_service), _subscribe(alice, push_service)
    push_service.answer(gone, status)

    tasks.notify_message.delay(_incoming(alice.account).pk)

    answers = {
        d.token: d.status for d in (push_service.next_delivery(), push_service.next_delivery())
    }
    assert answers == {gone.token: status, kept.token: 201}
    assert list(PushSubscription.objects.values_list("endpoint", flat=True)) == [kept.endpoint]
    assert push_service.no_more_deliveries()


def test_a_push_service_error_is_retried_and_the_subscription_kept(make_person, push_service):
    alice = make_person("alice")
    flaky, fine = _subscribe(alice, push_service), _subscribe(alice, push_service)
    push_service.answer(flaky, 500, 503)

    tasks.notify_message.delay(_incoming(alice.account).pk)  # eager: retries come at once

    deliveries = [push_service.next_delivery() for _ in range(4)]
    assert [d.status for d in deliveries if d.token == flaky.token] == [500, 503, 201]
    # The other device got its notification once, not again with each retry.
    assert [d.status for d in deliveries if d.token == fine.token] == [201]
    assert push_service.no_more_deliveries()
    assert PushSubscription.objects.get(endpoint=flaky.endpoint).last_success_at is not None


def test_a_device_whose_push_service_stays_down_is_kept_after_the_last_retry(
    make_person, push_service
):
    alice = make_person("alice")
    device = _subscribe(alice, push_service)
    push_service.answer(device, *[500] * 20)

    tasks.notify_message.delay(_incoming(alice.account).pk)

    attempts = 1 + tasks.send_notification.max_retries
    assert [push_service.next_delivery().status for _ in range(attempts)] == [500] * attempts
    assert push_service.no_more_deliveries()
    subscription = PushSubscription.objects.get(endpoint=device.endpoint)
    assert subscription.last_success_at is None


def test_a_refused_notification_is_not_retried(make_person, push_service):
    alice = make_person("alice")
    device = _subscribe(alice, push_service)
    push_service.answer(device, 403)

    tasks.notify_message.delay(_incoming(alice.account).pk)

    assert push_service.next_delivery().status == 403
    assert push_service.no_more_deliveries()
    assert PushSubscription.objects.filter(endpoint=device.endpoint).exists()


def test_a_notification_goes_out_once_even_if_its_task_runs_again(make_person, push_service):
    alice = make_person("alice")
    _subscribe(alice, push_service)
    message = _incoming(alice.account)
    subscription = PushSubscription.objects.get()

    first = webpush.send_notification(subscription_id=subscription.pk, message_id=message.pk)
    again = webpush.send_notification(subscription_id=subscription.pk, message_id=message.pk)

    assert (first, again) == (webpush.Outcome.SENT, webpush.Outcome.SKIPPED)
    assert push_service.next_delivery().status == 201
    assert push_service.no_more_deliveries()


def test_a_message_read_before_its_push_goes_out_is_not_notified(make_person, push_service):
    alice = make_person("alice")
    _subscribe(alice, push_service)
    message = _incoming(alice.account)
    Message.objects.filter(pk=message.pk).update(seen=True)

    tasks.notify_message.delay(message.pk)

    assert push_service.no_more_deliveries()


def test_live_incoming_mail_notifies_but_history_own_and_read_mail_do_not(
    make_person, push_service, django_capture_on_commit_callbacks
):
    alice = make_person("alice")
    _subscribe(alice, push_service)
    mail = alice.mail.email

    def ingest(raw: bytes, **kwargs) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            sync.ingest_message(alice.account, parse_message(raw), received_at=None, **kwargs)

    ingest(
        _raw_mail(sender="old@example.org", to=mail, body="from the archive"),
        seen=False,
        push=False,
    )
    ingest(_raw_mail(sender=mail, to="fred@example.org", body="sent elsewhere"), seen=False)
    ingest(_raw_mail(sender="read@example.org", to=mail, body="read elsewhere"), seen=True)
    assert push_service.no_more_deliveries()

    ingest(_raw_mail(sender="fred@example.org", to=mail, body="Lunch at noon?"), seen=False)
    assert push_service.next_delivery().payload["body"] == "Lunch at noon?"
    assert push_service.no_more_deliveries()


def test_nothing_is_queued_while_web_push_is_off(make_person, settings, monkeypatch):
    settings.COIWEB_VAPID_PRIVATE_KEY = ""
    alice = make_person("alice")
    queued = []
    monkeypatch.setattr(tasks.notify_message, "delay", queued.append)

    notify.notify_new_message(_incoming(alice.account))

    assert queued == []


def test_mail_arriving_in_the_mailbox_becomes_a_decryptable_push(
    make_person, push_service, django_capture_on_commit_callbacks
):
    from tests.mailserver import add_mail_user, send_plain_mail

    alice = make_person("alice")
    sync.sync_mailbox(alice.account.pk)  # the empty mailbox is seen: what comes next is live
    _subscribe(alice, push_service)
    fred = add_mail_user("fred")
    requests.remember_known(alice.account, [fred.email])  # she wrote to him: no request

    send_plain_mail(
        sender=f"Fred <{fred.email}>", to=alice.mail.email, subject="Hi", body="Coffee at 4?"
    )
    for _ in range(50):
        with django_capture_on_commit_callbacks(execute=True):
            sync.sync_mailbox(alice.account.pk)
        if Message.objects.filter(account=alice.account).exists():
            break

    chat = Chat.objects.get(account=alice.account)
    payload = push_service.next_delivery().payload
    assert payload == {
        "title": "Fred",
        "body": "Coffee at 4?",
        "url": f"/chats/{chat.pk}/",
        "tag": f"chat-{chat.pk}",
    }
