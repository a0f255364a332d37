"""The local Dovecot + Postfix from scripts/mailserver.sh, as seen by the tests."""

from __future__ import annotations

import email.utils
import imaplib
import os
import secrets
import smtplib
import ssl
import subprocess
from dataclasses import dataclass, field
from email.message import EmailMessage
from functools import cache
from pathlib import Path

from mailcore import imap
from mailcore.endpoints import Credentials, Endpoint

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "mailserver.sh"


@dataclass(frozen=True)
class MailServer:
    host: str
    domain: str
    imap_port: int
    imaps_port: int
    submission_port: int
    smtp_port: int
    ca_file: str

    @property
    def imaps(self) -> Endpoint:
        return Endpoint(self.host, self.imaps_port, "ssl")

    @property
    def submission(self) -> Endpoint:
        return Endpoint(self.host, self.submission_port, "starttls")

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)


@dataclass(frozen=True)
class MailUser:
    email: str
    password: str = field(repr=False)


@cache
def mail_server() -> MailServer:
    values = dict(os.environ)
    if "COIWEB_IMAPS_PORT" not in values:
        out = subprocess.run(
            [str(SCRIPT), "env"], check=True, capture_output=True, text=True
        ).stdout
        values.update(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return MailServer(
        host=values["COIWEB_MAIL_HOST"],
        domain=values["COIWEB_MAIL_DOMAIN"],
        imap_port=int(values["COIWEB_IMAP_PORT"]),
        imaps_port=int(values["COIWEB_IMAPS_PORT"]),
        submission_port=int(values["COIWEB_SUBMISSION_PORT"]),
        smtp_port=int(values["COIWEB_SMTP_PORT"]),
        ca_file=values["COIWEB_MAIL_CA"],
    )


def add_mail_user(prefix: str = "user") -> MailUser:
    """Create a fresh mailbox with a random password on the local mail server."""
    server = mail_server()
    user = MailUser(
        f"{prefix}-{secrets.token_hex(4)}@{server.domain}", "pw-" + secrets.token_urlsafe(12)
    )
    subprocess.run(
        [str(SCRIPT), "adduser", user.email, user.password], check=True, capture_output=True
    )
    return user


def add_coi_user(prefix: str = "coi") -> MailUser:
    """Create a fresh mailbox on an emulated COI server (only this user sees COI): the COI
    capability after login, mailbox-root COI, and the plugin's filing at delivery."""
    server = mail_server()
    user = MailUser(
        f"{prefix}-{secrets.token_hex(4)}@{server.domain}", "pw-" + secrets.token_urlsafe(12)
    )
    subprocess.run(
        [str(SCRIPT), "adduser-coi", user.email, user.password], check=True, capture_output=True
    )
    return user


def send_plain_mail(
    *,
    sender: str,
    to: str,
    subject: str,
    body: str,
    html: str | None = None,
    extra: dict | None = None,
) -> str:
    """Deliver a plain email through the MX port, as any outside mail client would; return its Message-ID."""
    server = mail_server()
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = email.utils.formatdate(localtime=True)
    message["Message-ID"] = email.utils.make_msgid(domain="plain.example.org")
    for name, value in (extra or {}).items():
        message[name] = value
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    with smtplib.SMTP(server.host, server.smtp_port, timeout=10) as smtp:
        smtp.send_message(message)
    return message["Message-ID"]


def imap_login(user: MailUser) -> imaplib.IMAP4_SSL:
    server = mail_server()
    client = imaplib.IMAP4_SSL(server.host, server.imaps_port, ssl_context=server.ssl_context())
    client.login(user.email, user.password)
    return client


def folder_flags_by_message_id(user: MailUser, folder: str) -> dict[str, set[str]]:
    """Message-ID -> flags of every message in `folder` (empty if the folder is missing)."""
    client = imap_login(user)
    try:
        typ, data = client.select(f'"{folder}"', readonly=True)
        if typ != "OK" or data[0] == b"0":
            return {}
        _typ, data = client.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        found = {}
        for item in data:
            if isinstance(item, tuple):
                flags = imaplib.ParseFlags(item[0])
                header = item[1].decode().split(":", 1)[1].strip()
                found[header] = {f.decode() for f in flags}
        return found
    finally:
        client.logout()


def fetch_raw_by_message_id(user: MailUser, folder: str, message_id: str) -> list[bytes]:
    """Every raw copy of `message_id` in `folder` of the user's mailbox."""
    client = imap_login(user)
    try:
        client.select(folder, readonly=True)
        _typ, data = client.uid("SEARCH", None, "HEADER", "Message-ID", message_id)
        uids = data[0].split()
        raws = []
        for uid in uids:
            _typ, parts = client.uid("FETCH", uid, "(BODY.PEEK[])")
            raws.append(parts[0][1])
        return raws
    finally:
        client.logout()


def session_of(user: MailUser):
    """A mailcore IMAP session (context manager) of `user` on the local server, over TLS."""
    server = mail_server()
    return imap.session(
        server.imaps,
        Credentials(user.email, user.password),
        ssl_context=server.ssl_context(),
        timeout=10,
    )
