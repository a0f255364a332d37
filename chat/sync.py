"""Bring a mailbox's folders into the database: fetch by UID, parse, store once."""

from __future__ import annotations

import logging
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.connections import imap_session
from accounts.models import MailAccount
from chat import chats, control, events, files, history, planner_stats, requests
from chat.exclusive import Outcome, run_exclusively
from chat.models import Chat, FolderState, Message, MessageCopy
from mailcore import coi, imap
from mailcore.errors import AuthenticationFailed, MailError
from mailcore.history_fetch import Batch, HistoryFetchProcess, fetch_batch
from mailcore.parse import ParsedMessage, parse_message, split_quote
from mailcore.receipts import receipt_requested
from pwa import notify

log = logging.getLogger(__name__)


def sync_mailbox(account_id: int) -> Outcome:
    """Sync the mailbox's chat folders; concurrent calls coalesce into one more pass."""
    account = MailAccount.objects.filter(pk=account_id, is_active=True).first()
    if account is None:
        return Outcome.RAN
    return run_exclusively(f"sync:{account_id}", lambda: _sync_once(account))


def active_mailbox_ids() -> list[int]:
    return list(MailAccount.objects.filter(is_active=True).values_list("pk", flat=True))


def mailboxes_with_history_left() -> list[int]:
    """Active mailboxes whose history import has not finished."""
    states = FolderState.objects.filter(account__is_active=True)
    unfinished = states.filter(history_below__gt=1) | states.exclude(history_controls=[])
    return sorted(set(unfinished.values_list("account_id", flat=True)))


def chat_folders(account: MailAccount) -> list[str]:
    """The folders whose mail belongs in chats: INBOX, Sent, and COI/Chats when it exists."""
    folders = ["INBOX"]
    if account.sent_folder:
        folders.append(account.sent_folder)
    if account.coi_chats_folder:
        folders.append(account.coi_chats_folder)
    return folders


def _sync_once(account: MailAccount) -> None:
    folders = chat_folders(account)
    try:
        with imap_session(account) as client:
            condstore = imap.enable_condstore(client)
            # New mail first in every folder, then removals: a message moved from one chat
            # folder to another gains its new copy before it loses the old one, and stays.
            for folder in folders:
                sync_folder(account, client, folder)
            for folder in folders:
                reconcile_folder(account, client, folder, condstore=condstore)
            if account.moves_chats_itself:
                move_chats_to_coi(account, client)
    except MailError as exc:
        record_failure(account, exc)
        if exc.transient:
            raise
        return
    record_success(account)


def move_chats_to_coi(account: MailAccount, client) -> int:
    """Fallback mode (coi-protocol 1.12): move the chat messages synced from INBOX into
    COI/Chats, creating it if needed; return how many moved.

    Each moved message keeps its one row: the new copy is recorded before the INBOX copy is
    forgotten, so it never leaves its chat, and what left INBOX is not moved again.
    """
    state = FolderState.objects.filter(account=account, folder="INBOX").first()
    if state is None or state.uidvalidity is None:
        return 0
    uids = sorted(
        MessageCopy.objects.filter(
            account=account,
            folder="INBOX",
            uidvalidity=state.uidvalidity,
            uid__lte=state.last_uid,
            message__is_chat=True,
        ).values_list("uid", flat=True)
    )
    if not uids:
        return 0
    target = account.coi_chats_folder
    if not target:
        found = imap.probe(client)
        target = found.coi_chats_folder or f"{coi.DEFAULT_ROOT}{found.separator}Chats"
        imap.ensure_folder(client, target)
        MailAccount.objects.filter(pk=account.pk).update(coi_chats_folder=target)
        account.coi_chats_folder = target
    # Learn the target's UIDVALIDITY and next UID first, so that the moved copies count as
    # new mail there (fetched now) rather than as history imported later.
    sync_folder(account, client, target)
    if not imap.move_messages(client, "INBOX", uids, target):
        log.warning("mailbox %s: the server can neither MOVE nor UID EXPUNGE", account.pk)
        return 0
    sync_folder(account, client, target)
    remove_copies(account, "INBOX", state.uidvalidity, set(uids))
    log.info("mailbox %s: moved %s chat messages to %s", account.pk, len(uids), target)
    return len(uids)


