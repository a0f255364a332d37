from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailcore.addresses import Address
from mailcore.classify import Kind, classify
from mailcore.parse import ParsedMessage, parse_message
from mailcore.reactions import Reaction, build_reaction, parse_reaction

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "mail"
TARGET = "<f873db26-e37b-41ef-b45b-a339ceee2d71@localhost>"
BOB = Address("Bob", "bob@example.org")
ALICE = Address("Alice", "alice@example.org")
DATE = datetime(2026, 11, 23, 16, 10, 2, tzinfo=UTC)
HEADERS = f"""From: Bob <bob@example.org>
To: alice@example.org
Date: Mon, 23 Nov 2026 16:10:02 +0000
Message-ID: <r1@localhost>
In-Reply-To: {TARGET}
Chat-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Disposition: reaction"""


def load(name: str) -> ParsedMessage:
    return parse_message((FIXTURES / name).read_bytes())


def reaction_mail(body: str, headers: str = HEADERS) -> ParsedMessage:
    return parse_message((headers + "\n\n" + body).replace("\n", "\r\n").encode())


def build(emoji: str, **overrides) -> bytes:
    values = {"message_id": "<chat$r1@example.org>", "date": DATE}
    values.update(overrides)
    return build_reaction(BOB, (ALICE,), TARGET, emoji, **values)


def test_delta_chat_reaction_names_its_target_sender_and_emoji():
    assert parse_reaction(load("delta-chat-reaction.eml")) == Reaction(
        target_message_id=TARGET, emojis=("👍",), sender="bob@example.org"
    )


def test_empty_delta_chat_reaction_retracts():
    reaction = parse_reaction(load("delta-chat-reaction-retracted.eml"))
    assert reaction is not None
    assert reaction.target_message_id == TARGET
    assert reaction.emojis == ()
    assert reaction.is_retraction


def test_ordinary_message_is_not_a_reaction():
    assert parse_reaction(load("delta-chat-plain.eml")) is None


def test_reaction_without_in_reply_to_has_no_target_and_is_ignored():
    headers = HEADERS.replace(f"In-Reply-To: {TARGET}\n", "")
    assert parse_reaction(reaction_mail("👍", headers)) is None


def test_several_emojis_are_kept_once_each_in_order():
    assert parse_reaction(reaction_mail("❤️ 👍 ❤️")).emojis == ("❤️", "👍")


def test_only_the_first_line_counts_and_overlong_tokens_are_dropped():
    reaction = parse_reaction(reaction_mail("👨‍👩‍👧 " + "x" * 40 + "\nsecond line"))
    assert reaction.emojis == ("👨‍👩‍👧",)


def test_built_reaction_round_trips():
    raw = build("🎉")
    parsed = parse_message(raw)
    assert classify(parsed) is Kind.REACTION
    assert parse_reaction(parsed) == Reaction(TARGET, ("🎉",), "bob@example.org")


def test_built_reaction_has_the_rfc9078_and_delta_chat_headers():
    mail = email.message_from_bytes(build("👍"), policy=email.policy.default)
    assert mail["Content-Disposition"] == "reaction"
    assert mail["Chat-Version"] == "1.0"
    assert mail["In-Reply-To"] == TARGET
    assert mail["References"] == TARGET
    assert mail.get_content_type() == "text/plain"
    # Reactions do not ask for read receipts (DC does not either).
    assert "Chat-Disposition-Notification-To" not in mail


def test_built_reaction_is_readable_by_a_plain_mail_client():
    mail = email.message_from_bytes(build("👍"), policy=email.policy.default)
    assert mail.get_content().strip() == "👍"


def test_built_reaction_keeps_given_references_and_extra_headers():
    raw = build(
        "👍",
        references=("<root@x>", TARGET),
        subject="Re: Team",
        extra_headers=(("Chat-Group-Name", "Team"),),
    )
    parsed = parse_message(raw)
    assert parsed.references == ("<root@x>", TARGET)
    assert parsed.subject == "Re: Team"
    assert parsed.chat_header("Chat-Group-Name") == "Team"


def test_empty_emoji_builds_a_retraction():
    reaction = parse_reaction(parse_message(build("")))
    assert reaction is not None
    assert reaction.is_retraction


@pytest.mark.parametrize("emoji", ["👍 👎", "x" * 30, "a\nb"])
def test_build_rejects_anything_but_one_short_emoji(emoji):
    with pytest.raises(ValueError):
        build(emoji)


def test_build_rejects_a_target_that_is_not_a_message_id():
    with pytest.raises(ValueError):
        build_reaction(BOB, (ALICE,), "", "👍", message_id="<chat$r@x>", date=DATE)
