"""Reactions, edits, deletes and quoted replies between coiweb and a real Delta Chat core,
both ways, asserted on what each side shows."""

from __future__ import annotations

import pytest

from chat import delivery, message_actions
from chat.models import Message, Reaction
from chat.services import start_chat
from tests.deltachat_peer import deltachat_peer
from tests.interop.test_deltachat_1to1 import TIMEOUT, stored, unique, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def dc(live_stack):
    with deltachat_peer("dc", display_name="Dora") as peer:
        yield peer


def _pumped(dc, check):
    return lambda: (dc.pump(0.3), check())[1]


def test_reactions_go_both_ways_and_can_be_taken_back(make_person, dc):
    alice = make_person("alice")
    text = unique("Pizza tonight?")
    dc_msg = dc.send_text(alice.mail.email, text)
    theirs = stored(alice, text)

    message_actions.react(user=alice.user, message=theirs, emoji="👍")
    wait_for(_pumped(dc, lambda: dc.reactions(dc_msg) == {alice.mail.email: "👍"}), "👍 in DC")
    message_actions.react(user=alice.user, message=theirs, emoji="👍")  # again: taken back
    wait_for(_pumped(dc, lambda: dc.reactions(dc_msg) == {}), "the reaction gone in DC")

    chat = start_chat(user=alice.user, account=alice.account, address=dc.addr)
    ours = delivery.send_message(user=alice.user, chat=chat, text=unique("Yes!"))
    got = dc.wait_for_incoming(lambda m: m.rfc724_mid == ours.message_id.strip("<>"), TIMEOUT)
    dc.react(got.id, "❤️")
    wait_for(
        lambda: Reaction.objects.filter(message=ours, sender=dc.addr, emoji="❤️").exists(),
        "DC's ❤️ on our message",
    )
    # Neither side shows a reaction as a message of its own.
    assert not Message.objects.filter(account=alice.account, text="❤️").exists()
    assert all(m.text != "👍" for m in dc.messages(got.chat_id))


def test_our_edits_and_deletes_reach_delta_chat_as_its_own_unencrypted_ones_do(make_person, dc):
    # Delta Chat 2.65 applies edits and deletes only when encrypted: its own unencrypted
    # edit shows at the other end as a new "✏️…" message, and it refuses to send an
    # unencrypted delete. Ours must look the same there, and apply here.
    alice = make_person("alice")
    chat = start_chat(user=alice.user, account=alice.account, address=dc.addr)
    first = delivery.send_message(user=alice.user, chat=chat, text=unique("Meet at 6"))
    second = delivery.send_message(user=alice.user, chat=chat, text=unique("Bring snacks"))
    got_first = dc.find(first.message_id.strip("<>"))
    dc.find(second.message_id.strip("<>"))
    originals = [first.text, second.text]

    message_actions.edit(user=alice.user, message=first, text="Meet at 7")
    message_actions.delete_for_everyone(user=alice.user, message=second)
    wait_for(
        _pumped(dc, lambda: any(m.text == "✏️Meet at 7" for m in dc.messages(got_first.chat_id))),
        "the edit in DC",
    )
    wait_for(
        _pumped(dc, lambda: any(m.text == "🚮" for m in dc.messages(got_first.chat_id))),
        "the delete in DC, shown with DC's own delete body",
    )
    assert [m.text for m in dc.messages(got_first.chat_id)] == [*originals, "✏️Meet at 7", "🚮"]
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.text == "Meet at 7" and first.is_edited
    assert second.is_deleted and second.text == ""


def test_an_edit_from_delta_chat_changes_the_message_here(make_person, dc):
    # Delta Chat refuses to send a delete-for-everyone unencrypted, so only its edit is
    # tested here; its Chat-Delete (sent when encrypted) is parsed in tests/chat.
    alice = make_person("alice")
    text = unique("See you at 6")
    sent = dc.send_text(alice.mail.email, text)
    ours = stored(alice, text)

    dc.edit(sent, "See you at 7")
    wait_for(
        lambda: Message.objects.filter(pk=ours.pk, text="See you at 7", is_edited=True).exists(),
        "DC's edit here",
    )
    assert Message.objects.filter(account=alice.account).count() == 1


def test_quoted_replies_show_their_quote_on_both_sides(make_person, dc):
    alice = make_person("alice")
    question = unique("Which trail?")
    dc.send_text(alice.mail.email, question)
    theirs = stored(alice, question)

    answer = unique("The one by the lake.")
    delivery.send_message(user=alice.user, chat=theirs.chat, text=answer, reply_to=theirs)
    got = dc.wait_for_incoming(lambda m: m.text == answer, TIMEOUT)
    assert got.quote == question
    assert got.chat_id == dc.message(got.id).chat_id
    ours = Message.objects.get(account=alice.account, text=answer)
    assert ours.quote_text == question and ours.in_reply_to == theirs.message_id