def sync_folder(account: MailAccount, client, folder: str) -> int:
    """Fetch what is new in `folder` and ingest it; return how many messages were new.

    Progress is saved after every batch, so a sync cut short resumes where it stopped.
    """
    state, _ = FolderState.objects.get_or_create(account=account, folder=folder)
    if state.uidvalidity is None:
        start_history(account, client, folder, state)
    new = 0
    batches = imap.fetch_new(client, folder, uidvalidity=state.uidvalidity, last_uid=state.last_uid)
    for batch in batches:
        if state.uidvalidity != batch.uidvalidity:
            # The server renumbered the folder: old copies are gone, and messages are
            # re-mapped through their Message-ID below, so nothing is shown twice.
            MessageCopy.objects.filter(account=account, folder=folder).exclude(
                uidvalidity=batch.uidvalidity
            ).delete()
            state.uidvalidity = batch.uidvalidity
            state.last_uid = 0
        for fetched in batch.messages:
            if ingest_fetched(account, folder, batch.uidvalidity, fetched):
                new += 1
        state.last_uid = max(state.last_uid, batch.highest_uid)
        state.synced_at = timezone.now()
        state.save(update_fields=["uidvalidity", "last_uid", "synced_at"])
    return new


def start_history(account: MailAccount, client, folder: str, state: FolderState) -> None:
    """First sight of a folder: live sync starts at its next UID, and what is already there
    is imported newest first: the newest batch right now (so recent chats show within a
    second or two), the rest by a background task."""
    status = imap.select(client, folder)
    state.uidvalidity = status.uidvalidity
    state.last_uid = status.uidnext - 1
    state.history_below = status.uidnext
    state.history_total = status.exists
    state.history_done = 0
    state.save(
        update_fields=["uidvalidity", "last_uid", "history_below", "history_total", "history_done"]
    )
    if state.importing:
        _import_batch(account, client, state)
    if state.importing or state.history_controls:
        from chat import tasks

        account_id = account.pk
        transaction.on_commit(lambda: tasks.import_history.delay(account_id))


HISTORY_SECONDS_PER_TASK = 20
# After the first batch (200, at once) history comes in larger ones: fewer round trips.
HISTORY_BATCH = 500


def import_history(account_id: int) -> bool:
    """Import older mail newest first, a batch at a time; True when more remains (the task
    then queues itself again, so a restart or crash loses nothing: progress is saved)."""
    account = MailAccount.objects.filter(pk=account_id, is_active=True).first()
    if account is None:
        return False
    more = False

    def job() -> None:
        nonlocal more
        deadline = time.monotonic() + HISTORY_SECONDS_PER_TASK
        states = _folders_to_import(account, done=set())
        left = sum(max(0, s.history_total - s.history_done) for s in states)
        pushes = events.HistoryPushes(account)
        try:
            with imap_session(account) as client, _fetcher(account, client, left) as fetcher:
                done: set[int] = set()
                while states:
                    for state in states:
                        _import_folder(account, state, fetcher, deadline, pushes)
                        done.add(state.pk)
                        more = more or state.importing
                    # A folder whose first sync came after this task started (a mailbox's
                    # first sync goes folder by folder): here too, not in a task of its own.
                    states = _folders_to_import(account, done=done)
                    if states and time.monotonic() >= deadline:
                        more = True  # for the next task
                        break
                fetcher.close()  # the connection is free again before anyone else uses it
                if not more:
                    history.apply_deferred_controls(account, client)
        finally:
            pushes.finish()

    outcome = run_exclusively(f"history:{account_id}", job)
    if outcome is Outcome.BUSY:
        return False  # another task imports it, and a retry is already planned
    # Busy and first to notice: try again later in case the importer died holding the lock.
    return more or outcome is Outcome.BUSY_NOTED


