"""Linking a mailbox that already holds mail: newest first, resumable, large mail lazily."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import pytest

from chat import services, sync
from chat.models import FolderState, Message, MessageCopy
from chat.queries import import_progress
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


def test_history_is_imported_newest_first_and_resumes(make_person, monkeypatch):
    alice = make_person("alice")  # linked; its first sync has not run yet
    _fill(alice.mail.email, 450)
    _wait_in_mailbox(alice, 450)

    sync.sync_mailbox(alice.account.pk)  # the first sync imports the newest batch at once
    imported = set(MessageCopy.objects.filter(account=alice.account).values_list("uid", flat=True))
    assert imported == set(sorted(_uids(alice))[-200:])  # the 200 newest by arrival
    progress = import_progress(alice.account)
    assert progress.running and progress.done == 200 and progress.total == 450

    # A task that runs out of time leaves its progress saved; the next one goes on.
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
    progress = import_progress(alice.account)
    assert not progress.running and progress.done == progress.total == 450
    assert not FolderState.objects.get(account=alice.account, folder="INBOX").importing


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
