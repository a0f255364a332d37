"""Groups: which chat a message lands in, changes to a group, and what we send to one."""

from __future__ import annotations

import email
from email import policy

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from chat import delivery, requests, services, sync
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


PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"
    b"\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe\x92"
    b"\xef\x00\x00\x00\x00IEND\xaeB`\x82"
)


def test_leaving_tells_the_members_with_our_own_address_and_ends_the_composer(make_person):
    alice = make_person("alice")
    bob = add_mail_user("bob")
    group = services.create_group(
        user=alice.user, account=alice.account, name="Trip", addresses=[bob.email, CAROL]
    )
    left = services.leave_group(user=alice.user, chat=group)
    delivery.deliver_outbox(alice.account.pk)
    (raw,) = fetch_raw_by_message_id(bob, "INBOX", left.message_id)
    mail = email.message_from_bytes(raw, policy=policy.default)
    assert mail["Chat-Group-Member-Removed"] == alice.account.email
    assert alice.account.email in mail["Chat-Group-Past-Members"]  # DC's CRDT goes by this
    assert {a.addr_spec for a in mail["To"].addresses} == {bob.email, CAROL}
    group.refresh_from_db()
    assert group.we_left and left.is_system and left.text == "You left the group."
    assert _members(group) == {bob.email, CAROL}  # they are still in it; we are not

    client = Client()
    client.force_login(alice.user)
    page = client.get(f"/chats/{group.pk}/").content.decode()
    assert 'id="composer"' not in page and "no longer a member" in page
    assert client.post(f"/chats/{group.pk}/send/", {"text": "still here?"}).status_code == 422
    assert services.leave_group(user=alice.user, chat=group) is None  # once is enough


def test_being_removed_by_someone_else_ends_the_composer_and_being_added_back_restores_it(
    make_person,
):
    alice = make_person("alice")
    me = alice.account.email
    base = {"Chat-Version": "1.0", "Chat-Group-ID": "GGGGGGGGGGGGGGGGGGGGGGGG"}
    first = _ingest(alice, _mail(me=me, message_id="<g1@dc>", headers=base))
    removed = _ingest(
        alice,
        _mail(
            me=me,
            message_id="<g2@dc>",
            headers={**base, "Chat-Group-Member-Removed": me},
            body="Member removed.",
        ),
    )
    group = Chat.objects.get(pk=first.chat_id)
    assert removed.text == "Dora removed you." and group.we_left
    _ingest(
        alice,
        _mail(me=me, message_id="<g3@dc>", headers={**base, "Chat-Group-Member-Added": me}),
    )
    group.refresh_from_db()
    assert not group.we_left


def _avatar_mail(me: str, message_id: str, value: str, attachment: bytes | None = None) -> bytes:
    headers = {
        "Chat-Version": "1.0",
        "Chat-Group-ID": "AVAVAVAVAVAVAVAVAVAVAVAV",
        "Chat-Content": "group-avatar-changed",
        "Chat-Group-Avatar": value,
    }
    if attachment is None:
        return _mail(me=me, message_id=message_id, headers=headers, body="Group image changed.")
    import base64

    lines = [
        "From: Dora <dora@dc.example>",
        f"To: <{me}>, <{CAROL}>",
        "Subject: Hike plans",
        "Date: Mon, 23 Nov 2026 19:27:54 +0000",
        f"Message-ID: {message_id}",
        "MIME-Version: 1.0",
        *(f"{k}: {v}" for k, v in headers.items()),
        'Content-Type: multipart/mixed; boundary="b"',
        "",
        "--b",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "Group image changed.",
        "--b",
        "Content-Type: image/png",
        f'Content-Disposition: attachment; filename="{value}"',
        "Content-Transfer-Encoding: base64",
        "",
        base64.b64encode(attachment).decode(),
        "--b--",
        "",
    ]
    return "\r\n".join(lines).encode()


def test_a_group_image_from_delta_chat_shows_and_its_removal_clears_it(make_person):
    import base64

    alice = make_person("alice")
    me = alice.account.email
    changed = _ingest(
        alice, _avatar_mail(me, "<av1@dc>", "base64:" + base64.b64encode(PNG).decode())
    )
    group = Chat.objects.get(pk=changed.chat_id)
    assert changed.is_system and changed.text == "Dora changed the group image."
    assert bytes(group.avatar) == PNG and group.avatar_type == "image/png"
    requests.accept_chat(chat=group)
    client = Client()
    client.force_login(alice.user)
    home = client.get("/").content.decode()
    assert f"/chats/{group.pk}/avatar/?v={group.avatar_version}" in home
    image = client.get(f"/chats/{group.pk}/avatar/")
    assert image.content == PNG and image["Content-Type"] == "image/png"

    removed = _ingest(alice, _avatar_mail(me, "<av2@dc>", "0"))
    group.refresh_from_db()
    assert removed.text == "Dora removed the group image." and not group.has_avatar
    assert client.get(f"/chats/{group.pk}/avatar/").status_code == 404


def test_a_group_image_sent_as_an_attachment_by_older_delta_chat_is_read(make_person):
    alice = make_person("alice")
    raw = _avatar_mail(alice.account.email, "<av3@dc>", "group-image.png", attachment=PNG)
    message, _ = sync.ingest_message(
        alice.account, parse_message(raw), seen=False, received_at=None, push=False, raw=raw
    )
    assert bytes(Chat.objects.get(pk=message.chat_id).avatar) == PNG


def test_a_group_image_that_is_no_image_changes_nothing(make_person):
    import base64

    alice = make_person("alice")
    svg = base64.b64encode(b"<svg onload='alert(1)'/>").decode()
    message = _ingest(alice, _avatar_mail(alice.account.email, "<av4@dc>", f"base64:{svg}"))
    assert not Chat.objects.get(pk=message.chat_id).has_avatar


def test_setting_a_group_image_sends_it_as_delta_chat_does(make_person):
    import base64

    alice = make_person("alice")
    bob = add_mail_user("bob")
    group = services.create_group(
        user=alice.user, account=alice.account, name="Trip", addresses=[bob.email]
    )
    client = Client()
    client.force_login(alice.user)
    upload = SimpleUploadedFile("me.png", PNG, content_type="image/png")
    assert client.post(f"/chats/{group.pk}/avatar/set/", {"image": upload}).status_code == 302
    too_big = SimpleUploadedFile("big.png", PNG + b"\0" * 70_000, content_type="image/png")
    response = client.post(f"/chats/{group.pk}/avatar/set/", {"image": too_big})
    assert response.status_code == 422 and "at most 64 KB" in response.content.decode()
    client.post(f"/chats/{group.pk}/avatar/set/", {"remove": "1"})
    delivery.deliver_outbox(alice.account.pk)

    set_message, removal = Message.objects.filter(chat=group, is_system=True).order_by("pk")
    (raw,) = fetch_raw_by_message_id(bob, "INBOX", set_message.message_id)
    mail = email.message_from_bytes(raw, policy=policy.default)
    assert mail["Chat-Content"] == "group-avatar-changed"
    value = "".join(str(mail["Chat-Group-Avatar"]).split())
    assert value.startswith("base64:") and base64.b64decode(value[7:]) == PNG
    (raw,) = fetch_raw_by_message_id(bob, "INBOX", removal.message_id)
    assert email.message_from_bytes(raw, policy=policy.default)["Chat-Group-Avatar"] == "0"
    group.refresh_from_db()
    assert not group.has_avatar and group.avatar_version == 2
