"""Fetching and parsing history in a child process, against the real local Dovecot."""

from __future__ import annotations

import time

import pytest

from mailcore import imap
from mailcore.endpoints import Credentials
from mailcore.errors import AuthenticationFailed, ConnectionLost
from mailcore.history_fetch import AHEAD, HistoryFetchProcess, _ReadAhead, fetch_batch
from tests.mailserver import add_mail_user, mail_server, send_plain_mail, session_of


@pytest.fixture(scope="module")
def mailbox():
    user = add_mail_user("history")
    for n in range(7):
        send_plain_mail(
            sender=f"sender{n}@example.org", to=user.email, subject=f"Mail {n}", body=f"Body {n}"
        )
    with session_of(user) as client:
        client.select_folder("INBOX", readonly=True)
        for _ in range(50):
            if len(client.search(["ALL"])) == 7:
                break
            client.noop()
        uidnext = imap.select(client, "INBOX").uidnext
        newest = fetch_batch(client, "INBOX", uidnext, 3)
        older = fetch_batch(client, "INBOX", newest.lowest, 3)
    return user, uidnext, (newest, older)


def _process(user, password: str | None = None) -> HistoryFetchProcess:
    server = mail_server()
    return HistoryFetchProcess(
        server.imaps,
        Credentials(user.email, password or user.password),
        extra_ca_file=server.ca_file,
        timeout=10,
    )


def test_the_child_fetches_and_parses_what_a_fetch_here_does(mailbox):
    user, uidnext, (newest, older) = mailbox
    with _process(user) as fetcher:
        fetcher.submit("INBOX", uidnext, 3)
        fetcher.submit("INBOX", newest.lowest, 3)  # asked before the first answer is taken
        assert fetcher.result() == newest
        assert fetcher.result() == older
    subjects = [parsed.subject for batch in (newest, older) for parsed in batch.parsed]
    assert len(set(subjects)) == 6 and set(subjects) < {f"Mail {n}" for n in range(7)}
    assert newest.remaining == 4 and older.remaining == 1


def test_the_child_fetches_the_next_batches_before_they_are_asked_for(mailbox):
    user, uidnext, (newest, older) = mailbox
    with session_of(user) as client:
        ahead = _ReadAhead(client, "INBOX", uidnext, 3)
        try:
            assert ahead.take() == newest
            assert ahead.next_request == ("INBOX", newest.lowest, 3)
            deadline = time.monotonic() + 10
            while ahead._ready.qsize() < AHEAD and time.monotonic() < deadline:
                time.sleep(0.01)
            assert ahead._ready.qsize() == AHEAD  # the last two batches, neither asked for
            assert ahead.take() == older
            last = ahead.take()
            assert len(last.messages) == 1 and last.remaining == 0
            assert ahead.next_request is None  # the folder is done
        finally:
            ahead.stop()


def test_a_connection_lost_while_reading_ahead_is_the_answer_after_the_batches_before(
    mailbox,
):
    user, uidnext, _ = mailbox
    with session_of(user) as client:
        ahead = _ReadAhead(client, "INBOX", uidnext, 1)
        try:
            assert len(ahead.take().messages) == 1
            client.shutdown()  # the server hangs up
            answers = [ahead.take()]
            while ahead.next_request is not None and len(answers) <= AHEAD + 1:
                answers.append(ahead.take())
        finally:
            ahead.stop()
    *before, failure = answers
    assert isinstance(failure, BaseException), answers
    assert all(len(batch.messages) == 1 for batch in before)  # fetched ahead before it
    assert ahead.next_request is None  # nothing more comes from this read-ahead


def test_a_request_off_the_path_read_ahead_is_fetched_anew(mailbox):
    user, uidnext, (newest, older) = mailbox
    with _process(user) as fetcher:
        fetcher.submit("INBOX", uidnext, 3)
        fetcher.submit("INBOX", uidnext, 3)  # the same again, not the next batch
        fetcher.submit("INBOX", newest.lowest, 2)  # the next UIDs, in a smaller batch
        assert fetcher.result() == newest
        assert fetcher.result() == newest
        smaller = fetcher.result()
    assert smaller.messages == older.messages[:2]
    assert smaller.remaining == older.remaining + 1


def test_discarded_answers_do_not_come_back(mailbox):
    user, uidnext, (newest, older) = mailbox
    with _process(user) as fetcher:
        fetcher.submit("INBOX", uidnext, 3)
        fetcher.discard()
        fetcher.submit("INBOX", newest.lowest, 3)
        assert fetcher.result() == older


def test_a_rejected_password_is_reported_as_in_this_process(mailbox):
    user, uidnext, _ = mailbox
    with _process(user, password="not-the-password") as fetcher:
        fetcher.submit("INBOX", uidnext, 3)
        with pytest.raises(AuthenticationFailed) as caught:
            fetcher.result()
    assert "rejected" in caught.value.user_message


def test_a_child_that_dies_is_a_lost_connection(mailbox):
    user, uidnext, _ = mailbox
    with _process(user) as fetcher:
        fetcher._child.kill()
        fetcher._child.wait()
        with pytest.raises(ConnectionLost):
            fetcher.submit("INBOX", uidnext, 3)
            fetcher.result()
