"""Linking a mailbox that already holds mail: newest first, resumable, large mail lazily."""

from __future__ import annotations

import smtplib
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

import pytest
from django.db import transaction

from accounts.connections import imap_session
from chat import chats, history, requests, services, sync
from chat.models import Chat, FolderState, Message, MessageCopy
from chat.queries import import_progress
from mailcore import history_fetch
from mailcore.addresses import Address
from mailcore.edits import build_edit
from mailcore.message_ids import new_message_id
from mailcore.parse import parse_message
from mailcore.reactions import build_reaction
from mailcore.receipts import build_receipt
from tests.mailserver import mail_server

pytestmark = pytest.mark.django_db


def _fill(address: str, n: int) -> None:
    server = mail_server()
    with smtplib.SMTP(server.host, server.smtp_port, timeout=30) as smtp:
        for i in range(n):
            message = EmailMessage()
            message["From"] = f"sender{i % 7}@example.org"
            message["To"] = address
            message["Subject"] = f"old {i}"
            message.set_content(f"history {i}")
            smtp.send_message(message)


def _wait_in_mailbox(person, n: int) -> None:
    import time

    from tests.mailserver import imap_login

    for _ in range(100):
        client = imap_login(person.mail)
        client.select("INBOX", readonly=True)
        count = int(client.select("INBOX", readonly=True)[1][0])
        client.logout()
        if count >= n:
            return
        time.sleep(0.1)
    raise AssertionError("mail did not arrive")


@pytest.mark.parametrize("in_child", [False, True], ids=["fetched-in-a-thread", "in-a-child"])
def test_history_is_imported_newest_first_and_resumes(make_person, monkeypatch, in_child):
    started = []

    class CountedProcess(sync.HistoryFetchProcess):
        def __init__(self, *args, **kwargs):
            started.append(self)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(sync, "HistoryFetchProcess", CountedProcess)
    monkeypatch.setattr(sync, "HISTORY_PROCESS_MIN", 1 if in_child else 10**6)
    alice = make_person("alice")  # linked; its first sync has not run yet
    _fill(alice.mail.email, 450)
    _wait_in_mailbox(alice, 450)

    sync.sync_mailbox(alice.account.pk)  # the first sync imports the newest batch at once
    imported = set(MessageCopy.objects.filter(account=alice.account).values_list("uid", flat=True))
    assert imported == set(sorted(_uids(alice))[-200:])  # the 200 newest by arrival
    progress = import_progress(alice.account)
    assert progress.running and progress.done == 200 and progress.total == 450

    # A task that runs out of time leaves its progress saved; the next one goes on.
    monkeypatch.setattr(sync, "HISTORY_BATCH", 200)
    monkeypatch.setattr(sync, "HISTORY_SECONDS_PER_TASK", 0.001)
    assert sync.import_history(alice.account.pk) is True
    assert Message.objects.filter(account=alice.account).count() == 400
    monkeypatch.setattr(sync, "HISTORY_SECONDS_PER_TASK", 20)
    assert sync.import_history(alice.account.pk) is False

    assert Message.objects.filter(account=alice.account).count() == 450
    assert sorted(
        int(t.split()[1])
        for t in Message.objects.filter(account=alice.account).values_list("text", flat=True)
    ) == list(range(450))
    assert len(started) == (2 if in_child else 0)  # one per import task
    progress = import_progress(alice.account)
    assert not progress.running and progress.done == progress.total == 450
    assert not FolderState.objects.get(account=alice.account, folder="INBOX").importing


def test_a_folder_first_synced_while_the_import_runs_is_imported_by_the_same_task(
    make_person, monkeypatch
):
    alice = make_person("alice")
    sent = alice.account.sent_folder
    _fill(alice.mail.email, 260)
    _append(
        alice,
        sent,
        [
            _mail(alice.mail.email, "friend@example.org", f"ours {i}", minutes_ago=i)
            for i in range(230)
        ],
    )
    _wait_in_mailbox(alice, 260)
    with imap_session(alice.account) as client:
        sync.sync_folder(alice.account, client, "INBOX")  # the first sync, folder by folder
    imported = []
    import_folder = sync._import_folder

    def import_and_meanwhile_sync_sent(account, state, *args):
        import_folder(account, state, *args)
        imported.append(state.folder)
        if state.folder == "INBOX":  # the first sync reaches Sent while INBOX is imported
            with imap_session(account) as client:
                sync.sync_folder(account, client, sent)

    monkeypatch.setattr(sync, "_import_folder", import_and_meanwhile_sync_sent)

    assert sync.import_history(alice.account.pk) is False  # nothing left for another task
    assert imported == ["INBOX", sent]
    assert Message.objects.filter(account=alice.account).count() == 260 + 230
    assert not FolderState.objects.filter(account=alice.account, history_below__gt=1).exists()


