"""The long-running mailbox watcher: one thread per mailbox holds IMAP IDLE (or polls)
and queues a short Celery sync whenever the server reports a change.

Where chat mail reaches COI/Chats without any change in INBOX (a COI server filing with
message-filter "active", or our own fallback move), a second thread holds IDLE on COI/Chats
over its own connection. IMAP NOTIFY (RFC 5465) could watch both on one connection, but
far fewer servers offer it than IDLE, and one code path for every server is worth the
extra connection, which only these mailboxes pay.

IDLE lives here, not in a Celery task: a connection held for minutes would pin a worker
slot and be redelivered by the broker's visibility timeout.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import random
import socket
import threading
import time
import typing
import uuid
from concurrent.futures import ThreadPoolExecutor

import redis
from django.conf import settings
from django.db import close_old_connections, connection

from accounts.connections import imap_session
from accounts.models import MailAccount
from accounts.services import record_server_state
from chat import tasks
from chat.leases import Leases
from chat.sync import record_failure
from chat.watching import lease_namespace, watch_channel
from coiweb.redis import client as redis_client
from mailcore import imap
from mailcore.errors import AuthenticationFailed, MailError

if typing.TYPE_CHECKING:
    from imapclient import IMAPClient

log = logging.getLogger(__name__)

IDLE_CHECK_SECONDS = 30
MAX_BACKOFF_SECONDS = 300
CHANGE_RESPONSES = {b"EXISTS", b"EXPUNGE", b"FETCH", b"RECENT"}

# Opening a session (TLS handshake, login, probe, SELECT) and recording a failure run on
# these few threads, not on the mailbox's own: the handshake touches tens of KB of C stack
# and Django keeps a database wrapper per thread that touches it, and both stay resident for
# as long as the thread lives. Measured with 1,000 TLS IDLE sessions: 93 → 63 KB each
# (bench idle_scale: 203 → 177 MB). 16 threads made the start-up 60% slower than one thread
# per mailbox, 32 about 20%. A server that does not answer holds a slot for at most
# COIWEB_MAIL_TIMEOUT per attempt.
SETUP_THREADS = 32
_setup_threads = ThreadPoolExecutor(SETUP_THREADS, thread_name_prefix="watch-setup")


class MailboxWatch(threading.Thread):
    """Keeps one mailbox's INBOX (or, as a companion, its COI/Chats) under watch until stopped.

    The INBOX watch reads the server's state (capabilities, COI config) on each connect and
    starts or stops the COI/Chats companion to match.
    """

    def __init__(self, account: MailAccount, folder: str = "INBOX", *, primary: bool = True):
        super().__init__(name=f"watch-{account.pk}-{folder}", daemon=True)
        # Loaded by the watcher, so this thread touches the database only to record what
        # changed: a thousand threads each with their own connection state would cost
        # megabytes. A changed mailbox gets a new watch (Watcher.changed).
        self.account = account
        self.account_id = account.pk
        self.folder = folder
        self.primary = primary
        self.companion: MailboxWatch | None = None
        self.stopping = threading.Event()
        self.failures = 0
        self._socket: socket.socket | None = None

    def stop(self) -> None:
        """Stop now: closing the socket wakes a thread that is blocked in IDLE."""
        self.stopping.set()
        if self.companion is not None:
            self.companion.stop()
        sock = self._socket
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def run(self) -> None:
        try:
            self._watch()
        finally:
            if self.companion is not None:
                self.companion.stop()
            log.info("stopped watching %s", self._what())

    def _watch(self) -> None:
        account = self.account
        while not self.stopping.is_set():
            if not (self.primary or self._still_wanted(account)):
                return
            try:
                if account.has_capability("IDLE"):
                    self._idle(account)
                else:
                    self._poll(account)
            except AuthenticationFailed as exc:
                # Retrying a rejected password would only lock the person out: stop and wait
                # for a new password (the web side notifies us then).
                _setup_threads.submit(_record_failure, account, exc).result()
                return
            except MailError as exc:
                if self.stopping.is_set():
                    return  # our own stop() closed the connection
                self.failures += 1
                _setup_threads.submit(_record_failure, account, exc).result()
                self._backoff()
            except Exception:
                self.failures += 1
                log.exception("watch of mailbox %s crashed", self.account_id)
                self._backoff()

    def _what(self) -> str:
        if self.primary:
            return f"mailbox {self.account_id}"
        return f"{self.folder} of mailbox {self.account_id}"

    def _still_wanted(self, account: MailAccount) -> bool:
        return account.chats_bypass_inbox and account.coi_chats_folder == self.folder

    def _idle(self, account: MailAccount) -> None:
        with contextlib.ExitStack() as session:
            client = _setup_threads.submit(self._open, account, session).result()
            if client is None:
                return
            log.info("watching %s with IDLE", self._what())
            while not self.stopping.is_set():
                renew_at = time.monotonic() + settings.COIWEB_IDLE_RENEW_SECONDS
                client.idle()
                changed = False
                while not changed and not self.stopping.is_set() and time.monotonic() < renew_at:
                    responses = imap.idle_wait(client, IDLE_CHECK_SECONDS)
                    changed = any(_is_change(r) for r in responses)
                    if changed:
                        # Queue first: the DONE round trip need not delay the sync.
                        tasks.queue_sync(self.account_id)
                client.idle_done()

    def _open(self, account: MailAccount, session: contextlib.ExitStack) -> IMAPClient | None:
        """Log in, follow the server's state, SELECT and queue a catch-up sync (on a setup
        thread); the session is closed when `session` is, on the watch's own thread."""
        if self.stopping.is_set():
            return None
        client = session.enter_context(imap_session(account))
        self._socket = client.socket()
        if self.stopping.is_set():
            return None
        if self.primary:
            # COI may have been switched on or off elsewhere (another client, CREATE or
            # DELETE of COI/Chats): what the server says now decides what we watch.
            record_server_state(account=account, found=imap.probe(client))
            connection.close()
            self._follow_chats_folder(account)
        client.select_folder(self.folder, readonly=True)
        # Anything that arrived while we were not watching.
        tasks.queue_sync(self.account_id)
        self.failures = 0
        return client

    def _follow_chats_folder(self, account: MailAccount) -> None:
        want = account.coi_chats_folder if account.chats_bypass_inbox else None
        current = self.companion
        if current is not None and (current.folder != want or not current.is_alive()):
            current.stop()
            self.companion = None
        if want and self.companion is None and not self.stopping.is_set():
            self.companion = MailboxWatch(account, want, primary=False)
            self.companion.start()

    def _poll(self, account: MailAccount) -> None:
        log.info(
            "polling mailbox %s every %ss (no IDLE)", self.account_id, settings.COIWEB_POLL_SECONDS
        )
        while not self.stopping.is_set():
            tasks.queue_sync(self.account_id)
            self.failures = 0
            self.stopping.wait(settings.COIWEB_POLL_SECONDS)

    def _backoff(self) -> None:
        delay = min(MAX_BACKOFF_SECONDS, 2 ** min(self.failures, 9))
        self.stopping.wait(delay * random.uniform(0.5, 1.0))


