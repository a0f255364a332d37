from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailcore.addresses import Address
from mailcore.classify import Kind, classify
from mailcore.compose import OutgoingMessage, build_message
from mailcore.parse import ParsedMessage, parse_message
from mailcore.receipts import (
    Bounce,
    BouncedRecipient,
    Receipt,
    build_receipt,
    parse_bounce,
    parse_receipt,
    receipt_request_header,
    receipt_requested,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "mail"
CAROL = Address("Carol", "carol@example.org")
ALICE = Address("Alice", "alice@example.org")
DATE = datetime(2026, 11, 23, 16, 11, 20, tzinfo=UTC)
MESSAGE = """From: Alice <alice@example.org>
To: carol@example.org
Date: Mon, 23 Nov 2026 16:08:09 +0000
Message-ID: <m1@localhost>
Chat-Version: 1.0"""


def load(name: str) -> ParsedMessage:
    return parse_message((FIXTURES / name).read_bytes())


def mail(headers: str, body: str = "Hello.") -> ParsedMessage:
    return parse_message((headers.strip("\n") + "\n\n" + body).replace("\n", "\r\n").encode())


def mdn(fields: str, extra_headers: str = "") -> ParsedMessage:
    return mail(
        "From: bob@example.org\nTo: alice@example.org\nMessage-ID: <mdn@x>\n"
        + extra_headers
        + 'MIME-Version: 1.0\nContent-Type: multipart/report; report-type=disposition-notification; boundary="m"',
        "--m\nContent-Type: text/plain\n\nRead.\n"
        f"--m\nContent-Type: message/disposition-notification\n\n{fields}\n--m--\n",
    )


def build(**overrides) -> bytes:
    values = {"message_id": "<chat$mdn1@example.org>", "date": DATE}
    values.update(overrides)
    return build_receipt(CAROL, ALICE, "<7721aac2@localhost>", **values)


# --- parsing MDNs ---------------------------------------------------------------------


def test_delta_chat_mdn_acknowledges_the_original_and_the_additional_ids():
    assert parse_receipt(load("mdn-report.eml")) == Receipt(
        original_message_id="<f873db26-e37b-41ef-b45b-a339ceee2d71@localhost>",
        additional_message_ids=(
            "<7721aac2-e2a4-4ee4-abe5-47011ed4f4c3@localhost>",
            "<6233d580-0c2f-444d-b32e-0cde7770569b@localhost>",
        ),
        disposition="displayed",
        final_recipient="bob@example.org",
        sender="bob@example.org",
    )


def test_mdn_with_additional_ids_on_one_line_lists_all_three():
    receipt = parse_receipt(load("delta-chat-mdn-several.eml"))
    assert receipt.message_ids == (
        "<7721aac2-e2a4-4ee4-abe5-47011ed4f4c3@localhost>",
        "<0b9a3c51-6e2f-4d8a-9c47-1f5e2d3a4b6c@localhost>",
        "<c8e1f2a3-4b5c-4d6e-8f7a-9b0c1d2e3f4a@localhost>",
    )
    assert receipt.final_recipient == "carol@example.org"


def test_receipt_parses_the_same_from_raw_bytes_and_from_a_parsed_message():
    raw = (FIXTURES / "delta-chat-mdn-several.eml").read_bytes()
    assert parse_receipt(raw) == parse_receipt(parse_message(raw))


def test_ordinary_message_and_bounce_are_not_receipts():
    assert parse_receipt(load("delta-chat-plain.eml")) is None
    assert parse_receipt(load("dsn-bounce.eml")) is None


def test_exchange_mdn_without_original_message_id_uses_in_reply_to():
    receipt = parse_receipt(
        mdn(
            "Final-Recipient: rfc822;bob@example.org\nDisposition: automatic-action/MDN-sent-automatically; displayed",
            "In-Reply-To: <m1@localhost>\n",
        )
    )
    assert receipt.message_ids == ("<m1@localhost>",)


def test_report_without_disposition_is_ignored():
    assert parse_receipt(mdn("Original-Message-ID: <m1@localhost>")) is None


def test_disposition_type_is_read_past_mode_and_modifiers():
    receipt = parse_receipt(
        mdn(
            "Original-Message-ID: <m1@localhost>\nDisposition: manual-action/MDN-sent-manually; Deleted/error"
        )
    )
    assert receipt.disposition == "deleted"


# --- building MDNs --------------------------------------------------------------------


def test_built_receipt_is_a_disposition_report_without_the_original():
    mail = email.message_from_bytes(build(), policy=email.policy.default)
    assert mail.get_content_type() == "multipart/report"
    assert mail.get_param("report-type") == "disposition-notification"
    assert mail["Subject"] == "Receipt Notification"
    assert mail["Chat-Version"] == "1.0"
    assert mail["Auto-Submitted"] == "auto-replied"
    assert "Chat-Disposition-Notification-To" not in mail
    text, notification = mail.get_payload()
    assert text.get_content_type() == "text/plain"
    assert text.get_content().strip() == "This is a receipt notification."
    assert notification.get_content_type() == "message/disposition-notification"
    fields = dict(notification.get_payload()[0].items())
    assert fields == {
        "Reporting-UA": "coiweb",
        "Original-Recipient": "rfc822;carol@example.org",
        "Final-Recipient": "rfc822;carol@example.org",
        "Original-Message-ID": "<7721aac2@localhost>",
        "Disposition": "manual-action/MDN-sent-manually; displayed",
    }


def test_built_receipt_round_trips_with_additional_ids_once_each():
    raw = build(
        additional=("<b@localhost>", "<7721aac2@localhost>", "<c@localhost>", "<b@localhost>")
    )
    parsed = parse_message(raw)
    assert classify(parsed) is Kind.RECEIPT
    assert parsed.mdn_original_ids == ("<7721aac2@localhost>", "<b@localhost>", "<c@localhost>")
    assert parse_receipt(parsed) == Receipt(
        original_message_id="<7721aac2@localhost>",
        additional_message_ids=("<b@localhost>", "<c@localhost>"),
        disposition="displayed",
        final_recipient="carol@example.org",
        sender="carol@example.org",
    )


def test_built_receipt_uses_crlf_and_short_lines():
    raw = build(additional=tuple(f"<{i:040d}@localhost>" for i in range(30)))
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert len(parse_receipt(raw).additional_message_ids) == 30


def test_build_rejects_a_missing_original_id():
    with pytest.raises(ValueError):
        build_receipt(CAROL, ALICE, "  ", message_id="<chat$x@x>", date=DATE)


# --- when to send one -------------------------------------------------------------------


@pytest.mark.parametrize(
    "header", ["Chat-Disposition-Notification-To", "Disposition-Notification-To"]
)
def test_receipt_goes_to_the_sender_who_asked_for_it(header):
    parsed = mail(MESSAGE + f"\n{header}: Alice <Alice@Example.org>")
    assert receipt_requested(parsed, "carol@example.org") == "alice@example.org"


def test_no_receipt_without_a_request():
    assert receipt_requested(load("delta-chat-plain.eml"), "carol@example.org") is None


def test_no_receipt_when_the_request_names_someone_else():
    parsed = mail(MESSAGE + "\nDisposition-Notification-To: tracker@ads.example.com")
    assert receipt_requested(parsed, "carol@example.org") is None


def test_no_receipt_when_the_request_names_several_addresses():
    parsed = mail(
        MESSAGE + "\nChat-Disposition-Notification-To: alice@example.org, bob@example.org"
    )
    assert receipt_requested(parsed, "carol@example.org") is None


def test_no_receipt_for_our_own_message():
    parsed = mail(MESSAGE + "\nChat-Disposition-Notification-To: alice@example.org")
    assert receipt_requested(parsed, "ALICE@example.org") is None


def test_no_receipt_for_a_receipt_or_a_bounce():
    assert receipt_requested(parse_message(build()), "alice@example.org") is None
    assert receipt_requested(load("dsn-bounce.eml"), "alice@example.org") is None


def test_our_messages_ask_with_the_delta_chat_header():
    header = receipt_request_header("Alice@Example.org")
    assert header == ("Chat-Disposition-Notification-To", "alice@example.org")
    sent = OutgoingMessage(
        from_=ALICE,
        to=(CAROL,),
        message_id="<chat$m@example.org>",
        date=DATE,
        subject="Hi",
        text="Hi",
        extra_headers=(header,),
    )
    assert receipt_requested(parse_message(build_message(sent)), "carol@example.org") == (
        "alice@example.org"
    )


# --- bounces ----------------------------------------------------------------------------


def test_postfix_dsn_names_the_bounced_message_and_recipient():
    bounce = parse_bounce(load("dsn-bounce.eml"))
    assert bounce.original_message_id == "<chat$4f1e2d3c4b5a69788796a5b4c3d2e1f0@example.org>"
    assert bounce.recipients == (
        BouncedRecipient(
            address="nobody@chatmail.example.net",
            action="failed",
            status="5.7.1",
            diagnostic="523 5.7.1 Encryption Needed: Invalid Unencrypted Mail",
        ),
    )
    assert bounce.failed
    assert bounce.text.startswith("This is the mail system at host mail.example.org.")


def test_bounce_parses_the_same_from_raw_bytes():
    raw = (FIXTURES / "dsn-bounce.eml").read_bytes()
    assert parse_bounce(raw) == parse_bounce(parse_message(raw))


def test_delayed_dsn_is_not_a_failure():
    raw = (FIXTURES / "dsn-bounce.eml").read_bytes().replace(b"Action: failed", b"Action: delayed")
    assert not parse_bounce(raw).failed


def test_dsn_returning_the_whole_message_names_it():
    parsed = mail(
        'From: MAILER-DAEMON@mx.example.net\nTo: alice@example.org\nMessage-ID: <d@x>\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary="d"',
        "--d\nContent-Type: text/plain\n\nFailed.\n"
        "--d\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx\n\n"
        "Final-Recipient: rfc822;x@y.example\nAction: failed\nStatus: 5.1.1\n"
        "--d\nContent-Type: message/rfc822\n\nFrom: alice@example.org\nMessage-ID: <chat$sent@example.org>\n\nHi\n--d--\n",
    )
    assert parse_bounce(parsed).original_message_id == "<chat$sent@example.org>"


def test_a_forwarded_message_is_not_taken_for_a_returned_original():
    parsed = mail(
        'From: bob@example.org\nTo: alice@example.org\nMessage-ID: <f@x>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="f"',
        "--f\nContent-Type: text/plain\n\nFYI\n"
        "--f\nContent-Type: message/rfc822\n\nFrom: x@example.org\nMessage-ID: <inner@x>\n\nHi\n--f--\n",
    )
    assert parsed.returned_message_id is None
    assert parse_bounce(parsed) is None


def test_non_standard_daemon_bounce_names_the_message_from_its_text():
    bounce = parse_bounce(
        mail(
            "From: Mail Delivery Subsystem <mailer-daemon@gmx.example>\nTo: alice@example.org\nMessage-ID: <n@x>",
            "Your message could not be delivered.\n\n--- Original message ---\nMessage-ID: <chat$lost@example.org>\nSubject: Hi",
        )
    )
    assert bounce == Bounce(
        original_message_id="<chat$lost@example.org>",
        recipients=(),
        text=bounce.text,
    )
    assert bounce.failed


def test_ordinary_message_is_not_a_bounce():
    assert parse_bounce(load("delta-chat-plain.eml")) is None
