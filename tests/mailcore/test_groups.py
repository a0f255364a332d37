from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailcore.addresses import Address
from mailcore.classify import Kind, classify
from mailcore.compose import OutgoingMessage, build_message
from mailcore.groups import (
    adhoc_group_key,
    adhoc_group_name,
    group_headers,
    group_id_from_message_ids,
    group_message_id,
    group_subject,
    is_valid_group_id,
    new_group_id,
    parse_group_info,
)
from mailcore.parse import ParsedMessage, parse_message

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "mail"
DC_GROUP_ID = "RIM93fOV0h3Fl_8RQaUtDzAy"
# The inner headers of /work/shared/lab/samples/03 (an encrypted DC group), in plain text.
DC_GROUP = f"""From: "Alice" <alice@example.org>
Message-ID: <b5561e40-d0ee-400b-a02b-84ce71523718@localhost>
Date: Mon, 23 Nov 2026 16:07:48 +0000
To: "Bob" <bob@example.org>, "Dave" <dave@example.org>
Chat-Group-Member-Timestamps: 1795450068 1795450068
Subject: Lab group
References: <b5561e40-d0ee-400b-a02b-84ce71523718@localhost>
Chat-Version: 1.0
Chat-Group-ID: {DC_GROUP_ID}
Chat-Group-Name: Lab group
Chat-Group-Name-Timestamp: 1795450068
Chat-Group-Description: =?utf-8?B??=
Content-Type: text/plain; charset=utf-8"""
ALICE = Address("Alice", "alice@example.org")
DATE = datetime(2026, 11, 23, 16, 7, 48, tzinfo=UTC)


def load(name: str) -> ParsedMessage:
    return parse_message((FIXTURES / name).read_bytes())


def mail(headers: str, body: str = "Hello group!") -> ParsedMessage:
    return parse_message((headers + "\n\n" + body).replace("\n", "\r\n").encode())


# --- ids ----------------------------------------------------------------------------------


def test_new_group_ids_are_24_url_safe_characters_and_unique():
    ids = {new_group_id() for _ in range(500)}
    assert len(ids) == 500
    for group_id in ids:
        assert len(group_id) == 24
        assert is_valid_group_id(group_id)
        assert len(base64.urlsafe_b64decode(group_id)) == 18


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        (DC_GROUP_ID, True),
        ("a" * 11, True),
        ("a" * 32, True),
        ("a" * 10, False),
        ("a" * 33, False),
        ("abc-def_GHI", True),
        ("abc.def.ghij", False),
        ("abcdefghijk+", False),
        ("", False),
        (None, False),
    ],
)
def test_group_ids_follow_delta_chats_rule(value, valid):
    assert is_valid_group_id(value) is valid


def test_group_message_id_carries_the_group_id_for_coi():
    message_id = group_message_id("Example.org", DC_GROUP_ID)
    assert message_id.startswith(f"<chat$group.{DC_GROUP_ID}.")
    assert message_id.endswith("@example.org>")
    assert group_id_from_message_ids(message_id, ()) == DC_GROUP_ID
    with pytest.raises(ValueError):
        group_message_id("example.org", "short")


def test_group_id_is_found_in_the_first_reference_of_a_plain_reply():
    reply_id = "<CAF=xyz@mail.gmail.com>"
    root = f"<chat$group.{DC_GROUP_ID}.0123abcd@example.org>"
    assert group_id_from_message_ids(reply_id, (root, "<other@x>")) == DC_GROUP_ID
    assert group_id_from_message_ids(reply_id, ("<other@x>", root)) is None


@pytest.mark.parametrize(
    "message_id",
    [
        "<b5561e40-d0ee-400b-a02b-84ce71523718@localhost>",
        f"<Chat$group.{DC_GROUP_ID}.1@example.org>",
        "<chat$group.short.1@example.org>",
        f"<chat$group.{DC_GROUP_ID}@example.org>",
        "<chat$0123456789abcdef@example.org>",
    ],
)
def test_other_message_ids_carry_no_group_id(message_id):
    assert group_id_from_message_ids(message_id, ()) is None


# --- reading group headers ---------------------------------------------------------------


