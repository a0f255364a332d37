"""Pushes during history import: the rows a page shows, at most once a second, and every
changed row once the import stops."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import MailAccount, User
from chat import events, queries
from chat.models import Chat, Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    pushes: list[str] = []
    monkeypatch.setattr(events, "_send", lambda user_id, html: pushes.append(html))
    return pushes


_peers = iter(range(10**6))


def _chats(account, count: int, *, last_activity_at=None, **fields) -> list[Chat]:
    """`count` chats, the newest first."""
    now = last_activity_at or timezone.now()
    return [
        Chat.objects.create(
            account=account,
            peer_address=f"peer{next(_peers)}@example.org",
            last_activity_at=now - timedelta(hours=i),
            **fields,
        )
        for i in range(count)
    ]


def _rows(html: str) -> set[int]:
    return {int(pk) for pk in re.findall(r'<li id="chat-(\d+)"', html)}


def test_while_importing_only_rows_on_a_first_page_are_pushed_and_the_rest_at_the_end(
    account, sent, django_capture_on_commit_callbacks
):
    chats = _chats(account, queries.CHAT_PAGE_SIZE + 5)
    newest, oldest = chats[0], chats[-1]
    request = _chats(account, 1, is_request=True, requested_by="stranger@example.org")[0]
    pushes = events.HistoryPushes(account, interval=0)

    with django_capture_on_commit_callbacks(execute=True):
        pushes.add({newest.pk, oldest.pk, request.pk})
    assert _rows(sent[-1]) == {newest.pk, request.pk}
    assert 'id="list-entries"' in sent[-1]

    with django_capture_on_commit_callbacks(execute=True):
        pushes.finish()
    assert _rows(sent[-1]) == {oldest.pk}  # the others were pushed and did not change
    assert len(sent) == 2


def test_pushes_come_at_most_once_an_interval_and_what_waited_comes_at_the_end(
    account, sent, django_capture_on_commit_callbacks
):
    first, second, third = _chats(account, 3)
    pushes = events.HistoryPushes(account, interval=3600)

    with django_capture_on_commit_callbacks(execute=True):
        pushes.add({first.pk})
        pushes.add({second.pk})
        pushes.add(set())
    assert [_rows(html) for html in sent] == [{first.pk, second.pk}]

    with django_capture_on_commit_callbacks(execute=True):
        pushes.add({third.pk})
    assert len(sent) == 1
    with django_capture_on_commit_callbacks(execute=True):
        pushes.finish()
    assert _rows(sent[-1]) == {third.pk}


def test_an_import_that_changed_nothing_pushes_nothing(
    account, sent, django_capture_on_commit_callbacks
):
    pushes = events.HistoryPushes(account, interval=0)
    with django_capture_on_commit_callbacks(execute=True):
        pushes.add(set())
        pushes.finish()
    assert sent == []


def test_first_pages_count_each_list_and_filter_of_the_owner_only(account):
    chats = _chats(account, queries.CHAT_PAGE_SIZE + 2)  # plain email, the newest first
    below, last = chats[-2], chats[-1]
    # The oldest is a chat: below the first page of "all", first on that of "chats".
    Message.objects.create(
        account=account,
        chat=last,
        direction="in",
        state="received",
        message_id="<chat$1@x>",
        from_address=last.peer_address,
        is_chat=True,
        sort_at=last.last_activity_at,
    )
    pinned = _chats(account, 1, pinned=True, last_activity_at=timezone.now() - timedelta(days=9))
    archived = _chats(account, 1, archived=True)[0]
    other_user = User.objects.create_user(username="other", password="x" * 20)
    other = MailAccount.objects.create(
        user=other_user, email="o@example.org", login="o", imap_port=1, smtp_port=1
    )
    stranger = _chats(other, 1)[0]
    asked = {chats[0].pk, below.pk, last.pk, pinned[0].pk, archived.pk, stranger.pk}

    shown = queries.on_first_pages(account.user, asked)

    assert shown == {chats[0].pk, last.pk, pinned[0].pk, archived.pk}
