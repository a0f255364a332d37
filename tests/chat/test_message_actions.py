"""Reacting, editing, deleting and replying: applied here at once, sent once, never shown
as messages of their own; only the author edits or deletes."""

from __future__ import annotations

import email
from email import policy

import pytest
from django.test import Client

from chat import delivery, services
from chat.models import Message, Reaction
from tests.mailserver import add_mail_user, fetch_raw_by_message_id, send_plain_mail

pytestmark = pytest.mark.django_db


def _client(person) -> Client:
    client = Client()
    client.force_login(person.user)
    return client


def _received(person, sender, text: str) -> Message:
    send_plain_mail(sender=sender.email, to=person.mail.email, subject="Hi", body=text)
    from chat.sync import sync_mailbox

    for _ in range(50):
        sync_mailbox(person.account.pk)
        if message := Message.objects.filter(account=person.account, text=text).first():
            return message
    raise AssertionError(f"{text!r} never arrived")


def test_a_reaction_toggles_and_each_change_goes_out_once(make_person):
    alice = make_person("alice")
    bob = add_mail_user("bob")
    theirs = _received(alice, bob, "Lunch?")
    client = _client(alice)

    assert client.post(f"/messages/{theirs.pk}/react/", {"emoji": "👍"}).status_code == 204
    assert list(Reaction.objects.filter(message=theirs).values_list("emoji", flat=True)) == ["👍"]
    client.post(f"/messages/{theirs.pk}/react/", {"emoji": "👍"})
    assert not Reaction.objects.filter(message=theirs).exists()

    delivery.deliver_outbox(alice.account.pk)
    controls = list(Message.objects.filter(account=alice.account, is_control=True))
    assert len(controls) == 2 and all(c.state == Message.State.SENT for c in controls)
    first = email.message_from_bytes(
        fetch_raw_by_message_id(bob, "INBOX", controls[0].message_id)[0], policy=policy.default
    )
    assert first["In-Reply-To"] == theirs.message_id
    assert first["Content-Disposition"] == "reaction"
    # The conversation shows the reaction under the message, never as a message.
    page = client.get(f"/chats/{theirs.chat_id}/").content.decode()
    assert page.count('class="msg ') == 1


def test_only_the_author_edits_or_deletes_for_everyone(make_person):
    alice = make_person("alice")
    bob = add_mail_user("bob")
    theirs = _received(alice, bob, "Their words")
    client = _client(alice)
    response = client.post(
        f"/chats/{theirs.chat_id}/send/", {"text": "not mine", "edit_of": theirs.pk}
    )
    assert response.status_code == 403
    assert client.post(f"/messages/{theirs.pk}/delete/").status_code == 403
    theirs.refresh_from_db()
    assert theirs.text == "Their words" and not theirs.is_deleted

    chat = theirs.chat
    ours = delivery.send_message(user=alice.user, chat=chat, text="Typo hre")
    client.post(f"/chats/{chat.pk}/send/", {"text": "Typo here", "edit_of": ours.pk})
    ours.refresh_from_db()
    assert ours.text == "Typo here" and ours.is_edited
    client.post(f"/messages/{ours.pk}/delete/")
    ours.refresh_from_db()
    assert ours.is_deleted and ours.text == ""
    edit, delete = Message.objects.filter(account=alice.account, is_control=True).order_by("pk")
    assert b"Chat-Edit: " + ours.message_id.encode() in bytes(edit.raw_outgoing)
    assert b"Chat-Delete: " + ours.message_id.encode() in bytes(delete.raw_outgoing)


def test_a_reply_quotes_the_message_it_answers(make_person):
    alice = make_person("alice")
    bob = add_mail_user("bob")
    theirs = _received(alice, bob, "Which day works?")
    _client(alice).post(
        f"/chats/{theirs.chat_id}/send/",
        {"text": "Friday!", "reply_to": theirs.pk},
        HTTP_HX_REQUEST="true",
    )
    delivery.deliver_outbox(alice.account.pk)
    reply = Message.objects.get(account=alice.account, text="Friday!")
    assert reply.quote_text == "Which day works?" and reply.in_reply_to == theirs.message_id
    (raw,) = fetch_raw_by_message_id(bob, "INBOX", reply.message_id)
    body = email.message_from_bytes(raw, policy=policy.default).get_body(("plain",))
    assert body.get_content().replace("\r\n", "\n").startswith("> Which day works?\n\nFriday!")


def test_a_reply_cannot_point_into_another_chat(make_person):
    alice = make_person("alice")
    bob, carol = add_mail_user("bob"), add_mail_user("carol")
    theirs = _received(alice, bob, "from bob")
    other = services.start_chat(user=alice.user, account=alice.account, address=carol.email)
    response = _client(alice).post(
        f"/chats/{other.pk}/send/", {"text": "hi", "reply_to": theirs.pk}
    )
    assert response.status_code == 404