def test_unencrypted_delta_chat_group_has_a_name_but_no_id():
    info = parse_group_info(load("delta-chat-group-unencrypted.eml"))
    assert info.group_id is None
    assert info.name == "Plain group"
    assert info.name_timestamp == 1795450089
    assert info.description == ""
    assert info.members == ("alice@example.org", "bob@example.org", "carol@example.org")
    assert info.member_timestamps == (
        ("bob@example.org", 1795450089),
        ("carol@example.org", 1795450089),
    )
    assert not info.is_change
    assert not info.left


def test_delta_chat_group_with_id_is_read_from_its_headers():
    info = parse_group_info(mail(DC_GROUP))
    assert info.group_id == DC_GROUP_ID
    assert info.name == "Lab group"
    assert info.members == ("alice@example.org", "bob@example.org", "dave@example.org")


def test_one_to_one_chat_has_no_group():
    assert parse_group_info(load("delta-chat-plain.eml")) is None
    assert parse_group_info(load("delta-chat-reply-to-plain.eml")) is None


def test_coi_group_is_named_after_its_cleaned_subject():
    info = parse_group_info(
        mail(
            f"""From: olga@coi.example.com
To: carol@example.org, dave@example.org
Cc: erin@example.org
Subject: AW: Re: Hiking club
Message-ID: <chat$group.{DC_GROUP_ID}.7f3c9a1b@coi.example.com>"""
        )
    )
    assert info.group_id == DC_GROUP_ID
    assert info.name == "Hiking club"
    assert info.members == (
        "olga@coi.example.com",
        "carol@example.org",
        "dave@example.org",
        "erin@example.org",
    )


def test_invalid_chat_group_id_falls_back_to_the_coi_message_id():
    parsed = mail(
        DC_GROUP.replace(f"Chat-Group-ID: {DC_GROUP_ID}", "Chat-Group-ID: no!").replace(
            "<b5561e40-d0ee-400b-a02b-84ce71523718@localhost>",
            "<chat$group.abcdefghijkl.1@example.org>",
            1,
        )
    )
    assert parse_group_info(parsed).group_id == "abcdefghijkl"


def test_member_changes_rename_and_avatar_are_read():
    avatar = base64.b64encode(b"\x89PNG fake").decode()
    info = parse_group_info(
        mail(
            DC_GROUP
            + "\nChat-Group-Name-Changed: Old lab"
            + "\nChat-Group-Member-Added: Erin <ERIN@example.org>"
            + f"\nChat-Group-Avatar: base64:{avatar[:6]}\n {avatar[6:]}",
            "Member erin@example.org added by alice@example.org.",
        )
    )
    assert info.name_changed_from == "Old lab"
    assert info.member_added == "erin@example.org"
    assert info.avatar_bytes() == b"\x89PNG fake"
    assert not info.avatar_removed
    assert info.is_change


def test_avatar_zero_removes_the_avatar():
    info = parse_group_info(mail(DC_GROUP + "\nChat-Group-Avatar: 0"))
    assert info.avatar_removed
    assert info.avatar_bytes() is None


def test_removing_oneself_is_leaving():
    info = parse_group_info(mail(DC_GROUP + "\nChat-Group-Member-Removed: alice@example.org"))
    assert info.member_removed == "alice@example.org"
    assert info.left
    other = parse_group_info(mail(DC_GROUP + "\nChat-Group-Member-Removed: bob@example.org"))
    assert not other.left
    assert other.is_change


def test_coi_groupleft_is_leaving():
    assert parse_group_info(mail(DC_GROUP + "\nChat-Content: groupleft")).left


def test_past_members_get_their_removal_timestamps():
    info = parse_group_info(
        mail(
            DC_GROUP.replace(
                "Chat-Group-Member-Timestamps: 1795450068 1795450068",
                "Chat-Group-Member-Timestamps: 1795450068 1795450068 1795450100",
            )
            + '\nChat-Group-Past-Members: "Carol" <carol@example.org>'
        )
    )
    assert info.past_members == ("carol@example.org",)
    assert info.member_timestamps[-1] == ("carol@example.org", 1795450100)