def _folders_to_import(account: MailAccount, *, done: set[int]) -> list[FolderState]:
    states = FolderState.objects.filter(account=account, history_below__gt=1)
    return list(states.exclude(pk__in=done))


def _import_folder(
    account: MailAccount,
    state: FolderState,
    fetcher,
    deadline: float,
    pushes: events.HistoryPushes,
) -> None:
    """Import batches of one folder: at least one, then while time lasts."""
    upcoming = fetcher.submit(state.folder, state.history_below, HISTORY_BATCH)
    try:
        while upcoming:
            batch = fetcher.result()
            upcoming = False
            if batch.remaining and time.monotonic() < deadline:
                upcoming = fetcher.submit(state.folder, batch.lowest, HISTORY_BATCH)
            _store_history_batch(account, state, batch, pushes)
            if not state.importing:
                break  # done, or renumbered: whatever was fetched ahead is not wanted
    finally:
        if upcoming:
            fetcher.discard()


# Below this many messages a helper process costs more to start than it saves.
HISTORY_PROCESS_MIN = 1500


def _fetcher(account: MailAccount, client, left: int):
    """Fetch and parse ahead in a child process (another core) for a large history, else
    in a thread on this process's session."""
    if settings.COIWEB_HISTORY_FETCH_PROCESS and left >= HISTORY_PROCESS_MIN:
        try:
            return HistoryFetchProcess(
                account.imap_endpoint,
                account.credentials(),
                extra_ca_file=settings.COIWEB_EXTRA_CA_FILE,
                timeout=settings.COIWEB_MAIL_TIMEOUT,
            )
        except OSError:
            log.exception("history import: no helper process, fetching in a thread")
    return _ThreadFetcher(client)


class _ThreadFetcher:
    """HistoryFetchProcess's interface, fetching on this process's session in one thread:
    it alone uses the connection meanwhile, and it touches no database."""

    def __init__(self, client) -> None:
        self._client = client
        self._pool = ThreadPoolExecutor(1, "history-fetch")
        self._futures: deque[Future] = deque()

    def submit(self, folder: str, below_uid: int, limit: int) -> bool:
        self._futures.append(self._pool.submit(fetch_batch, self._client, folder, below_uid, limit))
        return True

    def result(self) -> Batch:
        return self._futures.popleft().result()

    def discard(self) -> None:
        wait(self._futures)
        self._futures.clear()

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def __enter__(self) -> _ThreadFetcher:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _import_batch(account: MailAccount, client, state: FolderState) -> None:
    _store_history_batch(account, state, fetch_batch(client, state.folder, state.history_below))


def _store_history_batch(
    account: MailAccount,
    state: FolderState,
    batch: Batch,
    pushes: events.HistoryPushes | None = None,
) -> None:
    """Store a batch and its progress; its rows are pushed at once, or by `pushes`."""
    if batch.uidvalidity != state.uidvalidity:
        # Renumbered meanwhile: the live sync now fetches the whole folder again.
        state.history_below = 0
        state.save(update_fields=["history_below"])
        return
    # The batch and the progress mark commit together: a batch cut short is done again.
    with transaction.atomic():
        result = history.ingest_batch(account, state.folder, batch)
        state.history_controls = [*state.history_controls, *result.control_uids]
        state.history_below = batch.lowest if batch.remaining else 0
        state.history_done = min(state.history_total, state.history_done + len(batch.messages))
        state.save(update_fields=["history_below", "history_done", "history_controls"])
        if pushes is None:
            events.push_chats(result.chat_ids)
        else:
            pushes.add(result.chat_ids)
        events.push_import_progress(account)
    planner_stats.analyze_grown_tables()


FULL_FLAG_SYNC_SECONDS = 300


