"""One shared Redis client per process (locks, watcher notifications)."""

from __future__ import annotations

from functools import cache

import redis
from django.conf import settings


@cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url, socket_timeout=10, socket_connect_timeout=5, health_check_interval=30
    )


def client() -> redis.Redis:
    return _client(settings.REDIS_URL)


def key(*parts: object) -> str:
    """A Redis key (or pub/sub channel) of this instance: named after its database, because
    pub/sub ignores Redis database numbers and instances may share one Redis."""
    return ":".join(["coiweb", str(settings.DATABASES["default"]["NAME"]), *map(str, parts)])
