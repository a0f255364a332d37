"""Groups: which chat a message lands in, changes to a group, and what we send to one."""

from __future__ import annotations

import email
from email import policy

import pytest

from chat import delivery, services, sync
from chat.models import Chat, Message
from mailcore.parse import parse_message
from tests.mailserver import add_mail_user, fetch_raw_by_message_id

pytestmark = pytest.mark.django_db

DORA = "dora@dc.example"
CAROL = "carol@elsewhere.example"


def _mail(
    *,
    me: str,
    sender: str = DORA,
    to: list[str] | None = None,
    subject: str = "Hike plans",
    body: str = "hello group",
    message_id: str,
    headers: dict | None = None,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
) -> bytes:
    lines = [
        f"From: {'Dora' if sender == DORA else sender} <{sender}>",
        f"To: {', '.join(f'<{a}>' for a in (to if to is not None else [me, CAROL]))}",
        f"Subject: {subject}",
        "Date: Mon, 23 Nov 2026 19:27:54 +0000",
        f"Message-ID: {message_id}",
        "MIME-Version: 1.0",
        'Content-Type: text/plain; charset="utf-8"',
    ]
    if in_reply_to:
        lines.append(f"In-Reply-To: {in_reply_to}")
    if references:
        lines.append(f"References: {' '.join(references)}")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode()


def _ingest(person, raw: bytes) -> Message | None:
    message, _ = sync.ingest_message(
        person.account, parse_message(raw), seen=False, received_at=None, push=False
    )
    return message


def _members(chat: Chat) -> set[str]:
    return set(chat.current_members.values_list("address", flat=True))


def test_a_delta_chat_group_without_id_becomes_one_group_with_its_name_and_members(make_person):
    alice = make_person("alice")
    me = alice.account.email
    dc_headers = {"Chat-Version": "1.0", "Chat-Group-Name": "Hike plans"}
    first = _ingest(alice, _mail(me=me, message_id="<g1@dc>", headers=dc_headers))
    reply = _ingest(
        alice,
        _mail(
            me=me,
            sender=CAROL,
            to=[DORA, me],
            subject="Re: Hike plans",
            body="count me in",
            message_id="<g2@x>",
            in_reply_to="<g1@dc>",
            references=["<g1@dc>"],
            headers=dc_headers,
        ),
    )
    assert first.chat_id == reply.chat_id
    group = first.chat
    assert group.is_group and group.name == "Hike plans"
    assert _members(group) == {DORA, CAROL}
    assert Chat.objects.filter(account=alice.account).count() == 1


def test_groups_with_the_same_members_stay_apart_by_their_ids(make_person):
    alice = make_person("alice")
    me = alice.account.email
    one = _ingest(
        alice,
        _mail(
            me=me,
            message_id="<a@dc>",
            headers={"Chat-Version": "1.0", "Chat-Group-ID": "AAAAAAAAAAAAAAAAAAAAAAAA"},
        ),
    )
    two = _ingest(
        alice,
        _mail(
            me=me,
            message_id="<b@dc>",
            headers={"Chat-Version": "1.0", "Chat-Group-ID": "BBBBBBBBBBBBBBBBBBBBBBBB"},
        ),
    )
    assert one.chat_id != two.chat_id
    assert {one.chat.group_id, two.chat.group_id} == {
        "AAAAAAAAAAAAAAAAAAAAAAAA",
        "BBBBBBBBBBBBBBBBBBBBBBBB",
    }


def test_renames_and_member_changes_apply_and_show_as_lines_not_bubbles(make_person):
    alice = make_person("alice")
    me = alice.account.email
    base = {"Chat-Version": "1.0", "Chat-Group-Name": "Hike plans"}
    first = _ingest(alice, _mail(me=me, message_id="<g1@dc>", headers=base))
    renamed = _ingest(
        alice,
        _mail(
            me=me,
            subject="Re: Hike plans 2",
            body="Chat name changed.",
            message_id="<g2@dc>",
            in_reply_to="<g1@dc>",
            references=["<g1@dc>"],
            headers={
                **base,
                "Chat-Group-Name": "Hike plans 2",
                "Chat-Group-Name-Changed": "Hike plans",
            },
        ),
    )
    removed = _ingest(
        alice,
        _mail(
            me=me,
            to=[me],
            subject="Re: Hike plans 2",
            body=f"Member {CAROL} was removed.",
            message_id="<g3@dc>",
            in_reply_to="<g2@dc>",
            references=["<g1@dc>", "<g2@dc>"],
            headers={
                **base,
                "Chat-Group-Name": "Hike plans 2",
                "Chat-Group-Member-Removed": CAROL,
            },
        ),
    )
    group = Chat.objects.get(pk=first.chat_id)
    assert renamed.chat_id == removed.chat_id == group.pk
    assert group.name == "Hike plans 2"
    assert _members(group) == {DORA}
    assert renamed.is_system and renamed.text == "Dora renamed the group to “Hike plans 2”."
    assert removed.is_system and removed.text == f"Dora removed {CAROL}."
    assert not first.is_system


