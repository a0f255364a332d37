"""History import in bulk: a fetched batch of old mail stored with a handful of queries.

Live mail goes through sync.ingest_fetched one message at a time (it is pushed, notified
and sorted after what a chat shows). History is stored newest first by the batch: plain
one-to-one mail in bulk; groups and messages we already have one at a time, through the
same code as live mail; control messages (reactions, edits, receipts…) are set aside,
because what they change is older and comes in later batches, and are applied in the
order they were written once all history is in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Case, F, OuterRef, Q, Subquery, When
from django.db.models.functions import Greatest

from accounts.models import MailAccount
from chat import bulk, chats, control, files, requests, sync
from chat.models import (
    Attachment,
    BlockedAddress,
    Chat,
    FolderState,
    KnownAddress,
    Message,
    MessageCopy,
)
from mailcore import imap
from mailcore.classify import classify
from mailcore.history_fetch import Batch
from mailcore.parse import ParsedMessage, parse_message

_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class BatchResult:
    chat_ids: set[int] = field(default_factory=set)  # chats whose list row changed
    control_uids: list[int] = field(default_factory=list)  # to apply when history is in


def ingest_batch(account: MailAccount, folder: str, batch: Batch) -> BatchResult:
    """Store a batch of history (inside the caller's transaction); nothing is stored twice."""
    result = BatchResult()
    uidvalidity = batch.uidvalidity
    known = set(
        MessageCopy.objects.filter(
            account=account,
            folder=folder,
            uidvalidity=uidvalidity,
            uid__any=[f.uid for f in batch.messages],
        ).values_list("uid", flat=True)
    )
    items = [
        (f, p) for f, p in zip(batch.messages, batch.parsed, strict=True) if f.uid not in known
    ]
    stored = set(
        Message.objects.filter(
            account=account, message_id__any={p.message_id for _, p in items}
        ).values_list("message_id", flat=True)
    )
    blocked = set(
        BlockedAddress.objects.filter(
            account=account, address__any={p.from_.addr for _, p in items if p.from_}
        ).values_list("address", flat=True)
    )
    simple, one_by_one = [], []
    for fetched, parsed in items:
        if parsed.message_id in stored or (parsed.from_ and parsed.from_.addr in blocked):
            # A new copy of a known message, or hidden mail of a blocked sender.
            one_by_one.append((fetched, parsed))
            continue
        kind = classify(parsed)
        if kind in control.IGNORED:
            continue
        if control.applies_to_others(kind):
            result.control_uids.append(fetched.uid)
            continue
        peer = chats.single_peer(account, parsed)
        if peer is None:
            one_by_one.append((fetched, parsed))  # a group: place() applies what it says
        else:
            simple.append((fetched, parsed, peer))
    try:
        with transaction.atomic():
            result.chat_ids |= _store_one_to_one(account, folder, uidvalidity, simple)
    except IntegrityError:
        # A concurrent sync stored some of these meanwhile: one at a time, each merging.
        one_by_one = [(f, p) for f, p, _ in simple] + one_by_one
    for fetched, parsed in one_by_one:
        message = sync.ingest_parsed(account, folder, uidvalidity, fetched, parsed, push=False)
        if message is not None:
            result.chat_ids.add(message.chat_id)
    return result


def _store_one_to_one(
    account: MailAccount,
    folder: str,
    uidvalidity: int,
    items: list[tuple[imap.FetchedMessage, ParsedMessage, str]],
) -> set[int]:
    """Bulk-store messages of one-to-one chats; return the chats whose row changed."""
    if not items:
        return set()
    own = account.email
    names: dict[str, str] = {}
    when: dict[str, datetime] = {}
    written_to: set[str] = set()  # everyone our own mail in the batch went to
    wrote_in: set[str] = set()  # the peers of chats we wrote in
    for fetched, parsed, peer in items:
        outgoing = parsed.from_ is not None and parsed.from_.addr == own
        if outgoing:
            written_to.update(a.addr for a in (*parsed.to, *parsed.cc))
            wrote_in.add(peer)
        # As ingesting one by one, newest first: the first name met names the chat.
        if not names.get(peer):
            names[peer] = "" if outgoing or not parsed.from_ else parsed.from_.name
        when.setdefault(peer, sync.arrival_time(parsed, fetched.internal_date))
    known = set(
        KnownAddress.objects.filter(account=account, address__any=names).values_list(
            "address", flat=True
        )
    )
    by_peer, created = chats.single_chats(
        account, names, when=when, requests_from=set(names) - known - wrote_in
    )
    if written_to:
        # As live mail does (sync.ingest_message): we wrote there, so they are known and
        # the chat is accepted.
        requests.remember_known(account, written_to)
        accepted = [by_peer[p].pk for p in wrote_in]
        Chat.objects.filter(pk__in=accepted, is_request=True).update(is_request=False)
        for peer in wrote_in:
            by_peer[peer].is_request = False

    parent_ids = {p.in_reply_to[0] for _, p, _ in items if p.in_reply_to}
    parents = {
        message_id: (chat_id, sort_at)
        for message_id, chat_id, sort_at in Message.objects.filter(
            account=account, message_id__any=parent_ids
        ).values_list("message_id", "chat_id", "sort_at")
    }
    # Rows, not model instances: building those cost more than storing them.
    rows: dict[str, dict] = {}  # by Message-ID
    files_of: list[ParsedMessage] = []
    copies: list[tuple[int, str]] = []  # (UID, Message-ID)
    for fetched, parsed, peer in items:
        if parsed.message_id not in rows:  # the same mail twice in a folder: two copies
            chat = by_peer[peer]
            sort_at = sync.arrival_time(parsed, fetched.internal_date)
            parent = parents.get(parsed.in_reply_to[0]) if parsed.in_reply_to else None
            if parent is not None and parent[0] == chat.pk and sort_at <= parent[1]:
                sort_at = parent[1] + timedelta(microseconds=1)  # an answer after its parent
            row = sync.message_fields(
                account,
                parsed,
                change=None,
                sort_at=sort_at,
                seen="\\Seen" in fetched.flags,
                partial=not fetched.complete,
                receipt_sent=sync.has_mdn_sent(fetched.flags),
            )
            rows[parsed.message_id] = {"account_id": account.pk, "chat_id": chat.pk, **row}
            files_of.append(parsed)
            parents[parsed.message_id] = (chat.pk, sort_at)
        copies.append((fetched.uid, parsed.message_id))
    pks = dict(zip(rows, bulk.insert_rows(Message, list(rows.values())), strict=True))
    bulk.insert_rows(
        MessageCopy,
        [
            {
                "account_id": account.pk,
                "folder": folder,
                "uidvalidity": uidvalidity,
                "uid": uid,
                "message_id": pks[message_id],
            }
            for uid, message_id in copies
        ],
    )
    bulk.insert(
        Attachment,
        [row for parsed in files_of for row in files.rows(pks[parsed.message_id], parsed)],
    )
    chats_by_pk = {c.pk: c for c in by_peer.values()}
    return _touch_chats(chats_by_pk, list(rows.values()), created_peers=created)


def _touch_chats(
    chats_by_pk: dict[int, Chat], messages: list[dict], *, created_peers: set[str]
) -> set[int]:
    """sync.touch_chat for a batch of message rows, in one UPDATE; return the chats whose
    row changed."""
    newest: dict[int, datetime] = {}
    unread: set[int] = set()
    for message in messages:
        chat_id, sort_at = message["chat_id"], message["sort_at"]
        latest = newest.get(chat_id)
        if latest is None or sort_at >= latest:
            newest[chat_id] = sort_at
        if not message["seen"]:
            unread.add(chat_id)
    latest = Message.objects.filter(chat=OuterRef("pk")).order_by("-sort_at", "-pk")
    latest_at = Subquery(latest.values("sort_at")[:1])
    Chat.objects.filter(pk__any=newest).update(
        last_message=Case(
            When(
                Q(last_message__isnull=True) | Q(last_activity_at__lte=latest_at),
                then=Subquery(latest.values("pk")[:1]),
            ),
            default=F("last_message"),
        ),
        last_activity_at=Greatest("last_activity_at", latest_at),
    )
    changed = {
        pk
        for pk, sort_at in newest.items()
        if chats_by_pk[pk].last_message_id is None
        or sort_at >= chats_by_pk[pk].last_activity_at
        or chats_by_pk[pk].peer_address in created_peers
    }
    return changed | unread


def apply_deferred_controls(account: MailAccount, client) -> None:
    """Apply the control messages history import set aside, oldest first (a later edit or
    reaction replaces an earlier one), now that what they are about is stored."""
    states = [s for s in FolderState.objects.filter(account=account) if s.history_controls]
    if not states:
        return
    pending = []
    for order, state in enumerate(states):
        if imap.select(client, state.folder).uidvalidity != state.uidvalidity:
            continue  # renumbered: the live sync fetches the folder anew, controls included
        uids = sorted(set(state.history_controls))
        for start in range(0, len(uids), imap.FETCH_BATCH):
            for fetched in imap.fetch_messages(client, uids[start : start + imap.FETCH_BATCH]):
                parsed = parse_message(fetched.raw)
                pending.append(((parsed.date or _LONG_AGO, order, fetched.uid), parsed))
    pending.sort(key=lambda item: item[0])
    with transaction.atomic():
        for _, parsed in pending:
            control.consume(account, parsed)
        for state in states:
            state.history_controls = []
            state.save(update_fields=["history_controls"])
