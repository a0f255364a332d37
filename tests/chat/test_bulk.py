"""chat.bulk.insert: rows stored by COPY read back exactly as rows saved by Django."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from chat import bulk
from chat.models import Attachment, Chat, FolderState, Message, MessageCopy

pytestmark = pytest.mark.django_db

AWKWARD = "tab\there, new\nline, CR\r, back\\slash \\N, quote ' \" ,; | naïve Zoë 🙂 \u2028 end"


def _messages(account, chat, prefix: str) -> list[Message]:
    when = datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC)
    return [
        Message(
            account=account,
            chat=chat,
            direction="in",
            state="received",
            message_id=f"<{prefix}-awkward@x>",
            from_address="peer@example.org",
            from_name=AWKWARD,
            to_addresses=["owner@example.org", AWKWARD, {"nested": [1, None, True, 2.5]}],
            subject=AWKWARD,
            text=AWKWARD * 3,
            quote_text="\\",
            html="<p>\\t is not a tab</p>",
            in_reply_to="",
            references=[],
            sent_at=None,
            sort_at=when,
            seen=True,
            receipt_sent=True,
            send_attempts=7,
        ),
        Message(
            account=account,
            chat=chat,
            direction="out",
            state="sent",
            message_id=f"<{prefix}-plain@x>",
            from_address="owner@example.org",
            to_addresses=[],
            references=["<a@x>", "<b@x>"],
            sent_at=when - timedelta(days=400),
            sort_at=when.astimezone(timezone.get_fixed_timezone(-330)),
            is_chat=True,
            is_partial=True,
        ),
    ]


def _stored(messages: list[Message]) -> list[dict]:
    rows = Message.objects.filter(pk__in=[m.pk for m in messages]).order_by("message_id").values()
    skip = {"id", "message_id", "created_at", "updated_at"}
    return [{k: v for k, v in row.items() if k not in skip} for row in rows]


def test_copied_rows_read_back_as_rows_saved_one_by_one(account):
    chat = Chat.objects.create(
        account=account, peer_address="peer@example.org", last_activity_at=timezone.now()
    )
    saved = _messages(account, chat, "saved")
    for message in saved:
        message.save()
    copied = _messages(account, chat, "copied")

    bulk.insert(Message, copied)

    assert all(m.pk and not m._state.adding for m in copied)
    assert _stored(copied) == _stored(saved)
    assert _stored(copied)[0]["text"] == AWKWARD * 3
    assert _stored(copied)[0]["to_addresses"][2] == {"nested": [1, None, True, 2.5]}
    stored = Message.objects.get(pk=copied[0].pk)
    assert stored.created_at is not None
    assert stored.updated_at == copied[0].updated_at


def test_a_foreign_key_to_a_row_inserted_after_assignment_gets_its_id(account):
    chat = Chat.objects.create(
        account=account, peer_address="p@example.org", last_activity_at=timezone.now()
    )
    message = _messages(account, chat, "fk")[0]
    copy = MessageCopy(account=account, folder="INBOX", uidvalidity=2**40, uid=1, message=message)
    file = Attachment(
        message=message,
        index=0,
        filename=AWKWARD,
        content_type="text/plain",
        size=2**40,
        duration_ms=None,
        data=None,
    )

    bulk.insert(Message, [message])
    bulk.insert(MessageCopy, [copy])
    bulk.insert(Attachment, [file])

    assert MessageCopy.objects.get(pk=copy.pk).message_id == message.pk
    stored = Attachment.objects.get(pk=file.pk)
    assert (stored.message_id, stored.filename, stored.size) == (message.pk, AWKWARD, 2**40)
    assert stored.duration_ms is None and stored.data is None


def test_an_unsaved_related_row_is_refused_as_django_refuses_it(account):
    chat = Chat(account=account, peer_address="never@example.org", last_activity_at=timezone.now())
    message = _messages(account, chat, "unsaved")[0]
    with pytest.raises(ValueError, match="unsaved related object 'chat'"):
        bulk.insert(Message, [message])


def test_values_of_another_type_are_converted_as_django_converts_them(account):
    chat = Chat.objects.create(
        account=account, peer_address="c@example.org", last_activity_at=timezone.now()
    )
    message = _messages(account, chat, "convert")[1]
    message.send_attempts = True  # a bool in an integer column: stored as 1
    message.state = Message.State.SENT  # a str enum member: stored as its value
    state = FolderState(
        account=account, folder="INBOX", uidvalidity=None, history_controls=[3, 1, 2]
    )

    bulk.insert(Message, [message])
    bulk.insert(FolderState, [state])

    stored = Message.objects.get(pk=message.pk)
    assert (stored.send_attempts, stored.state) == (1, "sent")
    assert FolderState.objects.get(pk=state.pk).history_controls == [3, 1, 2]
    assert FolderState.objects.get(pk=state.pk).uidvalidity is None


def test_a_conflict_inserts_nothing(account):
    chat = Chat.objects.create(
        account=account, peer_address="d@example.org", last_activity_at=timezone.now()
    )
    Message.objects.create(
        account=account,
        chat=chat,
        direction="in",
        state="received",
        message_id="<dup@x>",
        from_address="d@example.org",
        sort_at=timezone.now(),
    )
    fresh, dup = _messages(account, chat, "conflict")
    dup.message_id = "<dup@x>"
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk.insert(Message, [fresh, dup])
    assert not Message.objects.filter(message_id=fresh.message_id).exists()


def test_rows_without_instances_read_back_as_saved_ones_with_defaults_filled_in(account):
    chat = Chat.objects.create(
        account=account, peer_address="rows@example.org", last_activity_at=timezone.now()
    )
    saved = _messages(account, chat, "saved")
    for message in saved:
        message.save()
    fields = [
        f
        for f in Message._meta.concrete_fields
        if f.name not in {"id", "account", "chat", "message_id", "created_at", "updated_at"}
    ]
    # What differs from the defaults, which are left to insert_rows to fill in.
    rows = [
        {
            "account_id": account.pk,
            "chat_id": chat.pk,
            "message_id": f"<rows-{i}@x>",
            **{
                f.attname: getattr(m, f.attname)
                for f in fields
                if getattr(m, f.attname) != f.get_default()
            },
        }
        for i, m in enumerate(saved)
    ]

    pks = bulk.insert_rows(Message, rows)

    assert len(pks) == 2 and pks[0] < pks[1]
    copied = list(Message.objects.filter(pk__in=pks).order_by("pk"))
    assert [m.message_id for m in copied] == ["<rows-0@x>", "<rows-1@x>"]
    assert _stored(copied) == _stored(saved)
    assert all(m.created_at and m.updated_at for m in copied)


def test_rows_naming_a_field_instead_of_its_column_are_refused(account):
    chat = Chat.objects.create(
        account=account, peer_address="bad@example.org", last_activity_at=timezone.now()
    )
    with pytest.raises(TypeError, match="no column chat"):
        bulk.insert_rows(MessageCopy, [{"chat": chat, "uid": 1}])
