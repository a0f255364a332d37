"""How the web side tells the mailbox watchers that a mailbox was linked or changed."""

from __future__ import annotations

from coiweb.redis import client as redis_client
from coiweb.redis import key as redis_key


def watch_channel() -> str:
    return redis_key("watch")


def lease_namespace() -> str:
    return redis_key("watchers")


def notify_watchers(account_id: int) -> None:
    redis_client().publish(watch_channel(), str(account_id))