def test_plain_mail_to_several_people_is_an_adhoc_group_named_after_its_subject(make_person):
    alice = make_person("alice")
    me = alice.account.email
    message = _ingest(
        alice,
        _mail(me=me, sender="pat@plain.example", subject="Fwd: Re: Team lunch", message_id="<p@x>"),
    )
    assert message.chat.is_group and message.chat.name == "Team lunch"
    assert _members(message.chat) == {"pat@plain.example", CAROL}


def test_plain_replies_to_our_group_thread_land_in_the_group_unless_only_to_the_sender(
    make_person,
):
    alice = make_person("alice")
    me = alice.account.email
    group = services.create_group(
        user=alice.user, account=alice.account, name="Book club", addresses=[DORA, CAROL]
    )
    ours = delivery.send_message(user=alice.user, chat=group, text="Next book?")

    reply_all = _ingest(
        alice,
        _mail(
            me=me,
            sender=CAROL,
            to=[me, DORA],
            subject="Re: Book club",
            body="Dune!",
            message_id="<r1@plain>",
            in_reply_to=ours.message_id,
            references=[ours.message_id],
        ),
    )
    private = _ingest(
        alice,
        _mail(
            me=me,
            sender=CAROL,
            to=[me],
            subject="Re: Book club",
            body="just between us",
            message_id="<r2@plain>",
            in_reply_to=ours.message_id,
            references=[ours.message_id],
        ),
    )
    assert reply_all.chat_id == group.pk
    assert private.chat_id != group.pk
    assert not private.chat.is_group and private.chat.peer_address == CAROL


def test_our_group_message_carries_the_group_headers_and_reaches_every_member(make_person):
    alice = make_person("alice")
    bob, carol = add_mail_user("bob"), add_mail_user("carol")
    group = services.create_group(
        user=alice.user,
        account=alice.account,
        name="Weekend trip",
        addresses=[bob.email, carol.email, alice.account.email],
    )
    assert _members(group) == {bob.email, carol.email}
    message = delivery.send_message(user=alice.user, chat=group, text="Who's in?")
    delivery.deliver_outbox(alice.account.pk)
    message.refresh_from_db()
    assert message.state == Message.State.SENT

    for member in (bob, carol):
        (raw,) = fetch_raw_by_message_id(member, "INBOX", message.message_id)
        mail = email.message_from_bytes(raw, policy=policy.default)
        assert mail["Chat-Group-ID"] == group.group_id
        assert mail["Chat-Group-Name"] == "Weekend trip"
        assert mail["Subject"] == "Weekend trip"
        assert message.message_id.startswith(f"<chat$group.{group.group_id}.")
        assert {a.addr_spec for a in mail["To"].addresses} == {bob.email, carol.email}


def test_renaming_adding_and_removing_tell_the_members(make_person):
    alice = make_person("alice")
    bob, carol, dan = add_mail_user("bob"), add_mail_user("carol"), add_mail_user("dan")
    group = services.create_group(
        user=alice.user, account=alice.account, name="Trip", addresses=[bob.email, carol.email]
    )
    rename = services.rename_group(user=alice.user, chat=group, name="Trip to the lake")
    added = services.add_group_member(user=alice.user, chat=group, address=dan.email)
    removed = services.remove_group_member(user=alice.user, chat=group, address=carol.email)
    delivery.deliver_outbox(alice.account.pk)

    def headers(member, message):
        (raw,) = fetch_raw_by_message_id(member, "INBOX", message.message_id)
        return email.message_from_bytes(raw, policy=policy.default)

    assert headers(bob, rename)["Chat-Group-Name-Changed"] == "Trip"
    assert headers(bob, rename)["Chat-Group-Name"] == "Trip to the lake"
    assert headers(dan, added)["Chat-Group-Member-Added"] == dan.email
    assert headers(carol, removed)["Chat-Group-Member-Removed"] == carol.email
    assert all(m.is_system for m in (rename, added, removed))
    group.refresh_from_db()
    assert group.name == "Trip to the lake" and _members(group) == {bob.email, dan.email}
