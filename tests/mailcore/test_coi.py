"""COI server mode in mailcore, against the local Dovecot's emulated COI users (no Django)."""

from __future__ import annotations

import imaplib
import smtplib
import time

import pytest

from mailcore import coi, imap
from mailcore.endpoints import Credentials, Endpoint
from tests.mailserver import add_coi_user, add_mail_user, folder_flags_by_message_id, mail_server


def _session(user, endpoint=None):
    server = mail_server()
    return imap.session(
        endpoint or server.imaps,
        Credentials(user.email, user.password),
        ssl_context=server.ssl_context(),
        timeout=10,
    )


def _raw_config(user) -> list:
    """The untagged METADATA response exactly as the server sent it (literals included)."""
    with _session(user) as client:
        keys = " ".join(coi.CONFIG_KEYS).encode()
        return client._raw_command_untagged(
            b"GETMETADATA", [b'""', b"(" + keys + b")"], response_name="METADATA", uid=False
        )


def test_coi_is_listed_only_after_login_and_we_read_it_then():
    user = add_coi_user()
    server = mail_server()
    raw = imaplib.IMAP4_SSL(server.host, server.imaps_port, ssl_context=server.ssl_context())
    try:
        assert "COI" not in raw.capabilities  # the greeting's list
        raw.login(user.email, user.password)
        assert "COI" not in raw.capabilities  # imaplib keeps the pre-login list
    finally:
        raw.logout()
    starttls = Endpoint(server.host, server.imap_port, "starttls")
    for endpoint in (server.imaps, starttls):
        with _session(user, endpoint) as client:
            caps = imap.capabilities(client)
            assert coi.is_coi_server(caps)
            assert imap.probe(client).coi == coi.CoiConfig(
                enabled=False, mailbox_root="COI", message_filter="none"
            )


def test_a_plain_user_of_the_same_server_sees_no_coi():
    with _session(add_mail_user("plain")) as client:
        assert not coi.is_coi_server(imap.capabilities(client))
        assert imap.probe(client).coi is None


def test_enabling_writes_yes_and_the_filter_and_reads_back_literal_values():
    user = add_coi_user()
    with _session(user) as client:
        config = coi.enable(client, message_filter="active")
    assert config == coi.CoiConfig(enabled=True, mailbox_root="COI", message_filter="active")
    # The server answers with literals ({3}\r\nyes); the parser above read those.
    assert any(isinstance(part, tuple) and part[1] == b"active" for part in _raw_config(user))


def test_going_back_to_the_default_filter_writes_none_never_nil():
    user = add_coi_user()
    with _session(user) as client:
        coi.enable(client, message_filter="seen")
        coi.set_message_filter(client, "")
        values = coi.get_metadata(client, "", coi.CONFIG_KEYS)
        assert values[coi.MESSAGE_FILTER] == "none"
        with pytest.raises(coi.InvalidFilter):
            coi.set_metadata(client, "", {coi.MESSAGE_FILTER: None})
        with pytest.raises(coi.InvalidFilter):
            coi.set_message_filter(client, "Active")  # the plugin's values are case-sensitive
        # Nothing was sent: the session still works and the value is unchanged.
        assert coi.read_config(client).message_filter == "none"
        disabled = coi.disable(client)
    assert disabled == coi.CoiConfig(enabled=False, mailbox_root="COI", message_filter="none")
    # On the wire the stored filter is the literal "none", not NIL.
    assert any(isinstance(part, tuple) and part[1] == b"none" for part in _raw_config(user))