def reconcile_folder(account: MailAccount, client, folder: str, *, condstore: bool) -> None:
    """Apply what changed on the server to what we already have: expunges and \\Seen."""
    state = FolderState.objects.filter(account=account, folder=folder).first()
    if state is None or state.uidvalidity is None:
        return
    status = imap.select(client, folder)
    if status.uidvalidity != state.uidvalidity:
        return  # renumbered since the fetch: the next pass re-maps it
    copies = dict(
        MessageCopy.objects.filter(
            account=account, folder=folder, uidvalidity=state.uidvalidity, uid__lte=state.last_uid
        ).values_list("uid", "message_id")
    )
    if len(copies) > status.exists:
        gone = set(copies) - imap.all_uids(client)
        remove_copies(account, folder, state.uidvalidity, gone)
    now = timezone.now()
    if condstore and status.highest_modseq is not None:
        if state.highest_modseq is not None and status.highest_modseq > state.highest_modseq:
            apply_flags(
                account, copies, imap.fetch_flags(client, changed_since=state.highest_modseq)
            )
        state.highest_modseq = status.highest_modseq
    elif (
        state.flags_synced_at is None
        or (now - state.flags_synced_at).total_seconds() > FULL_FLAG_SYNC_SECONDS
    ):
        # Without CONDSTORE every flag must be fetched: do it now and then, not per message.
        apply_flags(account, copies, imap.fetch_flags(client))
        state.flags_synced_at = now
    state.save(update_fields=["highest_modseq", "flags_synced_at"])


def remove_copies(account: MailAccount, folder: str, uidvalidity: int, uids: set[int]) -> None:
    """Forget server copies that were expunged; a message with no copy left is removed."""
    if not uids:
        return
    with transaction.atomic():
        copies = MessageCopy.objects.filter(
            account=account, folder=folder, uidvalidity=uidvalidity, uid__any=uids
        )
        message_ids = set(copies.values_list("message_id", flat=True))
        copies.delete()
        orphans = Message.objects.filter(pk__in=message_ids, copies__isnull=True).select_related(
            "chat"
        )
        for message in orphans:
            events.push_removal(message)
            chat = message.chat
            message.delete()
            refresh_chat_summary(chat)


def apply_flags(
    account: MailAccount, copies: dict[int, int], flags: dict[int, frozenset[str]]
) -> None:
    """Mirror \\Seen set elsewhere (another client read it) onto our incoming messages,
    and $MDNSent (another client sent the read receipt), so we never send a second one."""
    mdn_sent_ids = [copies[uid] for uid, f in flags.items() if uid in copies and has_mdn_sent(f)]
    if mdn_sent_ids:
        Message.objects.filter(
            pk__any=mdn_sent_ids, direction=Message.Direction.INCOMING, receipt_sent=False
        ).update(receipt_sent=True)
    seen_ids = [copies[uid] for uid, f in flags.items() if uid in copies and "\\Seen" in f]
    if not seen_ids:
        return
    unseen = Message.objects.filter(
        pk__any=seen_ids, direction=Message.Direction.INCOMING, seen=False
    )
    chats = set(unseen.values_list("chat_id", flat=True))
    if unseen.update(seen=True):
        for chat in Chat.objects.filter(pk__in=chats):
            events.push_chat(chat)


def has_mdn_sent(flags: frozenset[str]) -> bool:
    """Whether a client already sent this message's read receipt (RFC 3503 $MDNSent)."""
    return any(flag.lower() == "$mdnsent" for flag in flags)


def refresh_chat_summary(chat: Chat) -> None:
    """Point the chat at its newest remaining message after one was removed."""
    latest = chat.messages.order_by("-sort_at", "-pk").first()
    Chat.objects.filter(pk=chat.pk).update(last_message=latest)
    events.push_chat(chat)


def ingest_fetched(
    account: MailAccount,
    folder: str,
    uidvalidity: int,
    fetched: imap.FetchedMessage,
    *,
    push: bool = True,
) -> Message | None:
    """Store one fetched message (or a new copy of a known one); return it if it was new."""
    if MessageCopy.objects.filter(
        account=account, folder=folder, uidvalidity=uidvalidity, uid=fetched.uid
    ).exists():
        return None
    return ingest_parsed(
        account, folder, uidvalidity, fetched, parse_message(fetched.raw), push=push
    )


