"""Linking against the real local mail server, in-process (the browser variant is in e2e)."""

from __future__ import annotations

import socket
import ssl
import threading

import pytest

from accounts import services
from accounts.forms import MailboxForm
from accounts.models import MailAccount
from mailcore import errors
from mailcore.endpoints import Endpoint
from tests.mailserver import add_mail_user, mail_server

pytestmark = pytest.mark.django_db


def _settings(mail, *, imap=None, smtp=None, password=None):
    server = mail_server()
    return services.MailboxSettings(
        email=mail.email,
        password=password or mail.password,
        login=mail.email,
        display_name="",
        imap=imap or server.imaps,
        smtp=smtp or server.submission,
    )


def test_linking_reads_capabilities_after_login(django_user_model):
    user = django_user_model.objects.create_user("u", password="p-long-passphrase")
    mail = add_mail_user("caps")
    account = services.link_mailbox(user=user, mailbox=_settings(mail))
    # Dovecot lists these only after authentication.
    for capability in (
        "IDLE",
        "MOVE",
        "UIDPLUS",
        "CONDSTORE",
        "QRESYNC",
        "METADATA",
        "SPECIAL-USE",
    ):
        assert capability in account.capabilities
    assert account.sent_folder == "Sent"
    assert account.mode == MailAccount.Mode.IDLE


def test_wrong_smtp_password_saves_nothing(django_user_model):
    user = django_user_model.objects.create_user("u", password="p-long-passphrase")
    mail = add_mail_user("half")
    server = mail_server()
    # IMAP works, SMTP gets a port that is not SMTP submission with auth → nothing saved.
    with pytest.raises(errors.MailError):
        services.link_mailbox(
            user=user,
            mailbox=_settings(mail, smtp=Endpoint(server.host, server.smtp_port, "starttls")),
        )
    assert not MailAccount.objects.exists()


def test_starttls_imap_and_implicit_tls_smtp_work(django_user_model):
    user = django_user_model.objects.create_user("u", password="p-long-passphrase")
    mail = add_mail_user("tls")
    server = mail_server()
    import os

    submissions = int(os.environ.get("COIWEB_SUBMISSIONS_PORT", "3465"))
    account = services.link_mailbox(
        user=user,
        mailbox=_settings(
            mail,
            imap=Endpoint(server.host, server.imap_port, "starttls"),
            smtp=Endpoint(server.host, submissions, "ssl"),
        ),
    )
    assert account.imap_security == "starttls" and account.smtp_security == "ssl"


def test_plain_imap_on_loopback_is_allowed_but_not_elsewhere():
    base = {
        "email": "a@example.org",
        "password": "x",
        "imap_port": 143,
        "imap_security": "plain",
        "smtp_host": "127.0.0.1",
        "smtp_port": 587,
        "smtp_security": "starttls",
    }
    assert MailboxForm({**base, "imap_host": "127.0.0.1"}).is_valid()
    form = MailboxForm({**base, "imap_host": "mail.example.com"})
    assert not form.is_valid()
    assert "only allowed to this machine" in str(form.errors["imap_security"])


def _untrusted_tls_server() -> tuple[int, threading.Thread]:
    """A TLS listener whose self-signed certificate nobody trusts (generated on the fly)."""
    import subprocess
    import tempfile

    tmp = tempfile.mkdtemp()
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            f"{tmp}/k.pem",
            "-out",
            f"{tmp}/c.pem",
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(f"{tmp}/c.pem", f"{tmp}/k.pem")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve():
        conn, _ = listener.accept()
        try:
            with context.wrap_socket(conn, server_side=True) as tls:
                tls.sendall(b"* OK ready\r\n")
        except (ssl.SSLError, OSError):
            pass
        listener.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener.getsockname()[1], thread


def test_untrusted_certificate_is_reported_as_such(django_user_model):
    user = django_user_model.objects.create_user("u", password="p-long-passphrase")
    mail = add_mail_user("cert")
    port, thread = _untrusted_tls_server()
    with pytest.raises(errors.CertificateInvalid) as caught:
        services.link_mailbox(
            user=user, mailbox=_settings(mail, imap=Endpoint("127.0.0.1", port, "ssl"))
        )
    assert "certificate" in caught.value.user_message
    thread.join(5)
    assert not MailAccount.objects.exists()


def test_a_server_that_never_answers_times_out_with_its_own_message(django_user_model, settings):
    settings.COIWEB_MAIL_TIMEOUT = 1
    user = django_user_model.objects.create_user("u", password="p-long-passphrase")
    mail = add_mail_user("slow")
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts the TCP connection but never says a word
    try:
        port = silent.getsockname()[1]
        with pytest.raises(errors.ConnectionTimedOut) as caught:
            services.link_mailbox(
                user=user, mailbox=_settings(mail, imap=Endpoint("127.0.0.1", port, "ssl"))
            )
    finally:
        silent.close()
    assert "did not answer within 1 seconds" in caught.value.user_message
    assert not MailAccount.objects.exists()
