"""COI on the mailbox page: the state read at link time, enabling COI, the fallback option."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import MailAccount
from mailcore import coi, imap
from mailcore.endpoints import Credentials
from tests.mailserver import mail_server

pytestmark = pytest.mark.django_db


def _client_for(person) -> Client:
    client = Client()
    client.force_login(person.user)
    return client


def _server_config(person) -> dict:
    server = mail_server()
    with imap.session(
        server.imaps,
        Credentials(person.mail.email, person.mail.password),
        ssl_context=server.ssl_context(),
    ) as client:
        return coi.get_metadata(client, "", coi.CONFIG_KEYS)


def test_linking_a_coi_server_records_that_coi_is_offered_and_off(make_person):
    account = make_person("coi", coi=True).account
    assert account.coi_offered
    assert not account.coi_enabled
    assert account.coi_message_filter == "none"
    assert account.coi_mailbox_root == "COI"
    assert account.coi_chats_folder == ""


def test_linking_a_plain_server_records_no_coi(make_person):
    account = make_person("plain").account
    assert not account.coi_offered
    assert (account.coi_message_filter, account.coi_mailbox_root) == ("", "")
    assert not account.coi_fallback_move


def test_the_page_offers_coi_on_a_coi_server_and_enabling_it_there_files_chats(make_person):
    person = make_person("coi", coi=True)
    client = _client_for(person)
    page = client.get(f"/accounts/mailboxes/{person.account.pk}/").content.decode()
    assert "Enable COI on this server" in page
    assert "Move chat messages into COI/Chats" not in page

    response = client.post(
        f"/accounts/mailboxes/{person.account.pk}/coi/",
        {"action": "enable", "message_filter": "active"},
        follow=True,
    )
    assert "COI is on for this mailbox." in response.content.decode()
    account = MailAccount.objects.get(pk=person.account.pk)
    assert account.coi_enabled
    assert account.coi_message_filter == "active"
    assert account.coi_chats_folder == "COI/Chats"
    assert account.chats_bypass_inbox
    assert _server_config(person) == {
        coi.ENABLED: "yes",
        coi.MAILBOX_ROOT: "COI",
        coi.MESSAGE_FILTER: "active",
    }
    assert "filed into COI/Chats as they arrive" in response.content.decode()


def test_switching_the_filter_back_writes_none_and_switching_off_keeps_it(make_person):
    person = make_person("coi", coi=True)
    client = _client_for(person)
    url = f"/accounts/mailboxes/{person.account.pk}/coi/"
    client.post(url, {"action": "enable", "message_filter": "seen"})
    client.post(url, {"action": "enable", "message_filter": "none"})
    assert _server_config(person)[coi.MESSAGE_FILTER] == "none"
    client.post(url, {"action": "disable"})
    account = MailAccount.objects.get(pk=person.account.pk)
    assert not account.coi_enabled
    assert _server_config(person)[coi.ENABLED] is None
    assert _server_config(person)[coi.MESSAGE_FILTER] == "none"


def test_an_unknown_filter_is_refused_with_a_message_and_changes_nothing(make_person):
    person = make_person("coi", coi=True)
    response = _client_for(person).post(
        f"/accounts/mailboxes/{person.account.pk}/coi/",
        {"action": "enable", "message_filter": "bogus"},
        follow=True,
    )
    assert "Choose where chat messages should go." in response.content.decode()
    assert _server_config(person)[coi.ENABLED] is None
    assert not MailAccount.objects.get(pk=person.account.pk).coi_enabled


def test_enabling_coi_on_a_plain_server_is_refused(make_person):
    person = make_person("plain")
    response = _client_for(person).post(
        f"/accounts/mailboxes/{person.account.pk}/coi/",
        {"action": "enable", "message_filter": "active"},
        follow=True,
    )
    assert "does not offer COI" in response.content.decode()


def test_a_plain_server_offers_the_fallback_move_off_by_default(make_person):
    person = make_person("plain")
    client = _client_for(person)
    page = client.get(f"/accounts/mailboxes/{person.account.pk}/").content.decode()
    assert "Move chat messages into COI/Chats (Delta Chat on this account then won" in page
    assert "Enable COI on this server" not in page
    assert 'name="move"' in page and "checked" not in page.split('name="move"')[1].split(">")[0]

    client.post(f"/accounts/mailboxes/{person.account.pk}/fallback/", {"move": "on"})
    assert MailAccount.objects.get(pk=person.account.pk).coi_fallback_move
    client.post(f"/accounts/mailboxes/{person.account.pk}/fallback/", {})
    assert not MailAccount.objects.get(pk=person.account.pk).coi_fallback_move


def test_someone_elses_mailbox_coi_settings_are_a_404(make_person):
    owner = make_person("owner", coi=True)
    other = _client_for(make_person("other", link=False))
    for path, data in (
        ("coi/", {"action": "enable", "message_filter": "active"}),
        ("fallback/", {"move": "on"}),
    ):
        response = other.post(f"/accounts/mailboxes/{owner.account.pk}/{path}", data)
        assert response.status_code == 404
    account = MailAccount.objects.get(pk=owner.account.pk)
    assert not account.coi_enabled and not account.coi_fallback_move
    assert _server_config(owner)[coi.ENABLED] is None