def test_metadata_parser_reads_the_observed_answers_of_a_real_coi_server():
    # coi-server-observed.md 3.1 and 3.2, as imaplib hands them over.
    fresh = [
        (
            b'"" (/private/vendor/vendor.dovecot/coi/config/enabled NIL '
            b"/private/vendor/vendor.dovecot/coi/config/mailbox-root {3}",
            b"COI",
        ),
        b" /private/vendor/vendor.dovecot/coi/config/message-filter NIL)",
    ]
    assert coi.parse_metadata(fresh) == {
        coi.ENABLED: None,
        coi.MAILBOX_ROOT: "COI",
        coi.MESSAGE_FILTER: None,
    }
    enabled = [
        (b'"" (/private/vendor/vendor.dovecot/coi/config/enabled {3}', b"yes"),
        (b" /private/vendor/vendor.dovecot/coi/config/mailbox-root {3}", b"COI"),
        b" /private/vendor/vendor.dovecot/coi/config/message-filter NIL)",
    ]
    assert coi.parse_metadata(enabled)[coi.ENABLED] == "yes"
    # With DEPTH an unset filter is simply absent; both mean "none".
    depth = [
        (b'"" (/private/vendor/vendor.dovecot/coi/config/enabled {3}', b"yes"),
        (b" /private/vendor/vendor.dovecot/coi/config/mailbox-root {3}", b"COI"),
        b")",
    ]
    assert coi.MESSAGE_FILTER not in coi.parse_metadata(depth)


def _deliver(user, message_id: str, *, chat: bool) -> None:
    server = mail_server()
    headers = (
        f"From: peer@example.org\r\nTo: {user.email}\r\nSubject: t\r\nMessage-ID: {message_id}\r\n"
    )
    if chat:
        headers += "Chat-Version: 1.0\r\n"
    with smtplib.SMTP(server.host, server.smtp_port, timeout=10) as smtp:
        smtp.sendmail("peer@example.org", [user.email], (headers + "\r\nhello\r\n").encode())


def _wait_for(user, folder, message_id):
    for _ in range(100):
        found = folder_flags_by_message_id(user, folder)
        if message_id in found:
            return found[message_id]
        time.sleep(0.1)
    raise AssertionError(f"{message_id} never reached {folder}")


def test_the_emulated_server_files_like_the_plugin_for_each_setting():
    user = add_coi_user()
    # COI off: chat mail in INBOX without $Chat.
    _deliver(user, "<off.1@example.org>", chat=True)
    assert "$Chat" not in _wait_for(user, "INBOX", "<off.1@example.org>")
    with _session(user) as client:
        coi.enable(client, message_filter="none")
    _deliver(user, "<none.1@example.org>", chat=True)
    _deliver(user, "<chat$none.2@example.org>", chat=False)  # chat by its Message-ID
    _deliver(user, "<Chat$none.3@example.org>", chat=False)  # "chat$" is case-sensitive
    assert "$Chat" in _wait_for(user, "INBOX", "<none.1@example.org>")
    assert "$Chat" in _wait_for(user, "INBOX", "<chat$none.2@example.org>")
    assert "$Chat" not in _wait_for(user, "INBOX", "<Chat$none.3@example.org>")
    with _session(user) as client:
        coi.set_message_filter(client, "active")
    _deliver(user, "<active.1@example.org>", chat=True)
    _deliver(user, "<active.2@example.org>", chat=False)
    assert "$Chat" in _wait_for(user, "COI/Chats", "<active.1@example.org>")
    _wait_for(user, "INBOX", "<active.2@example.org>")
    assert "<active.1@example.org>" not in folder_flags_by_message_id(user, "INBOX")


def test_moving_messages_moves_them_once_and_keeps_the_rest():
    user = add_mail_user("mover")
    _deliver(user, "<m.1@example.org>", chat=True)
    _deliver(user, "<m.2@example.org>", chat=False)
    _wait_for(user, "INBOX", "<m.2@example.org>")
    _wait_for(user, "INBOX", "<m.1@example.org>")
    with _session(user) as client:
        imap.ensure_folder(client, "COI/Chats")
        imap.ensure_folder(client, "COI/Chats")  # already there: fine
        client.select_folder("INBOX")
        uid = client.search(["HEADER", "Message-ID", "<m.1@example.org>"])
        assert imap.move_messages(client, "INBOX", uid, "COI/Chats")
    assert list(folder_flags_by_message_id(user, "COI/Chats")) == ["<m.1@example.org>"]
    assert list(folder_flags_by_message_id(user, "INBOX")) == ["<m.2@example.org>"]
