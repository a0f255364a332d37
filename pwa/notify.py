"""Which devices hear of a new message, and what they show (sending it: pwa/webpush.py)."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from chat.models import BlockedAddress, Message
from pwa.models import PushSubscription

PREVIEW_CHARS = 120


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
