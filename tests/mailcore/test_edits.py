from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailcore.addresses import Address
from mailcore.classify import Kind, classify
from mailcore.compose import OutgoingMessage, build_message, quote_block, with_quote
from mailcore.edits import (
    EDITED_PREFIX,
    Delete,
    Edit,
    build_delete,
    build_edit,
    parse_delete,
    parse_edit,
)
from mailcore.parse import ParsedMessage, parse_message, split_quote

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "mail"
ALICE = Address("Alice", "alice@example.org")
CAROL = Address("Carol", "carol@example.org")
DATE = datetime(2026, 11, 23, 16, 11, 4, tzinfo=UTC)
ORIGINAL = "<f873db26-e37b-41ef-b45b-a339ceee2d71@localhost>"
COI_ORIGINAL = "<chat$7f3c9a1be2d04c5f8a6b1e0d2c3f4a5b@coi.example.com>"
HEADERS = """From: Olga <olga@coi.example.com>
To: carol@example.org
Date: Fri, 20 Nov 2026 10:14:00 +0200
Message-ID: <chat$e1@coi.example.com>
Chat-Version: 1.0"""


def load(name: str) -> ParsedMessage:
    return parse_message((FIXTURES / name).read_bytes())


def mail(headers: str, body: str) -> ParsedMessage:
    return parse_message((headers + "\n\n" + body).replace("\n", "\r\n").encode())


# --- edits ------------------------------------------------------------------------------


def test_delta_chat_edit_yields_the_new_text_without_quote_and_pencil():
    assert parse_edit(load("delta-chat-edit.eml")) == Edit(
        target_message_id=ORIGINAL,
        text="Hello Carol, Delta Chat alice writing to a plain e-mail address.",
        sender="alice@example.org",
    )


def test_coi_editrequest_targets_in_reply_to_and_keeps_its_flowed_text():
    assert parse_edit(load("coi-editrequest.eml")) == Edit(
        target_message_id=COI_ORIGINAL,
        text="Hi Carol, this is OX COI, now with a corrected typo in the second sentence of the message.",
        sender="olga@coi.example.com",
    )


def test_coi_edit_keeps_a_leading_quote_that_is_part_of_the_new_text():
    parsed = mail(
        HEADERS + f"\nIn-Reply-To: {COI_ORIGINAL}\nChat-Content: editrequest",
        "> as you said\n\nagreed",
    )
    assert parse_edit(parsed).text == "> as you said\n\nagreed"


def test_pencil_without_variation_selector_is_stripped_too():
    parsed = mail(HEADERS + f"\nChat-Edit: {ORIGINAL}\nIn-Reply-To: {ORIGINAL}", "✏fixed")
    assert parse_edit(parsed).text == "fixed"


def test_coi_editrequest_without_in_reply_to_has_no_target():
    assert parse_edit(mail(HEADERS + "\nChat-Content: editrequest", "new")) is None


def test_messages_that_are_not_edits_yield_none():
    for name in ("delta-chat-plain.eml", "delta-chat-delete.eml", "coi-deleterequest.eml"):
        assert parse_edit(load(name)) is None, name


def test_built_edit_round_trips_and_reads_well_in_a_plain_client():
    raw = build_edit(
        ALICE,
        (CAROL,),
        ORIGINAL,
        "Hello Carol, corrected.",
        message_id="<chat$e2@example.org>",
        date=DATE,
        references=(ORIGINAL,),
        quoted_text="Hello Carol, typo.",
    )
    parsed = parse_message(raw)
    assert classify(parsed) is Kind.EDIT
    assert parsed.in_reply_to == (ORIGINAL,)
    assert parsed.chat_header("Chat-Edit") == ORIGINAL
    assert parse_edit(parsed) == Edit(ORIGINAL, "Hello Carol, corrected.", "alice@example.org")
    body = email.message_from_bytes(raw, policy=email.policy.default).get_content()
    assert body.replace("\r\n", "\n") == "> Hello Carol, typo.\n\n✏️Hello Carol, corrected.\n"


def test_build_edit_rejects_empty_text():
    with pytest.raises(ValueError):
        build_edit(ALICE, (CAROL,), ORIGINAL, "  ", message_id="<chat$e@x>", date=DATE)


# --- deletes ----------------------------------------------------------------------------


