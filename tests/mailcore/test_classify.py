from __future__ import annotations

from pathlib import Path

import pytest

from mailcore.classify import Kind, classify, is_bounce
from mailcore.parse import ParsedMessage, parse_message

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "mail"

BASIC = """From: Alice <alice@example.org>
To: bob@example.org, carol@example.org
Subject: Hi
Date: Mon, 23 Nov 2026 16:08:09 +0000
Message-ID: <c1@example.org>
Chat-Version: 1.0"""


def load(name: str) -> ParsedMessage:
    return parse_message((FIXTURES / name).read_bytes())


def mail(headers: str, body: str = "Hello.") -> ParsedMessage:
    raw = (headers.strip("\n") + "\n\n" + body).replace("\n", "\r\n").encode()
    return parse_message(raw)


def report(report_type: str) -> ParsedMessage:
    return mail(
        BASIC
        + f'\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type={report_type}; boundary="r"',
        "--r\nContent-Type: text/plain\n\nmachine data follows\n"
        "--r\nContent-Type: application/json\n"
        'Content-Disposition: attachment; filename="data.json"\n\n{}\n--r--\n',
    )


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("delta-chat-plain.eml", Kind.MESSAGE),
        ("delta-chat-group-unencrypted.eml", Kind.MESSAGE),
        ("delta-chat-reply-to-plain.eml", Kind.MESSAGE),
        ("delta-chat-image.eml", Kind.MESSAGE),
        ("delta-chat-voice.eml", Kind.MESSAGE),
        ("plain-with-quote-and-signature.eml", Kind.MESSAGE),
        ("delta-chat-reaction.eml", Kind.REACTION),
        ("delta-chat-reaction-retracted.eml", Kind.REACTION),
        ("mdn-report.eml", Kind.RECEIPT),
        ("delta-chat-mdn-several.eml", Kind.RECEIPT),
        ("delta-chat-edit.eml", Kind.EDIT),
        ("coi-editrequest.eml", Kind.EDIT),
        ("delta-chat-delete.eml", Kind.DELETE),
        ("coi-deleterequest.eml", Kind.DELETE),
        ("dsn-bounce.eml", Kind.BOUNCE),
    ],
)
def test_fixtures_are_classified_by_what_they_are_for(name, kind):
    assert classify(load(name)) is kind


@pytest.mark.parametrize(
    ("report_type", "kind"),
    [
        ("multi-device-sync", Kind.SYNC),
        ("status-update", Kind.STATUS_UPDATE),
        ("delivery-status", Kind.BOUNCE),
        ("global-delivery-status", Kind.BOUNCE),
        ("disposition-notification", Kind.RECEIPT),
    ],
)
def test_reports_are_classified_by_report_type(report_type, kind):
    parsed = report(report_type)
    assert parsed.report_type == report_type
    assert classify(parsed) is kind


def test_unknown_report_type_is_shown_as_a_message():
    assert classify(report("x-vendor-report")) is Kind.MESSAGE


def test_kind_values_are_the_strings_the_chat_layer_stores():
    assert Kind.STATUS_UPDATE == "status-update"
    assert Kind.GROUP_CHANGE == "group_change"
    assert {kind.value for kind in Kind} >= {
        "message", "reaction", "receipt", "edit", "delete", "group_change",
        "sync", "status-update", "webxdc", "bounce",
    }  # fmt: skip


@pytest.mark.parametrize(
    "header",
    [
        "Chat-Group-Member-Added: dave@example.org",
        "Chat-Group-Member-Removed: carol@example.org",
        "Chat-Group-Name-Changed: Old name",
        "Chat-Group-Avatar: 0",
        "Chat-Content: group-avatar-changed",
        "Chat-Content: groupleft",
    ],
)
def test_group_changes_are_classified_even_when_they_carry_text(header):
    parsed = mail(BASIC + "\nChat-Group-Name: Team\n" + header, "Member dave@example.org added.")
    assert classify(parsed) is Kind.GROUP_CHANGE


def test_an_ordinary_group_message_is_a_message():
    parsed = mail(BASIC + "\nChat-Group-ID: RIM93fOV0h3Fl_8RQaUtDzAy\nChat-Group-Name: Team")
    assert classify(parsed) is Kind.MESSAGE


def test_securejoin_handshake_is_consumed():
    parsed = mail(
        BASIC + "\nSecure-Join: vc-request\nSecure-Join-Invitenumber: 1a2b3c",
        "Secure-Join: vc-request",
    )
    assert classify(parsed) is Kind.SECUREJOIN


def test_webxdc_realtime_advertisement_is_consumed():
    parsed = mail(BASIC + "\nIroh-Node-Addr: {}", "")
    assert classify(parsed) is Kind.WEBXDC


def test_reaction_without_a_target_is_shown_as_a_message():
    parsed = mail(BASIC + "\nContent-Type: text/plain\nContent-Disposition: reaction", "👍")
    assert parsed.is_reaction
    assert classify(parsed) is Kind.MESSAGE


def test_empty_coi_editrequest_is_a_delete():
    parsed = mail(BASIC + "\nIn-Reply-To: <chat$old@example.org>\nChat-Content: editrequest", "\n")
    assert classify(parsed) is Kind.DELETE


def test_empty_chat_delete_header_is_not_a_delete():
    assert classify(mail(BASIC + "\nChat-Delete: ")) is Kind.MESSAGE


def test_chat_content_is_read_at_message_and_at_part_level():
    assert load("coi-editrequest.eml").chat_content == "editrequest"
    assert load("coi-deleterequest.eml").chat_content == "deleterequest"
    parsed = mail(BASIC + "\nChat-Content: Sticker; x=1")
    assert parsed.chat_content == "sticker"
    assert classify(parsed) is Kind.MESSAGE


def test_message_level_chat_content_wins_over_the_part():
    parsed = mail(
        BASIC
        + '\nChat-Content: editrequest\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"',
        "--b\nContent-Type: text/plain\nChat-Content: ignore\n\nnew text\n--b--\n",
    )
    assert parsed.chat_content == "editrequest"


def test_plain_bounce_from_a_mailer_daemon_is_a_bounce():
    parsed = mail(
        """From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>
To: alice@example.org
Subject: Delivery Status Notification (Failure)
Date: Mon, 23 Nov 2026 16:08:09 +0000
Message-ID: <ndn-1@mx.example.net>""",
        "Your message could not be delivered.\n\nMessage-ID: <chat$abc@example.org>",
    )
    assert is_bounce(parsed)
    assert classify(parsed) is Kind.BOUNCE


def test_chat_message_from_a_daemon_like_address_is_not_a_bounce():
    parsed = mail(BASIC.replace("alice@example.org", "mailer-daemon@example.org"))
    assert not is_bounce(parsed)
    assert classify(parsed) is Kind.MESSAGE


def test_headers_only_results_classify_without_raising():
    for raw in (b"", b"\x00\x01", b"From: \r\n\r\n"):
        assert classify(parse_message(raw)) is Kind.MESSAGE


def test_chat_header_lookup_ignores_case():
    parsed = load("delta-chat-group-unencrypted.eml")
    assert parsed.chat_header("chat-group-name") == "Plain group"
    assert parsed.chat_header("CHAT-GROUP-NAME") == "Plain group"
    assert parsed.chat_header("Chat-Group-ID") is None
