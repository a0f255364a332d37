"""Chats in COI/Chats: the fallback move, the seen filter's server-side move, $Chat on APPEND."""

from __future__ import annotations

import time

import pytest

from accounts import services as account_services
from accounts.models import MailAccount
from chat import delivery, services, sync
from chat.models import Message, MessageCopy
from chat.requests import accept_chat
from tests.mailserver import (
    add_mail_user,
    folder_flags_by_message_id,
    imap_login,
    send_plain_mail,
)

pytestmark = pytest.mark.django_db


def _send_chat(sender: str, to: str, text: str) -> str:
    return send_plain_mail(
        sender=sender, to=to, subject="Chat", body=text, extra={"Chat-Version": "1.0"}
    )


def _synced(account, message_id: str) -> Message:
    for _ in range(50):
        sync.sync_mailbox(account.pk)
        message = Message.objects.filter(account=account, message_id=message_id).first()
        if message is not None:
            return message
        time.sleep(0.1)
    raise AssertionError(f"{message_id} never arrived")


def _folders_of(message: Message) -> list[str]:
    return sorted(MessageCopy.objects.filter(message=message).values_list("folder", flat=True))


def test_the_fallback_move_files_chat_mail_in_coi_chats_once_and_leaves_plain_mail(make_person):
    alice = make_person("alice")
    friend = add_mail_user("friend")
    plain_id = send_plain_mail(sender=friend.email, to=alice.mail.email, subject="Hi", body="mail")
    chat_id = _send_chat(friend.email, alice.mail.email, "a chat")
    plain, chat = _synced(alice.account, plain_id), _synced(alice.account, chat_id)
    assert folder_flags_by_message_id(alice.mail, "COI/Chats") == {}
    assert set(folder_flags_by_message_id(alice.mail, "INBOX")) == {plain_id, chat_id}

    account_services.set_fallback_move(account=alice.account, enabled=True)
    sync.sync_mailbox(alice.account.pk)  # what the option queues after commit
    account = MailAccount.objects.get(pk=alice.account.pk)
    assert account.coi_chats_folder == "COI/Chats"  # created
    assert list(folder_flags_by_message_id(alice.mail, "COI/Chats")) == [chat_id]
    assert list(folder_flags_by_message_id(alice.mail, "INBOX")) == [plain_id]
    # Still one message each, the chat now known by its COI/Chats copy.
    assert Message.objects.filter(account=account).count() == 2
    assert _folders_of(Message.objects.get(pk=chat.pk)) == ["COI/Chats"]
    assert _folders_of(Message.objects.get(pk=plain.pk)) == ["INBOX"]

    # New chat mail follows; syncing again moves nothing twice and loses nothing.
    later_id = _send_chat(friend.email, alice.mail.email, "another chat")
    later = _synced(alice.account, later_id)
    sync.sync_mailbox(alice.account.pk)
    assert set(folder_flags_by_message_id(alice.mail, "COI/Chats")) == {chat_id, later_id}
    assert list(folder_flags_by_message_id(alice.mail, "INBOX")) == [plain_id]
    assert _folders_of(later) == ["COI/Chats"]
    assert Message.objects.filter(account=account).count() == 3


def test_without_the_option_chat_mail_stays_in_the_inbox(make_person):
    alice = make_person("alice")
    chat_id = _send_chat(add_mail_user("friend").email, alice.mail.email, "stay")
    message = _synced(alice.account, chat_id)
    sync.sync_mailbox(alice.account.pk)
    assert _folders_of(message) == ["INBOX"]
    assert folder_flags_by_message_id(alice.mail, "COI/Chats") == {}


def _move_as_the_coi_plugin_does(user, message_id: str) -> None:
    """The seen filter's server side (coi-server-observed 6): a $Chat message in INBOX that
    gets \\Seen is moved to COI/Chats, keeping its flags. The local Dovecot cannot do that
    per user, so this does on the wire what the plugin does."""
    client = imap_login(user)
    try:
        client.select("INBOX")
        _typ, data = client.uid("SEARCH", None, "HEADER", "Message-ID", message_id)
        uid = data[0].split()[0]
        _typ, flags = client.uid("FETCH", uid, "(FLAGS)")
        assert b"\\Seen" in flags[0] and b"$Chat" in flags[0]
        assert client.uid("MOVE", uid, "COI/Chats")[0] == "OK"
    finally:
        client.logout()


def test_under_the_seen_filter_a_chat_read_here_moves_and_stays_one_message(
    make_person, django_capture_on_commit_callbacks
):
    alice = make_person("alice", coi=True)
    account_services.enable_coi(account=alice.account, message_filter="seen")
    account = MailAccount.objects.get(pk=alice.account.pk)
    assert account.coi_chats_folder == "COI/Chats" and not account.chats_bypass_inbox

    chat_id = _send_chat(add_mail_user("friend").email, alice.mail.email, "read me")
    message = _synced(account, chat_id)
    assert "$Chat" in folder_flags_by_message_id(alice.mail, "INBOX")[chat_id]
    accept_chat(chat=message.chat)  # a first message from a stranger is a contact request
    with django_capture_on_commit_callbacks(execute=True):
        services.mark_chat_read(chat=message.chat)  # sets \Seen on the server copy
    _move_as_the_coi_plugin_does(alice.mail, chat_id)

    sync.sync_mailbox(account.pk)
    assert Message.objects.filter(account=account, message_id=chat_id).count() == 1
    message = Message.objects.get(account=account, message_id=chat_id)
    assert message.seen
    assert _folders_of(message) == ["COI/Chats"]
    assert message.chat.last_message_id == message.pk


def test_our_sent_copy_carries_chat_keyword_when_coi_is_on(make_person):
    alice = make_person("alice", coi=True)
    account_services.enable_coi(account=alice.account, message_filter="none")
    account = MailAccount.objects.get(pk=alice.account.pk)
    bob = add_mail_user("bob")
    chat = services.start_chat(user=alice.user, account=account, address=bob.email)
    message = delivery.send_message(user=alice.user, chat=chat, text="tagged")
    delivery.deliver_outbox(account.pk)
    assert folder_flags_by_message_id(alice.mail, "Sent")[message.message_id] >= {
        "\\Seen",
        "$Chat",
    }


def test_our_sent_copy_has_no_chat_keyword_on_a_plain_server(make_person):
    alice = make_person("alice")
    chat = services.start_chat(
        user=alice.user, account=alice.account, address=add_mail_user("bob").email
    )
    message = delivery.send_message(user=alice.user, chat=chat, text="untagged")
    delivery.deliver_outbox(alice.account.pk)
    assert "$Chat" not in folder_flags_by_message_id(alice.mail, "Sent")[message.message_id]