def test_a_large_message_is_fetched_in_part_and_completed_when_opened(make_person):
    alice = make_person("alice")
    sync.sync_mailbox(alice.account.pk)  # empty mailbox: live from now on
    server = mail_server()
    message = EmailMessage()
    message["From"] = "big@example.org"
    message["To"] = alice.mail.email
    message["Subject"] = "holiday photos"
    message.set_content("Here they are!")
    message.add_attachment(
        b"\x89PNG" + bytes(600_000), maintype="image", subtype="png", filename="beach.png"
    )
    with smtplib.SMTP(server.host, server.smtp_port, timeout=30) as smtp:
        smtp.send_message(message)
    import time

    for _ in range(50):
        sync.sync_mailbox(alice.account.pk)
        if Message.objects.filter(account=alice.account).exists():
            break
        time.sleep(0.1)
    stored = Message.objects.get(account=alice.account)
    assert stored.is_partial and stored.text.strip() == "Here they are!"
    completed = services.complete_message(message=stored)
    assert not completed.is_partial and completed.text.strip() == "Here they are!"


def _uids(person) -> list[int]:
    from tests.mailserver import imap_login

    client = imap_login(person.mail)
    try:
        client.select("INBOX", readonly=True)
        return [int(u) for u in client.uid("SEARCH", None, "ALL")[1][0].split()]
    finally:
        client.logout()


# ---------------------------------------------------------------- the batch path


def _mail(sender: str, to: str, text: str, *, minutes_ago: int, headers=()) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = text
    message["Date"] = format_datetime(datetime.now(UTC) - timedelta(minutes=minutes_ago))
    message["Message-ID"] = new_message_id("example.org")
    for name, value in headers:
        message[name] = value
    message.set_content(text)
    return message.as_bytes()


def _append(person, folder: str, raws: list[bytes]) -> None:
    from tests.mailserver import imap_login

    client = imap_login(person.mail)
    try:
        for raw in raws:
            client.append(folder, "(\\Seen)", None, raw)
    finally:
        client.logout()


def _counts(account) -> tuple[int, int, int]:
    return (
        Message.objects.filter(account=account).count(),
        MessageCopy.objects.filter(account=account).count(),
        Chat.objects.filter(account=account).count(),
    )


def _history_batch(
    person, folder: str = "INBOX", *, below: int | None = None
) -> history_fetch.Batch:
    state = FolderState.objects.get(account=person.account, folder=folder)
    with imap_session(person.account) as client:
        return history_fetch.fetch_batch(client, folder, below or state.last_uid + 1)


def test_a_history_batch_imported_again_stores_nothing_twice(make_person):
    alice = make_person("alice")
    raws = [
        _mail(f"peer{i % 5}@example.org", alice.mail.email, f"old {i}", minutes_ago=100 - i)
        for i in range(30)
    ]
    _append(alice, "INBOX", [*raws, raws[3]])  # one mail twice: one message, two copies
    sync.sync_mailbox(alice.account.pk)
    assert _counts(alice.account) == (30, 31, 5)
    twice = Message.objects.get(account=alice.account, text__startswith="old 3")
    assert twice.copies.count() == 2

    batch = _history_batch(alice)
    with transaction.atomic():
        again = history.ingest_batch(alice.account, "INBOX", batch)
    assert again.chat_ids == set() and _counts(alice.account) == (30, 31, 5)

    # Copies lost (say, a re-mapped folder) come back onto the same messages.
    MessageCopy.objects.filter(account=alice.account).delete()
    with transaction.atomic():
        history.ingest_batch(alice.account, "INBOX", batch)
    assert _counts(alice.account) == (30, 31, 5)
    for chat in Chat.objects.filter(account=alice.account):
        assert chat.last_message == chat.messages.order_by("-sort_at").first()


def test_a_message_stored_by_a_concurrent_sync_during_a_batch_is_kept_once(
    make_person, monkeypatch
):
    alice = make_person("alice")
    sync.sync_mailbox(alice.account.pk)  # empty: live from now on
    _append(alice, "INBOX", [_mail("dora@example.org", alice.mail.email, "x", minutes_ago=5)])
    _append(alice, "INBOX", [_mail("emil@example.org", alice.mail.email, "y", minutes_ago=4)])
    batch = _history_batch(alice, below=3)  # UIDs 1 and 2
    first = batch.messages[-1]  # the older one

    real_single_peer = chats.single_peer
    raced = []

    def racing_single_peer(account, parsed):
        # After the batch looked for known Message-IDs, another sync stores the older mail.
        if not raced:
            raced.append(
                sync.ingest_fetched(account, "INBOX", batch.uidvalidity, first, push=False)
            )
        return real_single_peer(account, parsed)

    monkeypatch.setattr(chats, "single_peer", racing_single_peer)
    with transaction.atomic():
        history.ingest_batch(alice.account, "INBOX", batch)
    assert raced[0] is not None
    assert _counts(alice.account) == (2, 2, 2)


