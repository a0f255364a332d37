"""field__any: the rows field__in finds, asked with one array parameter."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat.models import FolderState, KnownAddress

pytestmark = pytest.mark.django_db


@pytest.fixture
def known(account):
    addresses = [f"peer{i}@example.org" for i in range(300)] + ["o'brien@example.org"]
    KnownAddress.objects.bulk_create(KnownAddress(account=account, address=a) for a in addresses)
    return addresses


def test_any_finds_the_rows_in_finds_for_text(account, known):
    wanted = {*known[::7], "o'brien@example.org", "nobody@example.org"}
    found = KnownAddress.objects.filter(account=account, address__any=wanted)
    expected = KnownAddress.objects.filter(account=account, address__in=wanted)
    assert sorted(found.values_list("address", flat=True)) == sorted(
        expected.values_list("address", flat=True)
    )
    assert len(found) == len(known[::7]) + 1


def test_any_finds_the_rows_in_finds_for_numbers(account):
    for uid in (5, 900, 2**40):
        FolderState.objects.create(account=account, folder=f"F{uid}", uidvalidity=uid)
    found = FolderState.objects.filter(account=account, uidvalidity__any={5, 2**40, 7})
    assert sorted(found.values_list("uidvalidity", flat=True)) == [5, 2**40]


def test_any_sends_one_parameter_on_postgresql(account, known):
    query = KnownAddress.objects.filter(account=account, address__any=known).query
    sql, params = query.sql_with_params()
    assert "= ANY(" in sql
    assert params == (account.pk, known)


def test_any_of_nothing_asks_nothing(account):
    with CaptureQueriesContext(connection) as queries:
        assert list(KnownAddress.objects.filter(account=account, address__any=[])) == []
        assert list(KnownAddress.objects.filter(account=account, address__any=[None])) == []
    assert queries.captured_queries == []
