"""Celery tasks: ids in, one service call, nothing else."""

from __future__ import annotations

import random

from celery import shared_task

from chat import delivery, flags, sync
from chat.exclusive import LOCK_SECONDS, Outcome
from coiweb.redis import client as redis_client
from coiweb.redis import key as redis_key
from mailcore.errors import MailError


@shared_task(
    autoretry_for=(MailError,),
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=8,
)
def sync_mailbox(account_id: int) -> None:
    redis_client().delete(_queued_key(account_id))
    if sync.sync_mailbox(account_id) is Outcome.BUSY_NOTED:
        # The running sync will make another pass; should its worker have died instead,
        # its lock lapses and this later attempt does the work.
        sync_mailbox.apply_async((account_id,), countdown=LOCK_SECONDS + 1)


@shared_task(bind=True, max_retries=None)
def deliver_outbox(self, account_id: int) -> None:
    redis_client().delete(_retry_key(account_id))
    try:
        outcome = delivery.deliver_outbox(account_id)
    except (delivery.TryAgainLater, MailError):
        # One retry chain per mailbox: concurrent sends while the server is down must not
        # each start their own (they would hammer it and race each other).
        if redis_client().set(_retry_key(account_id), 1, nx=True, ex=900):
            countdown = min(600, 5 * 2 ** min(self.request.retries, 7)) * random.uniform(0.5, 1.0)
            raise self.retry(countdown=countdown) from None
        return
    if outcome is Outcome.BUSY_NOTED:
        deliver_outbox.apply_async((account_id,), countdown=LOCK_SECONDS + 1)


def _retry_key(account_id: int) -> str:
    return redis_key("outbox-retry", account_id)


@shared_task(autoretry_for=(MailError,), retry_backoff=2, retry_backoff_max=300, max_retries=8)
def store_seen(account_id: int, message_ids: list[int], mdn_sent: list[int] | None = None) -> None:
    flags.store_seen(account_id, message_ids, mdn_sent=mdn_sent or [])


@shared_task
def sync_all_mailboxes() -> None:
    for account_id in sync.active_mailbox_ids():
        queue_sync(account_id)
    # A history import cut short by a restart goes on now, not when its task is redelivered.
    for account_id in sync.mailboxes_with_history_left():
        import_history.delay(account_id)


@shared_task(autoretry_for=(MailError,), retry_backoff=5, retry_backoff_max=300, max_retries=None)
def import_history(account_id: int) -> None:
    if sync.import_history(account_id):
        import_history.apply_async((account_id,), countdown=1)


def _queued_key(account_id: int) -> str:
    return redis_key("sync-queued", account_id)


def queue_sync(account_id: int) -> None:
    """Queue a sync unless one for this mailbox is already waiting in the queue.

    Bursts (a thousand watches starting, a worker's catch-up, many EXISTS) would otherwise
    pile up thousands of identical tasks in front of live mail. The mark expires on its
    own, so a task lost with its queue cannot silence a mailbox for long.
    """
    if redis_client().set(_queued_key(account_id), 1, nx=True, ex=60):
        sync_mailbox.delay(account_id)
