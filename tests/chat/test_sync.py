"""Syncing real mailboxes on the local Dovecot into chats."""

from __future__ import annotations

import smtplib

import pytest

from chat import sync
from chat.models import Chat, FolderState, Message, MessageCopy
from tests.mailserver import add_mail_user, mail_server, send_plain_mail

pytestmark = pytest.mark.django_db


def _deliver_raw(to: str, raw: bytes) -> None:
    server = mail_server()
    with smtplib.SMTP(server.host, server.smtp_port, timeout=10) as smtp:
        smtp.sendmail("someone@example.org", [to], raw)


def _wait_synced(account, count: int, attempts: int = 30) -> None:
    import time

    for _ in range(attempts):
        sync.sync_mailbox(account.pk)
        if Message.objects.filter(account=account).count() >= count:
            return
        time.sleep(0.1)


def test_plain_mail_becomes_a_message_in_the_senders_chat(make_person):
    alice = make_person("alice")
    friend = add_mail_user("friend")
    send_plain_mail(
        sender=f"Friendly Fred <{friend.email}>",
        to=alice.mail.email,
        subject="Weekend",
        body="Are you free on Saturday?\n\nOn Fri, Bob wrote:\n> old stuff\n> more old stuff\n\n-- \nFred's signature",
    )
    _wait_synced(alice.account, 1)
    chat = Chat.objects.get(account=alice.account)
    assert chat.peer_address == friend.email and chat.title == "Friendly Fred"
    message = chat.messages.get()
    assert message.direction == "in" and not message.seen and not message.is_chat
    assert message.subject == "Weekend"
    assert message.text.strip() == "Are you free on Saturday?"
    assert "old stuff" in message.folded_text and "signature" in message.folded_text
    assert chat.last_message == message


def test_syncing_twice_stores_each_message_once(make_person):
    alice = make_person("alice")
    friend = add_mail_user("friend")
    for n in range(3):
        send_plain_mail(
            sender=friend.email, to=alice.mail.email, subject=f"n{n}", body=f"number {n}"
        )
    _wait_synced(alice.account, 3)
    sync.sync_mailbox(alice.account.pk)
    sync.sync_mailbox(alice.account.pk)
    assert Message.objects.filter(account=alice.account).count() == 3
    assert MessageCopy.objects.filter(account=alice.account, folder="INBOX").count() == 3


def test_a_renumbered_folder_is_remapped_without_duplicates(make_person):
    alice = make_person("alice")
    friend = add_mail_user("friend")
    send_plain_mail(sender=friend.email, to=alice.mail.email, subject="one", body="first")
    _wait_synced(alice.account, 1)
    # As if the server had changed UIDVALIDITY: our stored state no longer matches.
    FolderState.objects.filter(account=alice.account, folder="INBOX").update(
        uidvalidity=1, last_uid=999
    )
    MessageCopy.objects.filter(account=alice.account).update(uidvalidity=1)
    sync.sync_mailbox(alice.account.pk)
    assert Message.objects.filter(account=alice.account).count() == 1
    copies = MessageCopy.objects.filter(account=alice.account, folder="INBOX")
    assert copies.count() == 1 and copies.get().uidvalidity != 1


def test_undisplayable_mail_is_kept_and_does_not_stop_the_next_one(make_person):
    alice = make_person("alice")
    _deliver_raw(alice.mail.email, b"\x00\xff\xfe garbage \x81\x82 without any headers\r\n")
    send_plain_mail(
        sender="after@example.org", to=alice.mail.email, subject="after", body="still here"
    )
    _wait_synced(alice.account, 2)
    texts = list(Message.objects.filter(account=alice.account).values_list("text", "problem"))
    assert len(texts) == 2
    assert any("still here" in text for text, _ in texts)