@pytest.mark.parametrize(
    "timestamps", ["1795450068", "1795450068 1795450068 1795450068", "x y", "1795450068 -5"]
)
def test_member_timestamps_that_do_not_line_up_are_ignored(timestamps):
    parsed = mail(
        DC_GROUP.replace("1795450068 1795450068", timestamps, 1),
    )
    assert parse_group_info(parsed).member_timestamps == ()


# --- writing group headers ---------------------------------------------------------------


def test_group_headers_round_trip_through_compose_and_parse():
    headers = group_headers(
        group_id=DC_GROUP_ID,
        name="Läb gröup ☕",
        name_changed_from="Lab group",
        member_added="Erin@Example.org",
        name_timestamp=1795450200,
    )
    assert headers[0] == ("Chat-Group-ID", DC_GROUP_ID)
    sent = OutgoingMessage(
        from_=ALICE,
        to=(Address("", "bob@example.org"), Address("", "erin@example.org")),
        message_id=group_message_id("example.org", DC_GROUP_ID),
        date=DATE,
        subject=group_subject("Läb gröup ☕", replying=False),
        text="Renamed and added Erin.",
        extra_headers=headers,
    )
    parsed = parse_message(build_message(sent))
    info = parse_group_info(parsed)
    assert (info.group_id, info.name, info.name_changed_from) == (
        DC_GROUP_ID,
        "Läb gröup ☕",
        "Lab group",
    )
    assert info.member_added == "erin@example.org"
    assert info.name_timestamp == 1795450200
    assert classify(parsed) is Kind.GROUP_CHANGE


def test_group_headers_for_an_adhoc_group_have_no_id():
    assert group_headers(group_id=None, name="  Plain   group ") == (
        ("Chat-Group-Name", "Plain group"),
    )


def test_group_headers_reject_bad_ids_and_empty_names():
    with pytest.raises(ValueError):
        group_headers(group_id="no", name="Team")
    with pytest.raises(ValueError):
        group_headers(group_id=DC_GROUP_ID, name=" \n ")


def test_group_subject_is_the_name_and_re_when_replying():
    assert group_subject("Lab group", replying=False) == "Lab group"
    assert group_subject("Lab group", replying=True) == "Re: Lab group"
    assert group_subject("Re: Lab group", replying=True) == "Re: Lab group"


# --- ad-hoc groups (plain multi-recipient mail) ------------------------------------------


def test_adhoc_key_ignores_member_order_case_and_reply_prefixes():
    one = adhoc_group_key("Lunch", ["alice@example.org", "Bob@Example.org", "carol@example.org"])
    two = adhoc_group_key(
        "Re: AW: Lunch", ("carol@example.org", "alice@example.org", "bob@example.org")
    )
    assert one == two
    assert one.startswith("adhoc-")


def test_adhoc_key_differs_by_name_and_by_members():
    members = ("alice@example.org", "bob@example.org", "carol@example.org")
    key = adhoc_group_key("Lunch", members)
    assert adhoc_group_key("Dinner", members) != key
    assert adhoc_group_key("Lunch", (*members, "dave@example.org")) != key
    assert adhoc_group_key("Lunch", members[:2]) != key


def test_adhoc_group_name_prefers_chat_group_name_then_subject():
    assert adhoc_group_name(load("delta-chat-group-unencrypted.eml")) == "Plain group"
    plain = mail("From: a@example.org\nTo: b@example.org, c@example.org\nSubject: Re: AW: Lunch")
    assert adhoc_group_name(plain) == "Lunch"
    nameless = mail("From: a@example.org\nTo: b@example.org, c@example.org")
    assert adhoc_group_name(nameless) == "👥📧"


def test_adhoc_key_of_sample_07_matches_a_reply_from_a_plain_client():
    info = parse_group_info(load("delta-chat-group-unencrypted.eml"))
    reply = mail(
        "From: carol@example.org\nTo: alice@example.org, bob@example.org\nSubject: Re: Plain group"
    )
    reply_members = tuple(a.addr for a in (reply.from_, *reply.to))
    assert adhoc_group_key(info.name, info.members) == adhoc_group_key(
        adhoc_group_name(reply), reply_members
    )
