from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from mailcore.addresses import Address
from mailcore.compose import OutgoingMessage, build_message, default_subject
from mailcore.parse import parse_message

CET = timezone(timedelta(hours=1))


def _message(**overrides) -> OutgoingMessage:
    values = {
        "from_": Address("Alice", "alice@example.org"),
        "to": (Address("Bob", "bob@example.org"),),
        "message_id": "<chat$0123456789abcdef0123456789abcdef@example.org>",
        "date": datetime(2026, 11, 23, 17, 5, 0, tzinfo=CET),
        "subject": "Message from Alice",
        "text": "Hello Bob!",
    }
    values.update(overrides)
    return OutgoingMessage(**values)


def _headers(raw: bytes) -> list[tuple[str, str]]:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    unfolded = re.sub(r"\r\n[ \t]", " ", head)
    return [
        tuple(line.split(": ", 1)) if ": " in line else (line.rstrip(":"), "")
        for line in unfolded.split("\r\n")
    ]


def _header_names(raw: bytes) -> list[str]:
    return [name.lower() for name, _ in _headers(raw)]


def test_message_has_the_coi_mandatory_headers_exactly_once():
    names = _header_names(build_message(_message()))
    for name in ("chat-version", "from", "to", "date", "message-id", "mime-version", "subject"):
        assert names.count(name) == 1, name


def test_message_marks_itself_as_chat_and_never_sends_sender_or_dnt():
    raw = build_message(_message())
    headers = {name.lower(): value for name, value in _headers(raw)}
    assert headers["chat-version"] == "1.0"
    assert headers["mime-version"] == "1.0"
    assert "sender" not in headers
    assert "disposition-notification-to" not in headers


def test_message_uses_crlf_line_endings_only():
    raw = build_message(_message(text="line one\nline two\r\nline three\rline four"))
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert b"\r" not in raw.replace(b"\r\n", b"")


def test_date_keeps_the_given_timezone():
    headers = dict(_headers(build_message(_message())))
    assert headers["Date"] == "Mon, 23 Nov 2026 17:05:00 +0100"


def test_headers_are_ascii_and_a_non_ascii_subject_is_encoded():
    raw = build_message(_message(subject="Grüße aus Köln ☕"))
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    assert b"=?utf-8?" in head
    assert parse_message(raw).subject == "Grüße aus Köln ☕"


def test_non_ascii_display_names_round_trip():
    raw = build_message(
        _message(
            from_=Address("Jörg Müller", "joerg@example.org"),
            to=(Address("Zoë, Q.", "zoe@example.org"),),
        )
    )
    parsed = parse_message(raw)
    assert parsed.from_ == Address("Jörg Müller", "joerg@example.org")
    assert parsed.to == (Address("Zoë, Q.", "zoe@example.org"),)


def test_threading_headers_are_written_when_given():
    raw = build_message(
        _message(
            in_reply_to="<parent@example.org>",
            references=("<root@example.org>", "<parent@example.org>"),
        )
    )
    parsed = parse_message(raw)
    assert parsed.in_reply_to == ("<parent@example.org>",)
    assert parsed.references == ("<root@example.org>", "<parent@example.org>")


def test_threading_headers_are_absent_when_not_given():
    names = _header_names(build_message(_message()))
    assert "in-reply-to" not in names
    assert "references" not in names


def test_empty_subject_is_left_out():
    assert "subject" not in _header_names(build_message(_message(subject="")))


def test_ascii_text_is_sent_as_plain_7bit_utf8():
    raw = build_message(_message(text="Hello Bob!\nSee you."))
    assert b'Content-Type: text/plain; charset="utf-8"' in raw
    assert b"Content-Transfer-Encoding: 7bit" in raw
    assert raw.endswith(b"\r\n\r\nHello Bob!\r\nSee you.\r\n")


def test_non_ascii_text_is_quoted_printable_and_round_trips():
    text = "Grüße! ☕\nZweite Zeile"
    raw = build_message(_message(text=text))
    assert raw.isascii()
    assert b"Content-Transfer-Encoding: quoted-printable" in raw
    assert parse_message(raw).text == text


def test_long_lines_are_kept_under_the_rfc5322_limit_and_restored():
    text = "word " * 400 + "\n" + "x" * 1500
    raw = build_message(_message(text=text))
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert parse_message(raw).text == text.rstrip()


def test_body_is_readable_by_a_plain_mail_client():
    raw = build_message(_message(text="Grüße,\nBob\n-- \nstatus"))
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    assert mail.get_content_type() == "text/plain"
    assert mail.get_content().replace("\r\n", "\n") == "Grüße,\nBob\n-- \nstatus\n"


def test_built_message_parses_back_as_a_chat_message():
    message = _message(text="> quoted\n\nreply\n-- \nmy status")
    parsed = parse_message(build_message(message))
    assert parsed.is_chat
    assert parsed.chat_version == "1.0"
    assert parsed.message_id == message.message_id
    assert parsed.from_ == message.from_
    assert parsed.to == message.to
    assert parsed.date == message.date
    assert parsed.date_offset_minutes == 60
    assert parsed.text == "> quoted\n\nreply"
    assert parsed.folded_text == "-- \nmy status"


def test_extra_headers_are_added():
    raw = build_message(
        _message(extra_headers=(("Chat-Disposition-Notification-To", "alice@example.org"),))
    )
    assert (
        parse_message(raw).chat_headers["Chat-Disposition-Notification-To"] == "alice@example.org"
    )


@pytest.mark.parametrize(
    "name", ["Sender", "Disposition-Notification-To", "From", "message-id", "Bad Name", "X:Y"]
)
def test_extra_headers_cannot_override_or_smuggle_headers(name):
    with pytest.raises(ValueError):
        build_message(_message(extra_headers=((name, "x"),)))


def test_line_breaks_in_header_values_cannot_inject_headers():
    raw = build_message(
        _message(
            subject="Hi\r\nBcc: victim@example.org",
            extra_headers=(("Chat-Group-Name", "Team\nBcc: victim@example.org"),),
        )
    )
    assert "bcc" not in _header_names(raw)
    assert parse_message(raw).subject == "Hi Bcc: victim@example.org"


def test_naive_dates_are_rejected():
    with pytest.raises(ValueError):
        build_message(_message(date=datetime(2026, 11, 23, 17, 5)))


def test_a_message_without_recipients_is_rejected():
    with pytest.raises(ValueError):
        build_message(_message(to=()))


def test_utc_dates_are_written_as_plus_zero():
    headers = dict(
        _headers(build_message(_message(date=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))))
    )
    assert headers["Date"] == "Fri, 02 Jan 2026 03:04:05 +0000"


def test_default_subject_replies_to_the_last_subject():
    assert default_subject(sender_name="Alice", last_subject="Re: AW: Lunch") == "Re: Lunch"


def test_default_subject_without_history_is_message_from_sender():
    assert default_subject(sender_name="Alice", last_subject=None) == "Message from Alice"
    assert default_subject(sender_name="Alice", last_subject="  ") == "Message from Alice"
    assert default_subject(sender_name="Alice", last_subject="Re:") == "Message from Alice"
