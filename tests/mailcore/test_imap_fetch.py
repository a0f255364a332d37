"""mailcore.imap.fetch_messages against the real local Dovecot: the same messages, flags,
sizes and dates as imapclient's own fetch, and a client that works on afterwards."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta, timezone

from imapclient import IMAPClient

from mailcore import imap
from tests.mailserver import add_mail_user, imap_login, mail_server, session_of


def _plain_client(user) -> IMAPClient:
    server = mail_server()
    client = IMAPClient(
        server.host, port=server.imaps_port, ssl_context=server.ssl_context(), timeout=10
    )
    client.login(user.email, user.password)
    client.normalise_times = False  # aware datetimes, to compare instants
    return client


def _raw(subject: str, body: bytes, *, eight_bit: bool = False) -> bytes:
    encoding = b"8bit" if eight_bit else b"7bit"
    return (
        b"From: Anna <anna@example.org>\r\nTo: robin@example.org\r\n"
        b"Subject: " + subject.encode() + b"\r\nMessage-ID: <" + subject.encode() + b"@x>\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: "
        + encoding
        + b"\r\n"
        b"\r\n" + body
    )


MESSAGES = [
    (_raw("plain", b"hello\r\n"), (r"\Seen",), datetime(2025, 3, 1, 8, 0, tzinfo=UTC)),
    (
        _raw("eight-bit", "grüße, naïve café ☕\r\n".encode(), eight_bit=True),
        ("$MDNSent", "$Chat", r"\Seen"),
        datetime(2026, 7, 1, 12, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    ),
    (
        _raw("large", b"0123456789abcdef" * (imap.EAGER_BYTES // 16) + b"tail\r\n" * 5000),
        (r"\Flagged",),
        datetime(2024, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-8))),
    ),
    (_raw("unread", b'(parens) "quotes" {3}\r\n'), (), datetime(2026, 1, 1, tzinfo=UTC)),
    (_raw("answered", b"re\r\n"), (r"\Answered", r"\Draft", "$Forwarded"), None),
]


def _fill(user) -> None:
    client = _plain_client(user)
    for raw, flags, when in MESSAGES:
        client.append("INBOX", raw, flags=flags, msg_time=when)
    client.logout()


def _reference(user, uids: list[int]) -> dict[int, dict]:
    client = _plain_client(user)
    client.select_folder("INBOX", readonly=True)
    response = client.fetch(uids, imap.FETCH_ITEMS)
    client.logout()
    return response


def _as_reference(message: imap.FetchedMessage) -> dict:
    return {
        b"BODY[]<0>": message.raw,
        b"FLAGS": {f.encode() for f in message.flags},
        b"RFC822.SIZE": message.size,
        b"INTERNALDATE": message.internal_date,
    }


def _from_reference(data: dict) -> dict:
    body = data.get(b"BODY[]<0>", data.get(b"BODY[]"))
    return {
        b"BODY[]<0>": body,
        b"FLAGS": set(data[b"FLAGS"]),
        b"RFC822.SIZE": data[b"RFC822.SIZE"],
        b"INTERNALDATE": data[b"INTERNALDATE"],
    }


def test_fetch_gives_what_imapclient_gives_for_varied_messages():
    user = add_mail_user("fetchcmp")
    _fill(user)
    with session_of(user) as client:
        client.select_folder("INBOX", readonly=True)
        uids = sorted(client.search(["ALL"]))
        fetched = imap.fetch_messages(client, list(reversed(uids)))
    reference = _reference(user, uids)

    assert [m.uid for m in fetched] == list(reversed(uids)) and len(uids) == len(MESSAGES)
    for message in fetched:
        assert _as_reference(message) == _from_reference(reference[message.uid])
        assert message.internal_date.utcoffset() == timedelta(0)
    by_subject = {m.raw.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0]: m for m in fetched}
    assert by_subject[b"eight-bit"].flags - {"\\Recent"} == {"$MDNSent", "$Chat", "\\Seen"}
    assert "grüße".encode() in by_subject[b"eight-bit"].raw
    assert by_subject[b"eight-bit"].internal_date == datetime(2026, 7, 1, 7, 0, tzinfo=UTC)
    large = by_subject[b"large"]
    assert len(large.raw) == imap.EAGER_BYTES and large.size > imap.EAGER_BYTES
    assert not large.complete and by_subject[b"plain"].complete
    assert by_subject[b"unread"].flags - {"\\Recent"} == set()


def test_an_expunge_and_flag_changes_from_another_client_leave_the_session_consistent():
    user = add_mail_user("fetchexp")
    _fill(user)
    with session_of(user) as client:
        client.select_folder("INBOX", readonly=True)
        uids = sorted(client.search(["ALL"]))
        other = imap_login(user)
        other.select("INBOX")
        other.uid("STORE", str(uids[0]), "+FLAGS", r"(\Flagged)")
        other.uid("STORE", str(uids[3]), "+FLAGS", r"($Chat)")  # not among those fetched
        other.uid("STORE", str(uids[1]), "+FLAGS", r"(\Deleted)")
        other.expunge()
        other.logout()

        wanted = uids[:3]
        fetched = imap.fetch_messages(client, wanted)
        assert "FETCH" not in client._imap.untagged_responses
        again = imap.fetch_messages(client, wanted)
        client.normalise_times = False
        by_imapclient = client.fetch(wanted, imap.FETCH_ITEMS)
        client.noop()
        assert client.search(["ALL"]) == [uids[0], *uids[2:]]

    assert [m.uid for m in again] == [uids[0], uids[2]]
    assert [m.uid for m in fetched] == [uids[0], uids[2]]
    assert {m.uid: _as_reference(m) for m in again} == {
        uid: _from_reference(data) for uid, data in by_imapclient.items()
    }
    first = next(m for m in again if m.uid == uids[0])
    assert first.flags - {"\\Recent"} == {"\\Seen", "\\Flagged"}


def test_flags_of_the_whole_folder_match_imapclient():
    user = add_mail_user("fetchflags")
    _fill(user)
    with session_of(user) as client:
        client.select_folder("INBOX", readonly=True)
        flags = imap.fetch_flags(client)
        uids = sorted(client.search(["ALL"]))
    reference = _reference(user, uids)
    assert flags == {
        uid: frozenset(f.decode() for f in data[b"FLAGS"]) for uid, data in reference.items()
    }


def test_fetching_no_uids_or_unknown_ones_gives_nothing():
    user = add_mail_user("fetchnone")
    with session_of(user) as client:
        client.select_folder("INBOX", readonly=True)
        assert imap.fetch_messages(client, []) == ()
        assert imap.fetch_messages(client, [4242]) == ()


def test_imaplib_debug_output_is_off_unless_someone_logs_it(caplog):
    user = add_mail_user("fetchlog")
    with session_of(user) as client:
        assert client._imap.debug == 0
    caplog.set_level(logging.DEBUG, logger="imapclient.imaplib")
    with session_of(user) as client:
        assert client._imap.debug == 5
