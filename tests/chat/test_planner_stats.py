"""A history import re-measures the tables it fills once they have outgrown their
statistics, so PostgreSQL stops checking foreign keys by reading whole tables."""

from __future__ import annotations

import itertools

import pytest
from django.db import connection
from django.utils import timezone

from chat import bulk, planner_stats
from chat.models import Chat, Message

pytestmark = pytest.mark.django_db

_peers = itertools.count()


def _store_messages(account, count: int) -> None:
    chat = Chat.objects.create(
        account=account,
        kind="single",
        peer_address=f"peer{next(_peers)}@example.org",
        last_activity_at=timezone.now(),
    )
    now = timezone.now()
    bulk.insert_rows(
        Message,
        [
            {
                "account_id": account.pk,
                "chat_id": chat.pk,
                "direction": "in",
                "state": "received",
                "message_id": f"<{chat.pk}.{i}@example.org>",
                "text": "a message of some length " * 8,
                "sort_at": now,
            }
            for i in range(count)
        ],
    )


@pytest.fixture
def cursor():
    with connection.cursor() as cursor:
        yield cursor


def test_a_table_grown_past_twice_its_measured_size_is_analyzed(account, cursor):
    cursor.execute("ANALYZE chat_message")
    _store_messages(account, 3000)

    assert "chat_message" in planner_stats.analyze_grown_tables()
    assert planner_stats.analyze_grown_tables() == []  # measured now: nothing to do


def test_a_table_that_grew_a_little_is_left_alone(account):
    _store_messages(account, 3000)
    planner_stats.analyze_grown_tables()
    _store_messages(account, 20)
    assert "chat_message" not in planner_stats.analyze_grown_tables()
