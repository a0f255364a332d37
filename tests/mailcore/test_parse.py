from __future__ import annotations

import random
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailcore import parse
from mailcore.addresses import Address
from mailcore.parse import Attachment, ParsedMessage, parse_message

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "mail"
ALL_FIXTURES = sorted(FIXTURES.glob("*.eml"))


def load(name: str) -> ParsedMessage:
    return parse_message((FIXTURES / name).read_bytes())


def mail(headers: str, body: str = "Hello.") -> bytes:
    """Build a small CRLF mail from a header block written with plain newlines."""
    return (headers.strip("\n") + "\n\n" + body).replace("\n", "\r\n").encode()


BASIC = """From: Alice <alice@example.org>
To: carol@example.org
Subject: Hi
Date: Mon, 23 Nov 2026 16:08:09 +0000
Message-ID: <basic-1@example.org>"""


# --- the whole corpus ------------------------------------------------------------


def test_corpus_covers_the_defects_we_promised():
    names = {path.stem for path in ALL_FIXTURES}
    assert len(names) >= 25
    assert {"binary-garbage", "empty-file", "huge-headers", "hostile-html"} <= names


@pytest.mark.parametrize("path", ALL_FIXTURES, ids=lambda path: path.name)
def test_every_fixture_parses_into_something_showable_or_a_problem(path):
    raw = path.read_bytes()
    parsed = parse_message(raw)
    assert isinstance(parsed, ParsedMessage)
    assert parsed.text.strip() or parsed.attachments or parsed.is_reaction or parsed.problem
    assert parsed.size == len(raw)
    assert parsed.message_id.startswith("<") and parsed.message_id.endswith(">")
    assert parsed.date is None or parsed.date.tzinfo is UTC
    for value in (parsed.text, parsed.folded_text, parsed.subject, parsed.html or ""):
        value.encode("utf-8")  # no lone surrogates that the database would refuse
        assert "\x00" not in value


