"""First run in the browser: a person without a mailbox is guided to link one, and the
history import shows a progress bar that the server keeps up to date."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import pytest
from playwright.sync_api import expect

from tests.chat.test_history import _wait_in_mailbox
from tests.mailserver import add_mail_user, mail_server

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _fill(address: str, n: int) -> None:
    server = mail_server()
    with smtplib.SMTP(server.host, server.smtp_port, timeout=30) as smtp:
        for i in range(n):
            message = EmailMessage()
            message["From"] = f"friend{i % 9}@example.org"
            message["To"] = address
            message["Subject"] = f"old {i}"
            message.set_content(f"history {i}")
            smtp.send_message(message)


def test_a_newcomer_is_guided_to_link_a_mailbox_and_sees_the_import_progress(
    make_person, open_page
):
    newcomer = make_person("newcomer", link=False)
    mail = add_mail_user("history")
    _fill(mail.email, 900)

    class Mailbox:  # what _wait_in_mailbox needs
        pass

    box = Mailbox()
    box.mail = mail
    _wait_in_mailbox(box, 900)

    page = open_page(newcomer, "/accounts/mailboxes/new/")
    page.goto("/")
    expect(page).to_have_url(f"{page.url.split('/accounts')[0]}/accounts/mailboxes/new/")
    expect(page.locator("h1")).to_have_text("Link your mailbox")

    # A known provider's servers are filled in from the address.
    page.fill("input[name=email]", "someone@gmail.com")
    expect(page.locator("input[name=imap_host]")).to_have_value("imap.gmail.com")
    expect(page.locator("input[name=smtp_port]")).to_have_value("465")
    expect(page.locator("#provider-match")).to_contain_text("app password")

    server = mail_server()
    page.fill("input[name=email]", mail.email)
    page.fill("input[name=password]", mail.password)
    page.fill("input[name=imap_host]", server.host)
    page.fill("input[name=imap_port]", str(server.imaps_port))
    page.select_option("select[name=imap_security]", "ssl")
    page.fill("input[name=smtp_host]", server.host)
    page.fill("input[name=smtp_port]", str(server.submission_port))
    page.select_option("select[name=smtp_security]", "starttls")
    page.click("#mailbox-form button[type=submit]")

    bar = page.locator("#imports progress")
    expect(bar).to_be_visible(timeout=30_000)
    expect(page.locator("#imports label")).to_contain_text(f"Importing {mail.email}")
    first = int(bar.get_attribute("value"))
    assert bar.get_attribute("max") == "900"
    # Pushed over the websocket: the bar moves and then goes away, without a reload.
    page.evaluate("window.__notReloaded = true")
    page.wait_for_function(
        f"() => {{ const b = document.querySelector('#imports progress');"
        f" return !b || Number(b.value) > {first}; }}",
        timeout=60_000,
    )
    expect(page.locator("#imports .import-progress.done")).to_have_count(1, timeout=90_000)
    expect(bar).to_have_count(0)
    assert page.evaluate("window.__notReloaded === true")
    # Nine strangers wrote: their chats wait as contact requests.
    expect(page.locator("#requests-entry")).to_have_text("Contact requests (9)")