def ingest_parsed(
    account: MailAccount,
    folder: str,
    uidvalidity: int,
    fetched: imap.FetchedMessage,
    parsed: ParsedMessage,
    *,
    push: bool = True,
) -> Message | None:
    """ingest_fetched for a message already parsed and known to have no copy yet."""
    try:
        with transaction.atomic():
            message, created = ingest_message(
                account,
                parsed,
                seen="\\Seen" in fetched.flags,
                receipt_sent=has_mdn_sent(fetched.flags),
                received_at=fetched.internal_date,
                partial=not fetched.complete,
                push=push,
                raw=fetched.raw,
            )
            if message is None:
                return None  # a control message, applied; the folder's UID mark covers it
            MessageCopy.objects.get_or_create(
                account=account,
                folder=folder,
                uidvalidity=uidvalidity,
                uid=fetched.uid,
                defaults={"message": message},
            )
    except IntegrityError:
        # Another sync stored the same Message-ID a moment ago; its row is the message.
        log.info("message %s already stored by a concurrent sync", parsed.message_id)
        return None
    return message if created else None


def ingest_message(
    account: MailAccount,
    parsed: ParsedMessage,
    *,
    seen: bool,
    received_at: datetime | None,
    partial: bool = False,
    push: bool = True,
    raw: bytes | None = None,
    receipt_sent: bool = False,
) -> tuple[Message | None, bool]:
    """Return the message row for `parsed`, creating it and its chat when it is new.

    Control messages (reactions, receipts, edits, deletes, bounces) are applied to their
    targets and give (None, False): they are no bubble of their own.
    """
    existing = Message.objects.filter(account=account, message_id=parsed.message_id).first()
    if existing is not None:
        if existing.is_outgoing and existing.state == Message.State.SENDING:
            # Our own copy showed up on the server: it went out even if the worker died.
            Message.objects.filter(pk=existing.pk, state=Message.State.SENDING).update(
                state=Message.State.SENT
            )
            existing.refresh_from_db()
            events.push_message(existing)
        return existing, False

    if control.consume(account, parsed):
        return None, False
    sender = parsed.from_.addr if parsed.from_ else ""
    outgoing = sender == account.email
    sort_at = arrival_time(parsed, received_at)
    placement = chats.place(account, parsed, when=sort_at, raw=raw)
    chat = placement.chat
    # Kept, but hidden: no row, no push, no unread count (queries filter it out).
    hidden = not outgoing and requests.is_blocked(account.pk, sender)
    sort_at = _sort_after_parent(chat, parsed, sort_at, live=push)
    message = new_message(
        account,
        chat,
        parsed,
        change=placement.change,
        sort_at=sort_at,
        seen=seen,
        partial=partial,
        receipt_sent=receipt_sent,
    )
    message.save()
    if parsed.attachments:
        files.record(message, parsed)
    if outgoing:
        # We wrote there (from here or another client): known people, an accepted chat.
        requests.remember_known(account, message.to_addresses)
        requests.accept_chat(chat=chat)
    elif push and chat.archived and not chat.muted and not hidden:
        # As in Delta Chat, new mail brings an archived chat back unless it is muted.
        Chat.objects.filter(pk=chat.pk).update(archived=False)
        chat.archived = False
    if hidden:
        return message, True
    touch_chat(chat, message)
    if push:  # live mail, not history being imported
        events.push_message(message)
        notify.notify_new_message(message)
    return message, True


def arrival_time(parsed: ParsedMessage, received_at: datetime | None) -> datetime:
    """When a message sorts in its chat before the parent rule: its Date, never the future."""
    now = timezone.now()
    return min(parsed.date or received_at or now, now)


