"""mailcore.imap against the real local Dovecot (no Django involved)."""

from __future__ import annotations

import subprocess

import pytest

from mailcore import imap
from mailcore.errors import ConnectionLost
from tests.mailserver import add_mail_user, mail_server, send_plain_mail, session_of


def test_idle_reports_new_mail():
    user = add_mail_user("idler")
    with session_of(user) as client:
        client.select_folder("INBOX", readonly=True)
        client.idle()
        send_plain_mail(sender="a@example.org", to=user.email, subject="x", body="y")
        responses = imap.idle_wait(client, 5)
        client.idle_done()
    assert any(r[1] == b"EXISTS" for r in responses if len(r) > 1)


def test_a_connection_the_server_drops_during_idle_is_reported_not_spun_on():
    user = add_mail_user("kicked")
    conf = f"{mail_server().ca_file.rsplit('/tls/', 1)[0]}/dovecot/dovecot.conf"
    with pytest.raises(ConnectionLost), session_of(user) as client:
        client.select_folder("INBOX", readonly=True)
        client.idle()
        subprocess.run(["doveadm", "-c", conf, "kick", user.email], check=True, capture_output=True)
        for _ in range(50):  # without the EOF check this loop would spin through all 50 at once
            imap.idle_wait(client, 5)