def _record_failure(account: MailAccount, exc: MailError) -> None:
    record_failure(account, exc)
    connection.close()


def _is_change(response: tuple) -> bool:
    return len(response) >= 2 and response[1] in CHANGE_RESPONSES


class Watcher:
    """Watches a fair share of the active mailboxes, each under a lease in Redis.

    Several watchers (on several machines) split the mailboxes between them; when one
    dies its leases expire and the others take its mailboxes over.
    """

    def __init__(self) -> None:
        self.watches: dict[int, MailboxWatch] = {}
        self.stopping = threading.Event()
        owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        ttl = settings.COIWEB_LEASE_SECONDS
        self.leases = Leases(
            redis_client(), owner=owner, namespace=lease_namespace(), ttl_seconds=ttl
        )
        self.renew_every = ttl / 3

    def run(self) -> None:
        log.info("watcher %s started", self.leases.owner)
        failures = 0
        try:
            while not self.stopping.is_set():
                try:
                    self._follow()
                except redis.RedisError as exc:
                    # Redis is down or restarting: keep the IDLE connections, retry soon.
                    failures += 1
                    log.warning("redis unavailable (%s), retrying", exc)
                    self.stopping.wait(min(30, 2**failures) * random.uniform(0.5, 1.0))
                else:
                    failures = 0
        finally:
            self.shutdown()

    def _follow(self) -> None:
        pubsub = redis_client().pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(watch_channel())
            self.reconcile()
            next_reconcile = time.monotonic() + self.renew_every
            while not self.stopping.is_set():
                message = pubsub.get_message(timeout=1.0)
                if message is not None:
                    self.changed(int(message["data"]))
                if time.monotonic() >= next_reconcile:
                    self.reconcile()
                    next_reconcile = time.monotonic() + self.renew_every
        finally:
            with contextlib.suppress(redis.RedisError):
                pubsub.close()

    def reconcile(self) -> None:
        """Renew our leases, drop what we lost, and take unowned mailboxes up to our share."""
        close_old_connections()
        active = set(MailAccount.objects.filter(is_active=True).values_list("pk", flat=True))
        connection.close()
        self.leases.heartbeat()
        renewed = self.leases.renew_many([a for a in self.watches if a in active])
        for account_id in list(self.watches):
            if account_id not in active:
                self._drop(account_id)
            elif not renewed.get(account_id):
                log.warning("lost the lease on mailbox %s", account_id)
                self._drop(account_id, release=False)
            elif not self.watches[account_id].is_alive():
                self._drop(account_id, release=False)
                self._start(account_id)
        share = math.ceil(len(active) / self.leases.live_watchers())
        unowned = list(active - set(self.watches))
        random.shuffle(unowned)  # watchers starting together should not all try the same ones
        for account_id in unowned:
            if len(self.watches) >= share:
                break
            if self.leases.acquire(account_id):
                self._start(account_id)
        # A watcher that joined later gets room: hand back what is above our share.
        for account_id in list(self.watches)[share:]:
            self._drop(account_id)

    def changed(self, account_id: int) -> None:
        """A mailbox was linked or its settings changed: (re)watch it if it is ours to watch."""
        if account_id in self.watches:
            self.watches.pop(account_id).stop()
            self._start(account_id)
        elif self.leases.acquire(account_id):
            self._start(account_id)

    def _start(self, account_id: int) -> None:
        account = MailAccount.objects.filter(pk=account_id, is_active=True).first()
        connection.close()
        if account is None:
            self.leases.release(account_id)
            return
        watch = MailboxWatch(account)
        self.watches[account_id] = watch
        watch.start()

    def _drop(self, account_id: int, *, release: bool = True) -> None:
        self.watches.pop(account_id).stop()
        if release:
            self.leases.release(account_id)

    def shutdown(self) -> None:
        held = list(self.watches)
        for account_id in held:
            self.watches.pop(account_id).stop()
        with contextlib.suppress(redis.RedisError):
            for account_id in held:
                self.leases.release(account_id)
            self.leases.leave()
