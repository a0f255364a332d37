"""1:1 chats between coiweb and a real Delta Chat core (2.65) over the local mail server.

Delta Chat runs as its own rpc-server process with classic unencrypted email
(force_encryption=0); coiweb runs as Daphne, a Celery worker and the watcher.
"""

from __future__ import annotations

import secrets
import time

import pytest
from playwright.sync_api import expect

from chat.delivery import send_message
from chat.models import Chat, Message
from chat.services import start_chat
from chat.sync import sync_mailbox
from tests.deltachat_peer import deltachat_peer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TIMEOUT = 20


@pytest.fixture
def dc(live_stack):
    """A Delta Chat user, Dora, on her own fresh mailbox."""
    with deltachat_peer("dc", display_name="Dora") as peer:
        yield peer


def unique(text: str) -> str:
    return f"{text} [{secrets.token_hex(3)}]"


def wait_for(fetch, what: str, timeout: float = TIMEOUT):
    """Poll `fetch()` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (result := fetch()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)
    return result


def stored(person, text: str) -> Message:
    """The message with exactly `text` in the person's mailbox, once the app stored it."""
    return wait_for(
        lambda: Message.objects.filter(account=person.account, text=text).first(),
        f"{text!r} in coiweb",
    )


def test_text_from_delta_chat_arrives_once_as_a_chat_message(make_person, dc, open_page):
    alice = make_person("alice")
    text = unique("Hi Alice, Dora here on Delta Chat.")

    dc.send_text(alice.mail.email, text)

    msg = stored(alice, text)
    assert msg.direction == Message.Direction.INCOMING
    assert msg.is_chat is True
    assert msg.from_address == dc.addr
    assert msg.chat.peer_address == dc.addr
    assert msg.chat.title == "Dora"
    # A second sync of the same mailbox stores nothing twice.
    sync_mailbox(alice.account.pk)
    assert Message.objects.filter(account=alice.account).count() == 1
    assert Chat.objects.filter(account=alice.account).count() == 1

    page = open_page(alice, f"/chats/{msg.chat_id}/")
    bubble = page.locator(".msg.in", has_text=text)
    expect(bubble).to_have_count(1)
    expect(bubble.locator(".text")).to_have_text(text)
    # Delta Chat's "Message from Dora" subject is not shown for a chat message.
    expect(bubble.locator(".subject")).to_have_count(0)


def test_our_text_reaches_delta_chat_as_a_chat_message(make_person, dc):
    alice = make_person("alice")
    chat = start_chat(user=alice.user, account=alice.account, address=dc.addr)
    text = unique("Hello Dora, this is Alice on coiweb.")

    sent = send_message(user=alice.user, chat=chat, text=text)

    got = dc.wait_for_incoming(lambda m: text in m.text, TIMEOUT)
    # Delta Chat prepends the Subject only to non-chat mail: our Chat-Version header works.
    assert got.text == text
    assert got.sender == alice.mail.email
    assert got.sender_name == "Alice"
    assert got.chat_type == "Single"
    assert not got.is_info
    assert not got.encrypted
    assert got.rfc724_mid == sent.message_id.strip("<>")
    sent.refresh_from_db()
    assert sent.state == Message.State.SENT


def test_reply_thread_stays_in_one_chat_on_both_sides(make_person, dc):
    alice = make_person("alice")
    question = unique("Dinner tonight?")
    answer = unique("Yes, at eight.")
    follow_up = unique("Great, see you then.")

    first_id = dc.send_text(alice.mail.email, question)
    incoming = stored(alice, question)

    ours = send_message(user=alice.user, chat=incoming.chat, text=answer)
    got = dc.wait_for_incoming(lambda m: answer in m.text, TIMEOUT)
    assert got.text == answer
    assert got.chat_id == dc.message(first_id).chat_id
    assert not got.contact_request  # Dora started this chat herself

    dc.reply(got.id, follow_up)
    reply = wait_for(
        lambda: Message.objects.filter(account=alice.account, text__endswith=follow_up).first(),
        "Dora's reply in coiweb",
    )
    assert reply.chat_id == incoming.chat_id
    assert reply.in_reply_to == ours.message_id
    assert reply.is_chat is True
    assert Chat.objects.filter(account=alice.account).count() == 1
    # Arrival order; the order the page shows (by sort_at) is checked in the next test.
    # Delta Chat keeps the quote as "> " lines in the body, so the reply's own text is last.
    arrived = incoming.chat.messages.order_by("pk")
    assert [m.text.splitlines()[-1] for m in arrived] == [question, answer, follow_up]

    dc_thread = dc.messages(got.chat_id)
    assert [m.text for m in dc_thread] == [question, answer, follow_up]
    assert dc_thread[-1].quote == answer


def test_first_message_from_us_is_a_contact_request_in_delta_chat(make_person, dc):
    alice = make_person("alice")
    chat = start_chat(user=alice.user, account=alice.account, address=dc.addr)
    text = unique("Hi, we have not met yet.")

    send_message(user=alice.user, chat=chat, text=text)

    got = dc.wait_for_incoming(lambda m: text in m.text, TIMEOUT)
    assert got.contact_request is True
    assert got.chat_type == "Single"
    assert got.chat_name == "Alice"
    requests = [c for c in dc.chats() if c.contact_request]
    assert [c.id for c in requests] == [got.chat_id]


def test_a_quick_reply_sorts_after_the_message_it_answers(make_person, dc):
    alice = make_person("alice")
    question, answer, follow_up = unique("Tea?"), unique("Sure."), unique("On my way.")
    dc.send_text(alice.mail.email, question)
    incoming = stored(alice, question)

    # Send early in a second, so Delta Chat's reply (about 0.6 s later) has a Date in the
    # same second as our message's sub-second timestamp.
    time.sleep(1.02 - time.time() % 1)
    send_message(user=alice.user, chat=incoming.chat, text=answer)
    got = dc.wait_for_incoming(lambda m: m.text == answer, TIMEOUT)
    dc.reply(got.id, follow_up)
    wait_for(
        lambda: Message.objects.filter(account=alice.account, text__endswith=follow_up).exists(),
        "Dora's reply in coiweb",
    )

    shown = incoming.chat.messages.order_by("sort_at", "pk")  # as chat.queries orders them
    assert [m.text.splitlines()[-1] for m in shown] == [question, answer, follow_up]
