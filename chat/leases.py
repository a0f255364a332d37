"""Mailbox leases in Redis: each mailbox is watched by exactly one watcher process at a
time, and another takes it over when the owner stops renewing (it died)."""

from __future__ import annotations

import time

import redis

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class Leases:
    """Leases held by one watcher (`owner`) within a namespace (one per database)."""

    def __init__(
        self, client: redis.Redis, *, owner: str, namespace: str, ttl_seconds: float
    ) -> None:
        self.redis = client
        self.owner = owner
        self.namespace = namespace
        self.ttl_ms = int(ttl_seconds * 1000)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def _key(self, account_id: int) -> str:
        return f"{self.namespace}:lease:{account_id}"

    def acquire(self, account_id: int) -> bool:
        return bool(self.redis.set(self._key(account_id), self.owner, nx=True, px=self.ttl_ms))

    def renew_many(self, account_ids: list[int]) -> dict[int, bool]:
        """Renew several leases in one round trip; a lapsed one that nobody took is taken back."""
        pipe = self.redis.pipeline(transaction=False)
        for account_id in account_ids:
            self._renew(keys=[self._key(account_id)], args=[self.owner, self.ttl_ms], client=pipe)
        renewed = dict(zip(account_ids, (bool(r) for r in pipe.execute()), strict=True))
        lapsed = [a for a, ok in renewed.items() if not ok]
        if lapsed:
            pipe = self.redis.pipeline(transaction=False)
            for account_id in lapsed:
                pipe.set(self._key(account_id), self.owner, nx=True, px=self.ttl_ms)
            for account_id, taken in zip(lapsed, pipe.execute(), strict=True):
                renewed[account_id] = bool(taken)
        return renewed

    def release(self, account_id: int) -> None:
        self._release(keys=[self._key(account_id)], args=[self.owner])

    def owner_of(self, account_id: int) -> str | None:
        value = self.redis.get(self._key(account_id))
        return value.decode() if isinstance(value, bytes) else value

    # Live watchers announce themselves so each can take a fair share of the mailboxes.
    def _roster(self) -> str:
        return f"{self.namespace}:roster"

    def heartbeat(self) -> None:
        now = time.time()
        self.redis.zadd(self._roster(), {self.owner: now})
        self.redis.zremrangebyscore(self._roster(), "-inf", now - self.ttl_ms / 1000)

    def live_watchers(self) -> int:
        return max(1, self.redis.zcount(self._roster(), time.time() - self.ttl_ms / 1000, "+inf"))

    def leave(self) -> None:
        self.redis.zrem(self._roster(), self.owner)