def test_a_rejected_password_pauses_the_mailbox_with_a_clear_error(make_person):
    from accounts import crypto

    alice = make_person("alice")
    alice.account.password_encrypted = crypto.encrypt("not-the-password")
    alice.account.save(update_fields=["password_encrypted"])
    sync.sync_mailbox(alice.account.pk)
    alice.account.refresh_from_db()
    assert not alice.account.is_active
    assert "rejected the username or password" in alice.account.last_error


def test_a_sync_cut_short_resumes_where_it_stopped(make_person, monkeypatch):
    from mailcore import imap

    alice = make_person("alice")
    sync.sync_mailbox(alice.account.pk)  # seen empty: what comes next is live mail
    for n in range(5):
        send_plain_mail(
            sender="many@example.org", to=alice.mail.email, subject=f"m{n}", body=f"body {n}"
        )
    monkeypatch.setattr(imap, "FETCH_BATCH", 2)
    real_ingest = sync.ingest_fetched
    calls = {"n": 0}

    def crash_on_fourth(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("worker killed")
        return real_ingest(*args, **kwargs)

    import time

    for _ in range(30):  # wait until all five are in the mailbox
        time.sleep(0.1)
        if len(imap_uids(alice)) == 5:
            break
    monkeypatch.setattr(sync, "ingest_fetched", crash_on_fourth)
    with pytest.raises(RuntimeError):
        sync.sync_mailbox(alice.account.pk)
    state = FolderState.objects.get(account=alice.account, folder="INBOX")
    assert state.last_uid == sorted(imap_uids(alice))[1]  # the first batch of two was saved
    monkeypatch.setattr(sync, "ingest_fetched", real_ingest)
    sync.sync_mailbox(alice.account.pk)
    assert Message.objects.filter(account=alice.account).count() == 5
    assert MessageCopy.objects.filter(account=alice.account, folder="INBOX").count() == 5


def imap_uids(person) -> list[int]:
    from tests.mailserver import imap_login

    client = imap_login(person.mail)
    try:
        client.select("INBOX", readonly=True)
        _typ, data = client.uid("SEARCH", None, "ALL")
        return [int(u) for u in data[0].split()]
    finally:
        client.logout()


def test_a_delta_chat_reply_shows_its_quote_apart_from_the_answer(make_person):
    from pathlib import Path

    alice = make_person("alice")
    sync.sync_mailbox(alice.account.pk)
    raw = (
        Path(__file__).parent.parent / "fixtures" / "mail" / "delta-chat-reply-to-plain.eml"
    ).read_bytes()
    _deliver_raw(alice.mail.email, raw)
    _wait_synced(alice.account, 1)
    message = Message.objects.get(account=alice.account)
    assert message.is_chat
    assert message.quote_text.startswith("Plain hello")
    assert not message.text.startswith(">") and message.text.strip()


def test_a_password_encrypted_under_a_lost_key_pauses_the_mailbox(make_person):
    from cryptography.fernet import Fernet

    alice = make_person("alice")
    stale = Fernet(Fernet.generate_key()).encrypt(b"whatever").decode()
    type(alice.account).objects.filter(pk=alice.account.pk).update(password_encrypted=stale)
    sync.sync_mailbox(alice.account.pk)
    alice.account.refresh_from_db()
    assert not alice.account.is_active
    assert "can no longer be read" in alice.account.last_error


def test_mail_without_a_date_header_sorts_at_its_arrival_on_the_server(make_person):
    from datetime import UTC, datetime

    from tests.mailserver import imap_login

    alice = make_person("alice")
    raw = (
        b"From: nodate@example.org\r\nTo: " + alice.mail.email.encode() + b"\r\n"
        b"Subject: no date\r\nMessage-ID: <no-date@example.org>\r\n\r\nwhen was this?\r\n"
    )
    client = imap_login(alice.mail)
    client.append("INBOX", None, '"02-Mar-2026 10:20:30 +0100"', raw)
    client.logout()
    _wait_synced(alice.account, 1)
    message = Message.objects.get(account=alice.account)
    assert message.sort_at == datetime(2026, 3, 2, 9, 20, 30, tzinfo=UTC)
