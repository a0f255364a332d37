"""Push rendered fragments to a person's open pages, only after the data is committed."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

from channels.layers import get_channel_layer
from django.db import transaction
from django.template.loader import render_to_string

from chat import queries
from chat.models import Chat, Message


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def push_message(message: Message) -> None:
    """After commit, send the message row and its chat's list row to the owner's pages."""
    if message.is_control:
        return  # a reaction, edit or delete we send: its effect is pushed, not itself
    message_pk, chat_pk = message.pk, message.chat_id
    transaction.on_commit(lambda: _send_message(message_pk, chat_pk))


def push_removal(message: Message) -> None:
    """After commit, take a message off the owner's pages."""
    user_id, html = (
        message.account.user_id,
        f'<div id="msg-{message.pk}" hx-swap-oob="delete"></div>',
    )
    transaction.on_commit(lambda: _send(user_id, html))


def push_import_progress(account) -> None:
    """After commit, update the history import progress bar on the owner's pages."""
    user_id = account.user_id

    def send() -> None:
        progress = queries.import_progress(account)
        _send(
            user_id,
            render_to_string("chat/_import_progress.html", {"progress": progress, "push": True}),
        )

    transaction.on_commit(send)


def push_chat(chat: Chat) -> None:
    """After commit, refresh one chat's row in the owner's chat lists."""
    chat_pk = chat.pk
    transaction.on_commit(lambda: _send_chat_row(chat_pk))


def push_chat_removal(user_id: int, chat_pk: int) -> None:
    """After commit, take a deleted chat's row off the owner's lists."""
    transaction.on_commit(lambda: _send(user_id, _row_removal(chat_pk) + _list_entries(user_id)))


def push_chats(chat_pks) -> None:
    """After commit, refresh these chats' rows, one push per person (history import)."""
    pks = list(chat_pks)
    if pks:
        transaction.on_commit(lambda: _send_chat_rows(pks))


class HistoryPushes:
    """The chat rows a history import changes, pushed after commit at most once per
    `interval` seconds while it runs, and all that is left when it stops (`finish`).

    While it runs only the rows a page shows are pushed: those on the first page of a
    list. Rendering every changed row after every batch cost more than storing the batch;
    a page that loads more rows meanwhile gets them from the database.
    """

    def __init__(self, account, interval: float = 1.0) -> None:
        self.user_id = account.user_id
        self.interval = interval
        self.stale: set[int] = set()  # chats changed since their row was last pushed
        self.dirty = False  # something changed since the last push (the list counts too)
        self.last = float("-inf")

    def add(self, chat_pks) -> None:
        """Note a batch's changed chats (inside its transaction); push if it is time."""
        self.stale.update(chat_pks)
        self.dirty = self.dirty or bool(chat_pks)
        if self.dirty and time.monotonic() - self.last >= self.interval:
            self.last = time.monotonic()
            transaction.on_commit(lambda: self._send(everything=False))

    def finish(self) -> None:
        """Push every row still not pushed as it now is."""
        if self.dirty or self.stale:
            transaction.on_commit(lambda: self._send(everything=True))

    def _send(self, *, everything: bool) -> None:
        from accounts.models import User

        pks = set(self.stale)
        if not everything:
            pks = queries.on_first_pages(User(pk=self.user_id), pks)
        self.stale -= pks
        self.dirty = False
        rows = [_row_only(row) for row in queries.chat_rows(list(pks))]
        _send(self.user_id, "".join(rows) + _list_entries(self.user_id))


def _send_message(message_pk: int, chat_pk: int) -> None:
    message = queries.message_for_push(message_pk)
    row = queries.chat_row(chat_pk)
    if message is None or row is None or row.hidden:
        return
    html = render_to_string("chat/_message.html", {"message": message, "push": True})
    _send(row.account.user_id, html + _row_html(row))


def _send_chat_row(chat_pk: int) -> None:
    row = queries.chat_row(chat_pk)
    if row is not None:
        _send(row.account.user_id, _row_html(row))


def _row_html(row: Chat) -> str:
    """The chat's row for the list it belongs in (the page moves it there), or its
    removal when its mail is hidden; and the counts of requests and archived chats."""
    return _row_only(row) + _list_entries(row.account.user_id)


def _row_only(row: Chat) -> str:
    if row.hidden:
        return _row_removal(row.pk)
    return render_to_string("chat/_chat_row.html", {"chat": row, "push": True})


def _row_removal(chat_pk: int) -> str:
    return f'<li id="chat-{chat_pk}" hx-swap-oob="delete"></li>'


def _list_entries(user_id: int) -> str:
    from accounts.models import User

    counts = queries.list_counts(User(pk=user_id))
    return render_to_string("chat/_list_entries.html", {"counts": counts, "push": True})


def _send_chat_rows(chat_pks: list[int]) -> None:
    by_user: dict[int, list[str]] = {}
    for row in queries.chat_rows(chat_pks):
        by_user.setdefault(row.account.user_id, []).append(_row_only(row))
    for user_id, rows in by_user.items():
        _send(user_id, "".join(rows) + _list_entries(user_id))


log = logging.getLogger(__name__)
_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def _push_loop() -> asyncio.AbstractEventLoop:
    """One event loop per process for channel-layer sends from sync code.

    async_to_sync would start a fresh loop per call, and the Redis layer keeps its
    connections per loop: every push would pay for a new connection.
    """
    global _loop
    with _loop_lock:
        if _loop is None or _loop.is_closed():
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="push-loop", daemon=True).start()
        return _loop


def _send(user_id: int, html: str) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "page.push", "html": html}
    future = asyncio.run_coroutine_threadsafe(
        layer.group_send(user_group(user_id), message), _push_loop()
    )
    try:
        future.result(timeout=10)
    except Exception:
        # A page that misses a push refetches on reconnect; the data itself is stored.
        log.exception("push to user %s failed", user_id)