def new_message(
    account: MailAccount,
    chat: Chat,
    parsed: ParsedMessage,
    *,
    change: str | None,
    sort_at: datetime,
    seen: bool,
    partial: bool,
    receipt_sent: bool = False,
) -> Message:
    """The unsaved row for a new incoming (or our own, found on the server) message."""
    fields = message_fields(
        account,
        parsed,
        change=change,
        sort_at=sort_at,
        seen=seen,
        partial=partial,
        receipt_sent=receipt_sent,
    )
    return Message(account=account, chat=chat, **fields)


def message_fields(
    account: MailAccount,
    parsed: ParsedMessage,
    *,
    change: str | None,
    sort_at: datetime,
    seen: bool,
    partial: bool,
    receipt_sent: bool = False,
) -> dict:
    """new_message's field values but its account and chat, for rows stored in bulk."""
    sender = parsed.from_.addr if parsed.from_ else ""
    outgoing = sender == account.email
    # A messenger's reply starts with the quoted message; show it as a quote, not as text.
    quote, body = split_quote(parsed.text) if parsed.is_chat else (None, parsed.text)
    if change is not None:
        quote, body = None, change
    return {
        "direction": Message.Direction.OUTGOING if outgoing else Message.Direction.INCOMING,
        "state": Message.State.SENT if outgoing else Message.State.RECEIVED,
        "message_id": parsed.message_id,
        "from_address": sender,
        "from_name": parsed.from_.name if parsed.from_ else "",
        "to_addresses": [a.addr for a in (*parsed.to, *parsed.cc)],
        "subject": parsed.subject[:998],
        "text": body,
        "quote_text": quote or "",
        "folded_text": parsed.folded_text,
        "html": parsed.html or "",
        "is_chat": parsed.is_chat,
        "is_system": change is not None,
        "in_reply_to": parsed.in_reply_to[0] if parsed.in_reply_to else "",
        "references": list(parsed.references),
        "problem": (parsed.problem or "")[:300],
        "sent_at": parsed.date,
        "sort_at": sort_at,
        "seen": seen or outgoing,
        "is_partial": partial,
        "receipt_to": "" if outgoing else (receipt_requested(parsed, account.email) or ""),
        "receipt_sent": receipt_sent,
    }


def _sort_after_parent(chat: Chat, parsed: ParsedMessage, sort_at, *, live: bool):
    """Keep a conversation in reading order.

    Date headers have whole seconds and clocks differ, so a quick answer can look older
    than what it answers. An answer sorts after its parent; and mail arriving live sorts
    after what the chat already shows (as Delta Chat does), history keeps its dates.
    """
    floor = None
    if parsed.in_reply_to:
        parent = chat.messages.filter(message_id=parsed.in_reply_to[0]).only("sort_at").first()
        floor = parent.sort_at if parent else None
    if live:
        latest = chat.messages.order_by("-sort_at").only("sort_at").first()
        if latest and (floor is None or latest.sort_at > floor):
            floor = latest.sort_at
    if floor is not None and sort_at <= floor:
        return floor + timedelta(microseconds=1)
    return sort_at


def touch_chat(chat: Chat, message: Message) -> None:
    """Make `message` the chat's latest when it is newer than what the chat shows."""
    Chat.objects.filter(pk=chat.pk, last_activity_at__lte=message.sort_at).update(
        last_activity_at=message.sort_at, last_message=message
    )
    Chat.objects.filter(pk=chat.pk, last_message__isnull=True).update(last_message=message)


def record_success(account: MailAccount) -> None:
    MailAccount.objects.filter(pk=account.pk).update(last_sync_at=timezone.now(), last_error="")


def record_failure(account: MailAccount, exc: MailError) -> None:
    """Remember why the mailbox could not be reached; a rejected password stops the watching."""
    fields = {"last_error": exc.user_message, "last_error_at": timezone.now()}
    if isinstance(exc, AuthenticationFailed):
        fields["is_active"] = False
    MailAccount.objects.filter(pk=account.pk).update(**fields)
    log.warning("mailbox %s: %s", account.pk, exc.user_message)