def test_a_history_batch_cut_short_leaves_nothing_half_done_and_resumes(make_person, monkeypatch):
    alice = make_person("alice")
    _append(
        alice,
        "INBOX",
        [
            _mail(f"peer{i % 9}@example.org", alice.mail.email, f"old {i}", minutes_ago=500 - i)
            for i in range(260)
        ],
    )
    sync.sync_mailbox(alice.account.pk)  # the newest 200 now
    assert _counts(alice.account)[0] == 200
    before = FolderState.objects.get(account=alice.account, folder="INBOX")

    def killed(*args, **kwargs):
        raise RuntimeError("worker killed")

    # Dies after the batch's messages were inserted, before it committed.
    monkeypatch.setattr(history, "_touch_chats", killed)
    with pytest.raises(RuntimeError):
        sync.import_history(alice.account.pk)
    after = FolderState.objects.get(account=alice.account, folder="INBOX")
    assert _counts(alice.account)[:2] == (200, 200)
    assert (after.history_below, after.history_done) == (before.history_below, 200)
    # A worker starting after such a crash queues the import again at once.
    assert alice.account.pk in sync.mailboxes_with_history_left()

    monkeypatch.undo()
    assert sync.import_history(alice.account.pk) is False
    assert _counts(alice.account) == (260, 260, 9)
    assert alice.account.pk not in sync.mailboxes_with_history_left()
    texts = Message.objects.filter(account=alice.account).values_list("text", flat=True)
    assert sorted(int(t.split()[1]) for t in texts) == list(range(260))


def test_control_messages_in_history_are_applied_in_the_order_they_were_written(make_person):
    alice = make_person("alice")
    me, bob, carol = alice.mail.email, "bob@example.org", "carol@example.org"
    to_me = (Address("", me),)
    bob_a = Address("Bob", bob)
    ours = _mail(me, bob, "Hello Bob", minutes_ago=60)
    ours_id = parse_message(ours).message_id
    bobs = _mail(bob, me, "Hi Alice", minutes_ago=61)
    bobs_id = parse_message(bobs).message_id

    def at(minutes: int) -> dict:
        return {
            "message_id": new_message_id("example.org"),
            "date": datetime.now(UTC) - timedelta(minutes=minutes),
        }

    group = _mail(
        bob,
        f"{me}, {carol}",
        "Trip planning",
        minutes_ago=30,
        headers=(
            ("Chat-Version", "1.0"),
            ("Chat-Group-ID", "tripgroup12345"),
            ("Chat-Group-Name", "Trip"),
        ),
    )
    _append(alice, alice.account.sent_folder, [ours])
    _append(
        alice,
        "INBOX",
        [
            bobs,
            build_reaction(bob_a, to_me, ours_id, "👍", **at(50)),
            build_reaction(bob_a, to_me, ours_id, "❤️", **at(49)),
            build_edit(bob_a, to_me, bobs_id, "Hi Alice, edited once", **at(48)),
            build_edit(bob_a, to_me, bobs_id, "Hi Alice, edited twice", **at(47)),
            build_receipt(bob_a, Address("", me), ours_id, **at(46)),
            group,
        ],
    )
    sync.sync_mailbox(alice.account.pk)  # INBOX first, then Sent, where the target is
    assert sync.import_history(alice.account.pk) is False

    account = alice.account
    assert Message.objects.filter(account=account).count() == 3  # no bubble for controls
    mine = Message.objects.get(account=account, message_id=ours_id)
    assert mine.state == Message.State.READ
    assert list(mine.reactions.values_list("sender", "emoji")) == [(bob, "❤️")]
    assert Message.objects.get(account=account, message_id=bobs_id).text == "Hi Alice, edited twice"
    trip = Message.objects.get(account=account, subject="Trip planning").chat
    assert trip.kind == Chat.Kind.GROUP and trip.name == "Trip"
    assert set(trip.members.values_list("address", flat=True)) == {bob, carol}
    assert not any(
        FolderState.objects.filter(account=account).values_list("history_controls", flat=True)
    )


def test_history_from_strangers_waits_as_requests_and_a_blocked_senders_stays_hidden(make_person):
    alice = make_person("alice")
    sent_folder = alice.account.sent_folder
    friend, stranger, pest = "friend@example.org", "stranger@example.org", "pest@example.org"
    requests.block_address(account=alice.account, address=pest)
    _append(
        alice,
        "INBOX",
        [
            _mail(friend, alice.mail.email, "from a friend", minutes_ago=30),
            _mail(stranger, alice.mail.email, "from a stranger", minutes_ago=20),
            _mail(pest, alice.mail.email, "from a pest", minutes_ago=10),
        ],
    )
    # We wrote to the friend once, from another client: that makes the friend known.
    _append(alice, sent_folder, [_mail(alice.mail.email, friend, "hello", minutes_ago=40)])
    sync.sync_mailbox(alice.account.pk)
    while sync.import_history(alice.account.pk):
        pass

    chats = {c.peer_address: c for c in Chat.objects.filter(account=alice.account)}
    assert not chats[friend].is_request
    assert chats[stranger].is_request and chats[stranger].requested_by == stranger
    pested = Message.objects.get(account=alice.account, text__startswith="from a pest")
    assert pested.chat.last_message_id != pested.pk  # stored, but it moved no chat row
    assert requests.is_known(alice.account, friend)
    assert not requests.is_known(alice.account, stranger)
