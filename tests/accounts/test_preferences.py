"""A person's own settings: read receipts on by default, turned off for that person only."""

from __future__ import annotations

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def _receipts_ticked(page: str) -> bool:
    box = re.search(r'<input[^>]*name="send_read_receipts"[^>]*>', page)
    assert box, "no read receipts box on the page"
    return "checked" in box.group(0)


def _client(person) -> Client:
    client = Client()
    client.force_login(person.user)
    return client


def test_the_settings_page_turns_receipts_off_for_that_person_only(make_person):
    alice, bob = make_person("alice", link=False), make_person("bob", link=False)
    client = _client(alice)
    page = client.get("/accounts/settings/").content.decode()
    assert "Send read receipts" in page and _receipts_ticked(page)

    response = client.post("/accounts/settings/", {})
    assert response.status_code == 302
    alice.user.refresh_from_db()
    bob.user.refresh_from_db()
    assert alice.user.send_read_receipts is False and bob.user.send_read_receipts is True
    assert not _receipts_ticked(client.get("/accounts/settings/").content.decode())

    client.post("/accounts/settings/", {"send_read_receipts": "on"})
    alice.user.refresh_from_db()
    assert alice.user.send_read_receipts is True


def test_the_settings_page_needs_a_sign_in():
    response = Client().get("/accounts/settings/")
    assert response.status_code == 302 and "/login/" in response["Location"]
