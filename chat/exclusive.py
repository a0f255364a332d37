"""Run one job per key at a time across all workers; callers that find it busy leave
a note so the running job makes one more pass instead of the work being lost."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from enum import Enum

from coiweb.redis import client as redis_client
from coiweb.redis import key as redis_key

log = logging.getLogger(__name__)

# Short, and kept alive while the job runs: a worker killed mid-job frees the key soon.
LOCK_SECONDS = 30


class Outcome(Enum):
    RAN = "ran"
    BUSY = "busy"  # someone else runs it and had already been asked for another pass
    BUSY_NOTED = "busy, noted"  # someone else runs it; we were first to ask for another pass


def run_exclusively(key: str, job: Callable[[], None]) -> Outcome:
    """Run `job` (again while others asked for it meanwhile) unless someone else runs it."""
    redis = redis_client()
    pending_key = redis_key("pending", key)
    # thread_local=False: the keep-alive thread must be able to extend the lock.
    lock = redis.lock(redis_key("lock", key), timeout=LOCK_SECONDS, thread_local=False)
    if not lock.acquire(blocking=False):
        first = redis.set(pending_key, 1, ex=LOCK_SECONDS * 4, nx=True)
        return Outcome.BUSY_NOTED if first else Outcome.BUSY
    stop = threading.Event()
    keeper = threading.Thread(target=_keep_alive, args=(lock, stop), daemon=True)
    keeper.start()
    try:
        while True:
            redis.delete(pending_key)
            job()
            if not redis.exists(pending_key):
                return Outcome.RAN
    finally:
        stop.set()
        keeper.join()
        try:
            lock.release()
        except Exception:
            log.warning("lock %s expired before its job finished", key)


def _keep_alive(lock, stop: threading.Event) -> None:
    while not stop.wait(LOCK_SECONDS / 3):
        try:
            lock.reacquire()
        except Exception:
            log.warning("could not extend lock %s", lock.name)
            return
