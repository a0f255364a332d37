"""Notifications of new messages to people's devices by Web Push: RFC 8030 delivery,
RFC 8291 payload encryption (aes128gcm), RFC 8292 VAPID sender identification."""

from __future__ import annotations

import enum
import json
import logging
from functools import cache

import requests
from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from py_vapid import Vapid
from pywebpush import WebPushException, webpush

from chat.models import BlockedAddress, Message
from coiweb.redis import client as redis_client
from coiweb.redis import key as redis_key
from pwa.models import PushSubscription

log = logging.getLogger(__name__)

PREVIEW_CHARS = 120
# How long a push service keeps a notification for a device that is off or offline.
TTL_SECONDS = 24 * 3600
PUSH_TIMEOUT_SECONDS = 10


class Outcome(enum.Enum):
    SENT = "sent"
    GONE = "gone"  # the subscription no longer exists and was deleted
    REJECTED = "rejected"  # the push service refused this notification; not retried
    SKIPPED = "skipped"  # nothing to send (already sent, already read, deleted meanwhile)


class TryAgainLater(Exception):
    """The push service could not take the notification now (unreachable, 429, 5xx)."""

    def __init__(self, reason: str, retry_after: int | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


def enabled() -> bool:
    return bool(settings.COIWEB_VAPID_PRIVATE_KEY)


def subscribe_device(*, user, endpoint: str, p256dh: str, auth: str) -> PushSubscription:
    """Remember a device's subscription for `user`.

    An endpoint belongs to one browser profile; when another person signs in there and
    subscribes, the endpoint moves to them, so it never notifies two people.
    """
    subscription, _ = PushSubscription.objects.update_or_create(
        endpoint=endpoint, defaults={"user": user, "p256dh": p256dh, "auth": auth}
    )
    return subscription


def unsubscribe_device(*, user, endpoint: str) -> bool:
    deleted, _ = PushSubscription.objects.filter(user=user, endpoint=endpoint).delete()
    return bool(deleted)


def notify_new_message(message: Message) -> None:
    """After commit, notify the owner's devices of a message that just arrived."""
    if not enabled() or message.is_outgoing or message.seen or not _wanted(message.chat):
        return
    from pwa import tasks

    message_pk = message.pk
    transaction.on_commit(lambda: tasks.notify_message.delay(message_pk))


def devices_to_notify(message_id: int) -> list[int]:
    """The subscriptions to notify of a message, or none if it needs no notification."""
    message = (
        Message.objects.select_related("account", "chat")
        .filter(pk=message_id, direction=Message.Direction.INCOMING, seen=False)
        .first()
    )
    if message is None or not _wanted(message.chat):
        return []
    if BlockedAddress.objects.filter(
        account_id=message.account_id, address=message.from_address
    ).exists():
        return []
    return list(
        PushSubscription.objects.filter(user_id=message.account.user_id)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _wanted(chat) -> bool:
    """Muted chats and contact requests wait quietly in the list (as in Delta Chat)."""
    return not chat.muted and not chat.is_request


def notification_payload(message: Message) -> dict:
    """What the service worker shows: who wrote, the start of the text, where to go."""
    text = " ".join(message.text.split()) or message.subject or "New message"
    if len(text) > PREVIEW_CHARS:
        text = text[: PREVIEW_CHARS - 1].rstrip() + "…"
    return {
        "title": message.from_name or message.chat.title,
        "body": text,
        "url": reverse("chat:chat_detail", args=[message.chat_id]),
        "tag": f"chat-{message.chat_id}",
    }


def send_notification(*, subscription_id: int, message_id: int) -> Outcome:
    """Send one device its notification of one message, once.

    Raises TryAgainLater when the push service may take it later; a subscription the
    service no longer knows (404, 410) is deleted.
    """
    subscription = PushSubscription.objects.filter(pk=subscription_id).first()
    message = Message.objects.select_related("chat").filter(pk=message_id).first()
    if subscription is None or message is None or message.seen:
        return Outcome.SKIPPED
    # Retries happen after a failure, but a worker can also die between the push service's
    # answer and the end of the task, which then runs again: remember what went out.
    sent_mark = redis_key("push-sent", subscription_id, message_id)
    if redis_client().exists(sent_mark):
        return Outcome.SKIPPED
    try:
        webpush(
            subscription.as_subscription_info(),
            data=_json(notification_payload(message)),
            vapid_private_key=_vapid(settings.COIWEB_VAPID_PRIVATE_KEY),
            vapid_claims={"sub": settings.COIWEB_VAPID_SUBJECT},
            content_encoding="aes128gcm",
            ttl=TTL_SECONDS,
            # RFC 8030, 5.4: an undelivered notification of the same chat is replaced.
            headers={"Topic": f"chat-{message.chat_id}"},
            timeout=PUSH_TIMEOUT_SECONDS,
        )
    except WebPushException as exc:
        return _failed(subscription, exc)
    except requests.RequestException as exc:
        raise TryAgainLater(f"push service unreachable: {exc.__class__.__name__}") from None
    redis_client().set(sent_mark, 1, ex=TTL_SECONDS)
    PushSubscription.objects.filter(pk=subscription.pk).update(last_success_at=timezone.now())
    return Outcome.SENT


def _failed(subscription: PushSubscription, exc: WebPushException) -> Outcome:
    status = exc.status_code
    if status is None:
        log.error("push subscription %s: cannot send: %s", subscription.pk, exc.message)
        return Outcome.REJECTED
    if status in (404, 410):
        # The browser unsubscribed, or the service expired the subscription: for good.
        subscription.delete()
        return Outcome.GONE
    if status == 429 or status >= 500:
        retry_after = exc.retry_after or ""
        raise TryAgainLater(
            f"push service answered {status}", int(retry_after) if retry_after.isdigit() else None
        )
    # 400 (malformed), 401/403 (VAPID refused, e.g. after a key change), 413 (too large):
    # sending the same again would be refused again.
    log.warning(
        "push subscription %s: the push service refused a notification with %s: %s",
        subscription.pk,
        status,
        exc.response.text[:200],
    )
    return Outcome.REJECTED


def _json(payload: dict) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


@cache
def _vapid(private_key: str) -> Vapid:
    return Vapid.from_string(private_key)
