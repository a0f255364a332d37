"""Celery tasks: ids in, one service call, nothing else."""

from __future__ import annotations

import random

from celery import shared_task

from pwa import notify, webpush


@shared_task
def notify_message(message_id: int) -> None:
    # One task per device: a device whose push service is down retries on its own,
    # without sending the others their notification twice.
    for subscription_id in notify.devices_to_notify(message_id):
        send_notification.delay(subscription_id, message_id)


@shared_task(bind=True, max_retries=8)
def send_notification(self, subscription_id: int, message_id: int) -> None:
    try:
        webpush.send_notification(subscription_id=subscription_id, message_id=message_id)
    except webpush.TryAgainLater as exc:
        backoff = min(600, 5 * 2 ** min(self.request.retries, 7)) * random.uniform(0.5, 1.0)
        countdown = min(exc.retry_after, 3600) if exc.retry_after else backoff
        raise self.retry(countdown=countdown, exc=exc) from None