def test_delta_chat_delete_lists_every_target_of_its_bracketed_list():
    assert parse_delete(load("delta-chat-delete.eml")) == Delete(
        target_message_ids=(
            "<7721aac2-e2a4-4ee4-abe5-47011ed4f4c3@localhost>",
            "<9c8b7a65-4321-4fed-b0a9-876543210fed@localhost>",
        ),
        sender="alice@example.org",
    )


def test_chat_delete_with_separately_bracketed_ids_is_read_too():
    parsed = mail(HEADERS + "\nChat-Delete: <a@localhost> <b@localhost>,<a@localhost>", "🚮")
    assert parse_delete(parsed).target_message_ids == ("<a@localhost>", "<b@localhost>")


def test_coi_deleterequest_at_part_level_targets_in_reply_to():
    assert parse_delete(load("coi-deleterequest.eml")) == Delete(
        target_message_ids=(COI_ORIGINAL,), sender="olga@coi.example.com"
    )


def test_empty_coi_editrequest_is_a_delete():
    parsed = mail(HEADERS + f"\nIn-Reply-To: {COI_ORIGINAL}\nChat-Content: editrequest", "")
    assert parse_edit(parsed) is None
    assert parse_delete(parsed) == Delete((COI_ORIGINAL,), "olga@coi.example.com")


def test_messages_that_are_not_deletes_yield_none():
    for name in ("delta-chat-plain.eml", "delta-chat-edit.eml", "coi-editrequest.eml"):
        assert parse_delete(load(name)) is None, name


def test_built_delete_round_trips():
    raw = build_delete(
        ALICE,
        (CAROL,),
        ("<a@localhost>", "b@localhost", "<a@localhost>"),
        message_id="<chat$d1@example.org>",
        date=DATE,
    )
    parsed = parse_message(raw)
    assert classify(parsed) is Kind.DELETE
    assert parsed.chat_header("Chat-Delete") == "<a@localhost> <b@localhost>"
    assert parsed.in_reply_to == ("<a@localhost>",)
    assert parsed.text == "🚮"  # DC's body: any non-empty text, readable for plain clients
    assert parse_delete(parsed) == Delete(("<a@localhost>", "<b@localhost>"), "alice@example.org")


def test_build_delete_needs_a_target():
    with pytest.raises(ValueError):
        build_delete(ALICE, (CAROL,), (), message_id="<chat$d@x>", date=DATE)


# --- quotes (DC's reply format, 3.2) ------------------------------------------------------


def test_split_quote_separates_delta_chat_quote_from_the_reply():
    parsed = load("delta-chat-reply-to-plain.eml")
    assert split_quote(parsed.text) == (
        "Plain hello 95a487 – Hi Bob, this is a plain email from smtplib.",
        "Hi Carol, Delta Chat bob replying to your plain email.",
    )


def test_split_quote_without_a_leading_quote_returns_the_text_unchanged():
    text = load("delta-chat-group-unencrypted.eml").text
    assert split_quote(text) == (None, text)
    assert split_quote("answer\n> later quote") == (None, "answer\n> later quote")


def test_split_quote_takes_only_the_unbroken_leading_block():
    assert split_quote(">a\n> b\n>\n> > nested\n\nreply\n\n> not part of it") == (
        "a\nb\n\n> nested",
        "reply\n\n> not part of it",
    )


def test_split_quote_of_a_quote_only_message_leaves_an_empty_body():
    assert split_quote("> just a quote") == ("just a quote", "")


def test_quote_block_matches_delta_chat_format():
    assert quote_block("first line\n\n> older") == "> first line\n>\n> > older"


def test_with_quote_puts_the_quote_and_a_blank_line_before_the_text():
    assert with_quote("my answer", "your question") == "> your question\n\nmy answer"
    assert with_quote("my answer", None) == "my answer"
    assert with_quote("my answer", "  ") == "my answer"


def test_quote_reply_round_trips_through_compose_and_parse():
    sent = OutgoingMessage(
        from_=ALICE,
        to=(CAROL,),
        message_id="<chat$q1@example.org>",
        date=DATE,
        subject="Re: Lunch",
        text=with_quote("Yes, 12:30.", "Lunch on Friday?\nAt the Italian place"),
        in_reply_to="<lunch@example.org>",
    )
    parsed = parse_message(build_message(sent))
    assert split_quote(parsed.text) == ("Lunch on Friday?\nAt the Italian place", "Yes, 12:30.")


def test_edited_prefix_is_delta_chats_pencil():
    assert EDITED_PREFIX == "\u270f\ufe0f"