@pytest.mark.parametrize("path", ALL_FIXTURES, ids=lambda path: path.name)
def test_damaged_fixtures_never_raise(path):
    raw = path.read_bytes()[:20_000]
    rng = random.Random(path.name)
    for cut in (1, 7, len(raw) // 3, len(raw) // 2, len(raw) - 3):
        assert isinstance(parse_message(raw[: max(cut, 0)]), ParsedMessage)
    for _ in range(5):
        damaged = bytearray(raw)
        for _ in range(20):
            if damaged:
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        assert isinstance(parse_message(bytes(damaged)), ParsedMessage)


# --- headers -----------------------------------------------------------------------


def test_missing_message_id_gets_a_stable_synthetic_id():
    parsed = load("missing-message-id.eml")
    assert not parsed.has_real_message_id
    assert parsed.message_id.endswith("@coiweb.invalid>")
    assert parsed.message_id == load("missing-message-id.eml").message_id
    assert parsed.text.startswith("Nightly backup job")


def test_invalid_message_id_is_replaced_by_a_synthetic_one():
    parsed = parse_message(mail(BASIC.replace("<basic-1@example.org>", "<>")))
    assert not parsed.has_real_message_id
    assert parsed.message_id.endswith("@coiweb.invalid>")


def test_missing_date_is_none():
    parsed = load("missing-date.eml")
    assert parsed.date is None
    assert parsed.date_offset_minutes is None
    assert parsed.is_auto_submitted
    assert parsed.text == "rotated 14 log files, freed 2.3 GiB"


def test_date_is_converted_to_utc_keeping_the_original_offset():
    parsed = load("huge-headers.eml")
    assert parsed.date == datetime(2026, 11, 18, 17, 0, tzinfo=UTC)
    assert parsed.date_offset_minutes == -300


def test_unknown_zone_date_is_utc_without_offset():
    parsed = parse_message(mail(BASIC.replace("+0000", "-0000")))
    assert parsed.date == datetime(2026, 11, 23, 16, 8, 9, tzinfo=UTC)
    assert parsed.date_offset_minutes is None


@pytest.mark.parametrize("bad_date", ["yesterday", "Mon, 99 Foo 2026 99:99:99 +9999", "", "0"])
def test_unparseable_date_is_none(bad_date):
    parsed = parse_message(mail(BASIC.replace("Mon, 23 Nov 2026 16:08:09 +0000", bad_date)))
    assert parsed.date is None
    assert parsed.text == "Hello."


def test_encoded_word_subject_and_names_are_decoded():
    parsed = load("encoded-words-subject.eml")
    assert parsed.subject == "Grüße aus Köln ☕ und schöne Grüße aus München"
    assert parsed.from_ == Address("Mia Süßmilch", "mia@example.de")
    assert parsed.to[0] == Address("Jörg Müller", "joerg@example.de")
    assert parsed.cc == (Address("Björn", "bjoern@example.de"),)
    assert parsed.text == "Kaffee ist fertig ☕"


def test_raw_utf8_subject_is_decoded():
    raw = mail(BASIC.replace("Subject: Hi", "Subject: Grüße 😀"))
    assert parse_message(raw).subject == "Grüße 😀"


def test_badly_folded_headers_and_bare_lf_are_recovered():
    parsed = load("bad-folding.eml")
    assert b"\r\n" not in (FIXTURES / "bad-folding.eml").read_bytes()
    assert parsed.subject == (
        "Quarterly maintenance window for the storage cluster and the backup systems in both data centres"
    )
    assert parsed.from_ == Address("Ops Team", "ops@legacy.example.com")
    assert [a.addr for a in parsed.to] == ["carol@example.org", "dave@example.org"]
    assert parsed.message_id == "<maint-2026-q4@legacy.example.com>"
    assert parsed.text.startswith("The storage cluster will be offline")
    assert "From:" not in parsed.text


def test_huge_headers_parse_quickly_and_completely():
    raw = (FIXTURES / "huge-headers.eml").read_bytes()
    assert len(raw) > 200_000
    started = time.monotonic()
    parsed = parse_message(raw)
    assert time.monotonic() - started < 5
    assert len(parsed.references) == 4400
    assert parsed.references[0] == "<thread.00000.a1b2c3d4e5f6@lists.example.org>"
    assert len(parsed.to) == 2600
    assert parsed.in_reply_to == ("<thread.04399.a1b2c3d4e5f6@lists.example.org>",)
    assert parsed.text == "Still going."


def test_reply_to_and_cc_are_parsed():
    parsed = load("calendar-invite.eml")
    assert parsed.reply_to == (Address("Anna Berg", "anna@example.com"),)


# --- COI / Delta Chat ----------------------------------------------------------------


def test_delta_chat_plain_message_is_chat_and_keeps_its_text():
    parsed = load("delta-chat-plain.eml")
    assert parsed.is_chat
    assert parsed.chat_version == "1.0"
    assert parsed.from_ == Address("Alice", "alice@example.org")
    assert parsed.to == (Address("", "carol@example.org"),)
    assert parsed.subject == "Message from Alice"
    assert parsed.text == "Hello Carol, Delta Chat alice writing to a plain email address."
    assert parsed.references == ("<f873db26-e37b-41ef-b45b-a339ceee2d71@localhost>",)
    assert parsed.chat_headers["Autocrypt"].startswith(
        "addr=alice@example.org; prefer-encrypt=mutual;"
    )
    assert parsed.html is None
    assert parsed.problem is None


def test_delta_chat_group_headers_are_collected_with_original_names():
    parsed = load("delta-chat-group-unencrypted.eml")
    assert parsed.is_chat
    assert parsed.chat_headers["Chat-Group-Name"] == "Plain group"
    assert parsed.chat_headers["Chat-Group-Description"] == ""
    assert parsed.chat_headers["Chat-Group-Member-Timestamps"] == "1795450089 1795450089"
    assert parsed.chat_headers["Chat-Version"] == "1.0"
    assert [a.addr for a in parsed.to] == ["bob@example.org", "carol@example.org"]
    assert "Received" not in parsed.chat_headers


def test_delta_chat_reply_keeps_its_quote():
    parsed = load("delta-chat-reply-to-plain.eml")
    assert parsed.is_chat
    assert parsed.text == (
        "> Plain hello 95a487 – Hi Bob, this is a plain email from smtplib.\n\n"
        "Hi Carol, Delta Chat bob replying to your plain email."
    )
    assert parsed.folded_text == ""
    assert parsed.in_reply_to == ("<179545008811.10880.13934744639731404593@example.org>",)


def test_chat_message_folds_only_the_status_signature():
    raw = mail(
        BASIC + "\nChat-Version: 1.0",
        "> earlier message\n\nmy answer\n\n-- \nSent with my Delta Chat Messenger: https://delta.chat",
    )
    parsed = parse_message(raw)
    assert parsed.text == "> earlier message\n\nmy answer"
    assert parsed.folded_text.startswith("-- \nSent with my Delta Chat Messenger")


def test_chat_message_with_only_a_signature_has_empty_text():
    parsed = parse_message(mail(BASIC + "\nChat-Version: 1.0", "\n-- \nmy status"))
    assert parsed.text == ""
    assert parsed.folded_text == "-- \nmy status"


def test_coi_message_id_without_chat_version_is_chat():
    parsed = load("coi-chat-message-id.eml")
    assert parsed.is_chat
    assert parsed.chat_version is None
    assert parsed.text == "Hi Carol, this is OX COI without a Chat-Version header."


def test_plain_reply_whose_first_reference_is_chat_is_chat_and_folds_its_quote():
    parsed = load("coi-first-reference.eml")
    assert parsed.is_chat
    assert parsed.chat_version is None
    assert parsed.text == "Replying from mutt, which knows nothing about COI."
    assert parsed.folded_text.startswith("On Fri, Nov 20, 2026")


def test_chat_detection_is_case_sensitive_and_uses_only_the_first_reference():
    upper = parse_message(mail(BASIC.replace("<basic-1@example.org>", "<Chat$abc@example.org>")))
    assert not upper.is_chat
    second = parse_message(mail(BASIC + "\nReferences: <plain@example.org> <chat$x@example.org>"))
    assert not second.is_chat
    first = parse_message(mail(BASIC + "\nReferences: <chat$x@example.org> <plain@example.org>"))
    assert first.is_chat


def test_classic_mail_is_not_chat():
    parsed = load("plain-with-quote-and-signature.eml")
    assert not parsed.is_chat
    assert parsed.chat_version is None
    assert parsed.chat_headers == {}


def test_encrypted_message_reports_a_problem_but_keeps_headers():
    parsed = load("delta-chat-encrypted.eml")
    assert parsed.content_type == "multipart/encrypted"
    assert parsed.problem is not None
    assert "encrypted" in parsed.problem
    assert parsed.text == ""
    assert parsed.attachments == ()
    assert parsed.message_id == "<d04a9916-be1b-4c70-bf90-e05b263b9e82@localhost>"
    assert parsed.to == ()  # "hidden-recipients": ; is an empty group


def test_reaction_is_flagged_with_its_emoji_as_text():
    parsed = load("delta-chat-reaction.eml")
    assert parsed.is_reaction
    assert parsed.text == "👍"
    assert parsed.in_reply_to == ("<f873db26-e37b-41ef-b45b-a339ceee2d71@localhost>",)


def test_mdn_report_is_recognised_with_the_acknowledged_ids():
    parsed = load("mdn-report.eml")
    assert parsed.is_mdn
    assert parsed.is_auto_submitted
    assert parsed.content_type == "multipart/report"
    assert parsed.mdn_original_ids == (
        "<f873db26-e37b-41ef-b45b-a339ceee2d71@localhost>",
        "<7721aac2-e2a4-4ee4-abe5-47011ed4f4c3@localhost>",
        "<6233d580-0c2f-444d-b32e-0cde7770569b@localhost>",
    )
    assert parsed.text == "This is a receipt notification."
    assert parsed.attachments == ()
    assert parsed.chat_headers["Auto-Submitted"] == "auto-replied"


# --- bodies ------------------------------------------------------------------------


def test_thunderbird_reply_folds_signature_and_trailing_quote():
    parsed = load("plain-with-quote-and-signature.eml")
    assert (
        parsed.text
        == "Friday works for me. Shall we meet at the Italian place at 12:30? I can book a table."
    )
    assert parsed.folded_text.startswith("-- \nBob Example")
    assert "> are you free for lunch on Friday?" in parsed.folded_text


def test_interleaved_reply_keeps_the_quotes_it_answers():
    parsed = load("interleaved-reply.eml")
    assert "> 1. Can you review the draft?" in parsed.text
    assert "Yes, tomorrow morning." in parsed.text
    assert parsed.text.endswith("No, ask Dave.")
    assert parsed.folded_text == "-- \nBob"


def test_outlook_reply_folds_the_original_message():
    parsed = load("outlook-reply.eml")
    assert (
        parsed.text
        == "Hi Carol,\n\nagreed, let's keep the travel budget as it is.\n\nBest regards\nPeter"
    )
    assert parsed.folded_text.startswith("-----Original Message-----")
    assert parsed.subject == "RE: AW: Budget 2027"
    assert parsed.references == (
        "<AM0PR07MB6125E0C2D7@AM0PR07MB6125.eurprd07.prod.outlook.com>",
        "<budget-reply-1@example.org>",
    )


def test_format_flowed_is_unwrapped():
    parsed = load("format-flowed.eml")
    lines = parsed.text.split("\n")
    assert lines[0] == (
        "This is a long paragraph that the mail client wrapped at seventy-two characters, "
        "but it is one logical line and should be shown as one."
    )
    assert lines[1] == "From here on a space-stuffed line."
    assert ">> Deeply quoted text that was also wrapped by the client." in lines
    assert parsed.text.endswith("Short last line.")


def test_declared_charset_that_is_wrong_falls_back_to_windows_1252():
    parsed = load("broken-charset-wrong-declared.eml")
    assert "Rechnung für März – bitte bis Freitag „begleichen“." in parsed.text
    assert "\ufffd" not in parsed.text


def test_unknown_charset_is_decoded_as_utf8():
    parsed = load("broken-charset-unknown-name.eml")
    assert (
        parsed.text
        == "Ihre Bestellung Nr. 4711 ist unterwegs ✓ – voraussichtliche Zustellung: Donnerstag."
    )
    assert parsed.subject == "Ihre Bestellung ist unterwegs ✓"
    assert parsed.from_ == Address("Shop Team", "noreply@shop.example.com")


def test_latin1_body_and_headers_are_decoded():
    parsed = load("latin1-body.eml")
    assert "La réunion de l'équipe aura lieu jeudi à 14h, salle « Garçon »." in parsed.text
    assert parsed.subject == "Réunion de l'équipe"
    assert parsed.from_ == Address("François Lefèvre", "francois@example.fr")


def test_utf8_body_declared_as_latin1_is_shown_as_utf8():
    raw = mail(BASIC + "\nContent-Type: text/plain; charset=iso-8859-1", "")
    raw += "Grüße aus Köln".encode()
    assert parse_message(raw).text == "Grüße aus Köln"


def test_nested_multipart_prefers_plain_text_and_lists_inline_and_attached_files():
    parsed = load("nested-multipart.eml")
    assert parsed.text == "Hi Carol,\n\nhere is the floor plan, and the photo is inline.\n\nAnna"
    assert parsed.content_type == "multipart/mixed"
    assert parsed.attachments == (
        Attachment("room.png", "image/png", 67, "<ii_photo1@example.com>", "inline"),
        Attachment("floor-plan.pdf", "application/pdf", 45, None, "attachment"),
    )
    assert parsed.html is not None
    assert 'src="cid:ii_photo1@example.com"' in parsed.html


def test_html_only_mail_is_shown_as_text():
    parsed = load("html-only.eml")
    assert parsed.text.startswith("This week\n\nThree stories you might have missed:")
    assert "- Café opens downtown (https://newsletter.example.com/s/1)" in parsed.text
    assert "font-family" not in parsed.text
    assert parsed.html is not None
    assert "open.gif" not in parsed.html  # the tracking pixel does not load


def test_hostile_html_is_sanitized():
    parsed = load("hostile-html.eml")
    html = parsed.html.lower()
    for forbidden in (
        "<script", "onerror", "onload", "javascript:", "<iframe", "<form", "<input",
        "expression(", "<object", "<embed", "<svg", "<meta", "<base", "<style",
        "data:", "evil.example",
    ):  # fmt: skip
        assert forbidden not in html, forbidden
    assert "Please confirm your account." in parsed.text
    assert "alert" not in parsed.text
    assert 'alt="tracking pixel"' in parsed.html


def test_winmail_dat_is_a_tnef_attachment():
    parsed = load("winmail-dat.eml")
    assert parsed.text == "Hi Carol,\n\nthe budget sheet is attached.\n\nPeter"
    assert parsed.attachments == (
        Attachment("winmail.dat", "application/ms-tnef", 516, None, "attachment"),
    )


def test_winmail_dat_sent_as_octet_stream_is_still_tnef():
    raw = mail(
        BASIC + '\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"',
        "--b\nContent-Type: text/plain\n\nSee attachment.\n--b\n"
        'Content-Type: application/octet-stream\nContent-Disposition: attachment; filename="WINMAIL.DAT"\n'
        "Content-Transfer-Encoding: base64\n\neJ8+IgAA\n--b--\n",
    )
    (attachment,) = parse_message(raw).attachments
    assert attachment.content_type == "application/ms-tnef"
    assert attachment.size == 6


def test_calendar_invite_keeps_the_text_and_lists_the_calendar_parts():
    parsed = load("calendar-invite.eml")
    assert parsed.text.startswith("You have been invited to the following event.")
    assert [(a.filename, a.content_type) for a in parsed.attachments] == [
        ("", "text/calendar"),
        ("invite.ics", "application/ics"),
    ]


def test_calendar_only_mail_gets_a_note_with_the_summary():
    parsed = load("calendar-only-body.eml")
    assert parsed.text == "Calendar invitation: Room 2 – weekly sync"
    assert parsed.attachments[0].content_type == "text/calendar"
    assert parsed.problem is None


def test_truncated_multipart_still_shows_its_text_and_partial_attachment():
    parsed = load("truncated-multipart.eml")
    assert parsed.text == "The photos from Saturday."
    (photo,) = parsed.attachments
    assert photo.filename == "IMG_2041.jpg"
    assert photo.content_type == "image/jpeg"
    assert photo.size > 0
    assert parsed.problem is None


def test_rfc2231_and_encoded_word_filenames_are_decoded():
    raw = mail(
        BASIC + '\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"',
        "--b\nContent-Type: text/plain\n\nFiles.\n"
        "--b\nContent-Type: application/pdf\nContent-Disposition: attachment; filename*=utf-8''%C3%A4%20b.pdf\n\nx\n"
        '--b\nContent-Type: application/pdf; name="=?utf-8?B?w6RiYy5wZGY=?="\n'
        'Content-Disposition: attachment; filename="=?utf-8?B?w6RiYy5wZGY=?="\n\nx\n'
        "--b\nContent-Type: application/pdf; name*0*=utf-8''%C3%A4; name*1=\".pdf\"\n\nx\n--b--\n",
    )
    assert [a.filename for a in parse_message(raw).attachments] == ["ä b.pdf", "äbc.pdf", "ä.pdf"]


def test_delta_chat_image_message_has_caption_and_attachment():
    raw = mail(
        BASIC
        + '\nChat-Version: 1.0\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"',
        "--b\nContent-Type: text/plain; charset=utf-8\n\nLook at this\n\n-- \nmy status\n"
        '--b\nContent-Type: image/jpeg\nContent-Disposition: attachment; filename="photo.jpg"\n'
        "Content-Transfer-Encoding: base64\n\n/9j/4AAQ\n--b--\n",
    )
    parsed = parse_message(raw)
    assert parsed.text == "Look at this"
    assert parsed.attachments == (Attachment("photo.jpg", "image/jpeg", 6, None, "attachment"),)


def test_forwarded_message_is_an_attachment_not_the_body():
    raw = mail(
        BASIC + '\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"',
        "--b\nContent-Type: text/plain\n\nSee below.\n"
        '--b\nContent-Type: message/rfc822\nContent-Disposition: attachment; filename="fwd.eml"\n\n'
        "From: x@example.org\nSubject: inner\n\nInner text.\n--b--\n",
    )
    parsed = parse_message(raw)
    assert parsed.text == "See below."
    (forwarded,) = parsed.attachments
    assert forwarded.content_type == "message/rfc822"
    assert forwarded.filename == "fwd.eml"
    assert forwarded.size > 0


def test_signature_parts_of_signed_mail_are_not_attachments():
    raw = mail(
        BASIC
        + '\nMIME-Version: 1.0\nContent-Type: multipart/signed; protocol="application/pgp-signature"; boundary="s"',
        "--s\nContent-Type: text/plain\n\nSigned text.\n"
        '--s\nContent-Type: application/pgp-signature; name="signature.asc"\n\n-----BEGIN PGP SIGNATURE-----\n--s--\n',
    )
    parsed = parse_message(raw)
    assert parsed.text == "Signed text."
    assert parsed.attachments == ()


def test_inline_text_part_with_a_filename_is_an_attachment():
    raw = mail(
        BASIC + '\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"',
        "--b\nContent-Type: text/plain\n\nBody.\n"
        '--b\nContent-Type: text/plain; name="notes.txt"\nContent-Disposition: inline; filename="notes.txt"\n\nnotes\n--b--\n',
    )
    parsed = parse_message(raw)
    assert parsed.text == "Body."
    assert parsed.attachments == (Attachment("notes.txt", "text/plain", 5, None, "inline"),)


def test_deeply_nested_multipart_does_not_blow_up():
    depth = 200
    opening = "".join(
        f'--b{i}\nContent-Type: multipart/mixed; boundary="b{i + 1}"\n\n' for i in range(depth)
    )
    closing = "".join(f"--b{i}--\n" for i in reversed(range(depth + 1)))
    raw = mail(
        BASIC + '\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b0"',
        opening + f"--b{depth}\n\nDeep.\n" + closing,
    )
    assert isinstance(parse_message(raw), ParsedMessage)


def test_nul_bytes_are_removed_from_text():
    assert parse_message(mail(BASIC, "Hel\x00lo")).text == "Hello"


def test_html_part_is_sanitized_and_plain_part_is_preferred_for_text():
    raw = mail(
        BASIC + '\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary="a"',
        "--a\nContent-Type: text/plain\n\nPlain version.\n"
        "--a\nContent-Type: text/html\n\n<p onclick=x>HTML <b>version</b></p><script>x()</script>\n--a--\n",
    )
    parsed = parse_message(raw)
    assert parsed.text == "Plain version."
    assert parsed.html == "<p>HTML <b>version</b></p>"


def test_empty_plain_part_falls_back_to_the_html_part():
    raw = mail(
        BASIC + '\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary="a"',
        "--a\nContent-Type: text/plain\n\n \n--a\nContent-Type: text/html\n\n<p>Only here</p>\n--a--\n",
    )
    assert parse_message(raw).text == "Only here"


def test_subject_is_not_prefixed_into_text():
    parsed = load("delta-chat-plain.eml")
    assert "Message from Alice" not in parsed.text


# --- broken input ----------------------------------------------------------------------


def test_empty_file_reports_a_problem():
    parsed = load("empty-file.eml")
    assert parsed.problem is not None
    assert parsed.text == ""
    assert not parsed.has_real_message_id
    assert parsed.size == 0


def test_binary_garbage_reports_a_problem_and_shows_no_noise():
    parsed = load("binary-garbage.eml")
    assert parsed.problem is not None
    assert parsed.text == ""
    assert parsed.size == 4096


@pytest.mark.parametrize(
    "raw", [b"\x00" * 100, b"\r\n\r\n\r\n", b"\xff\xfe\xfd", b":", b"From: \r\n\r\n"]
)
def test_odd_inputs_never_raise(raw):
    assert isinstance(parse_message(raw), ParsedMessage)


def test_body_failure_keeps_headers_and_sets_a_problem(monkeypatch):
    def explode(msg):
        raise RuntimeError("boom")

    monkeypatch.setattr(parse, "collect_parts", explode)
    parsed = parse_message(mail(BASIC))
    assert parsed.problem == parse.PROBLEM_UNREADABLE
    assert parsed.subject == "Hi"
    assert parsed.from_ == Address("Alice", "alice@example.org")
    assert parsed.message_id == "<basic-1@example.org>"


def test_header_failure_still_returns_a_parsed_message(monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(parse, "parse_address_list", explode)
    parsed = parse_message(mail(BASIC))
    assert parsed.problem == parse.PROBLEM_UNREADABLE
    assert parsed.message_id.endswith("@coiweb.invalid>")


def test_body_without_separator_line_is_not_pulled_into_the_headers():
    raw = (
        (BASIC + "\nThis body forgot its blank line.\n\nSecond paragraph.")
        .replace("\n", "\r\n")
        .encode()
    )
    parsed = parse_message(raw)
    assert parsed.subject == "Hi"
    assert "This body forgot its blank line." in parsed.text
