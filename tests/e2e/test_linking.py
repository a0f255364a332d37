"""Linking a mailbox in the browser: each failure has its own message, secrets stay secret."""

from __future__ import annotations

import os
import socket
import subprocess

import pytest
from django.conf import settings
from playwright.sync_api import expect

from accounts.models import MailAccount
from tests.mailserver import add_mail_user, mail_server

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


def _fill_mailbox_form(page, *, email, password, imap_host, imap_port, smtp_port):
    server = mail_server()
    page.goto("/accounts/mailboxes/new/")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.fill("input[name=imap_host]", imap_host)
    page.fill("input[name=imap_port]", str(imap_port))
    page.select_option("select[name=imap_security]", "ssl")
    page.fill("input[name=smtp_host]", server.host)
    page.fill("input[name=smtp_port]", str(smtp_port))
    page.select_option("select[name=smtp_security]", "starttls")
    page.click("button[type=submit]")


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong-password", "rejected the username or password"),
        ("closed-port", "refused the connection on port"),
        ("unknown-host", "Could not find the server"),
    ],
)
def test_each_link_failure_shows_its_own_message(case, expected, make_person, open_page):
    person = make_person("linker", link=False)
    server = mail_server()
    page = open_page(person, "/accounts/mailboxes/")
    mail = add_mail_user("target")
    password, host, port = mail.password, server.host, server.imaps_port
    if case == "wrong-password":
        password = "definitely-wrong"
    elif case == "closed-port":
        port = _closed_port()
    else:
        host = "no-such-host.invalid"
    _fill_mailbox_form(
        page,
        email=mail.email,
        password=password,
        imap_host=host,
        imap_port=port,
        smtp_port=server.submission_port,
    )
    alert = page.locator(".form-error")
    expect(alert).to_contain_text(expected)
    # The password is never sent back into the form, and nothing was saved.
    assert page.locator("input[name=password]").input_value() == ""
    assert not MailAccount.objects.filter(user=person.user).exists()


def test_linking_stores_no_plaintext_password_in_db_or_logs(make_person, open_page, live_stack):
    person = make_person("secretive", link=False)
    server = mail_server()
    mail = add_mail_user("secret")
    page = open_page(person, "/accounts/mailboxes/")
    _fill_mailbox_form(
        page,
        email=mail.email,
        password=mail.password,
        imap_host=server.host,
        imap_port=server.imaps_port,
        smtp_port=server.submission_port,
    )
    expect(page).to_have_url(live_stack.url + "/")
    account = MailAccount.objects.get(user=person.user)
    assert account.credentials().password == mail.password
    assert "IDLE" in account.capabilities and account.sent_folder == "Sent"
    page.wait_for_timeout(1500)  # let the worker and watcher log in with it

    db = settings.DATABASES["default"]
    dump = subprocess.run(
        ["pg_dump", "-h", db["HOST"], "-p", str(db["PORT"]), "-U", db["USER"], db["NAME"]],
        env={**os.environ, "PGPASSWORD": db["PASSWORD"]},
        capture_output=True,
        check=True,
    ).stdout
    assert mail.email.encode() in dump  # the dump is real and holds the account
    assert mail.password.encode() not in dump
    assert mail.password not in live_stack.logs()
    assert mail.password not in repr(account)
