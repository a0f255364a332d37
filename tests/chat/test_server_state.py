"""Read state and removals travel both ways between coiweb and the real mail server."""

from __future__ import annotations

import pytest

from chat import requests, services, sync
from chat.models import Chat, Message, MessageCopy
from tests.mailserver import imap_login, send_plain_mail

pytestmark = pytest.mark.django_db


def _deliver_and_sync(person, *bodies: str) -> None:
    import time

    for body in bodies:
        send_plain_mail(sender="friend@example.org", to=person.mail.email, subject=body, body=body)
    for _ in range(50):
        sync.sync_mailbox(person.account.pk)
        if Message.objects.filter(account=person.account).count() >= len(bodies):
            return
        time.sleep(0.1)
    raise AssertionError("mail did not arrive")


def _server_flags(person, folder="INBOX") -> list[bytes]:
    client = imap_login(person.mail)
    try:
        client.select(folder, readonly=True)
        _typ, data = client.uid("FETCH", "1:*", "(FLAGS)")
        return [item for item in data if item]
    finally:
        client.logout()


def _on_server(person, *commands) -> None:
    client = imap_login(person.mail)
    try:
        client.select("INBOX")
        for command in commands:
            command(client)
    finally:
        client.logout()


def test_reading_in_another_client_marks_the_message_read_here(make_person):
    alice = make_person("alice")
    _deliver_and_sync(alice, "read me elsewhere")
    assert Message.objects.get(account=alice.account).seen is False
    _on_server(alice, lambda c: c.uid("STORE", "1:*", "+FLAGS", "(\\Seen)"))
    sync.sync_mailbox(alice.account.pk)
    assert Message.objects.get(account=alice.account).seen is True


def test_reading_here_sets_seen_on_the_server(make_person, django_capture_on_commit_callbacks):
    alice = make_person("alice")
    _deliver_and_sync(alice, "read me here")
    chat = Chat.objects.get(account=alice.account)
    requests.accept_chat(chat=chat)  # a stranger's first mail is a contact request
    assert b"\\Seen" not in b"".join(_server_flags(alice))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.mark_chat_read(chat=chat) == 1
    assert b"\\Seen" in b"".join(_server_flags(alice))


def test_reading_a_contact_request_leaves_it_unseen_on_the_server(
    make_person, django_capture_on_commit_callbacks
):
    alice = make_person("alice")
    _deliver_and_sync(alice, "who is this")
    chat = Chat.objects.get(account=alice.account)
    assert chat.is_request and requests.withholds_reads(chat)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.mark_chat_read(chat=chat) == 0
    assert b"\\Seen" not in b"".join(_server_flags(alice))
    assert Message.objects.get(account=alice.account).seen is False


def test_a_message_deleted_in_another_client_leaves_the_chat(make_person):
    alice = make_person("alice")
    _deliver_and_sync(alice, "keep me", "delete me")
    doomed = Message.objects.get(account=alice.account, text__contains="delete me")
    uid = MessageCopy.objects.get(message=doomed).uid
    _on_server(
        alice, lambda c: c.uid("STORE", str(uid), "+FLAGS", "(\\Deleted)"), lambda c: c.expunge()
    )
    sync.sync_mailbox(alice.account.pk)
    remaining = Message.objects.filter(account=alice.account)
    assert [m.text.strip() for m in remaining] == ["keep me"]
    chat = Chat.objects.get(account=alice.account)
    assert chat.last_message == remaining.get()


def test_a_message_moved_between_chat_folders_stays_one_message(make_person):
    alice = make_person("alice")
    _deliver_and_sync(alice, "moving along")
    _on_server(alice, lambda c: c.create("COI/Chats"))
    alice.account.coi_chats_folder = "COI/Chats"
    alice.account.save(update_fields=["coi_chats_folder"])
    message = Message.objects.get(account=alice.account)
    _on_server(alice, lambda c: c.uid("MOVE", "1:*", "COI/Chats"))
    sync.sync_mailbox(alice.account.pk)
    assert Message.objects.filter(account=alice.account).count() == 1
    assert Message.objects.get(account=alice.account).pk == message.pk
    assert list(MessageCopy.objects.filter(message=message).values_list("folder", flat=True)) == [
        "COI/Chats"
    ]
