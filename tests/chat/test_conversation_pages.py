"""Scrolling up a conversation: older pages by cursor, the unread line, quotes that link."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from chat import queries
from chat.models import Chat, Message, Reaction

pytestmark = pytest.mark.django_db


def _chat(account, peer: str, n: int, *, seen: bool = True, same_time: bool = False) -> Chat:
    start = timezone.now() - timedelta(hours=1)
    chat = Chat.objects.create(account=account, peer_address=peer, last_activity_at=start)
    for i in range(n):
        Message.objects.create(
            account=account,
            chat=chat,
            direction="in",
            state="received",
            message_id=f"<{peer}-{i}@x>",
            from_address=peer,
            text=f"message {i}",
            sort_at=start if same_time else start + timedelta(seconds=i),
            seen=seen,
        )
    return chat


def _client(person) -> Client:
    client = Client()
    client.force_login(person.user)
    return client


def _pks(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'id="msg-(\d+)"', html)]


def _older_url(html: str) -> str | None:
    found = re.search(r'class="older" data-url="([^"]+)"', html)
    return found and found.group(1).replace("&amp;", "&")


def test_scrolling_up_walks_every_older_page_once_in_display_order(make_person, monkeypatch):
    monkeypatch.setattr(queries, "PAGE_SIZE", 3)
    alice = make_person("alice")
    # Equal times too: the cursor breaks ties by id, so no message is skipped or repeated.
    chat = _chat(alice.account, "one@example.org", 8, same_time=True)
    client = _client(alice)
    page = client.get(f"/chats/{chat.pk}/").content.decode()
    seen = [_pks(page)]
    url = _older_url(page)
    while url:
        html = client.get(url).content.decode()
        assert "hx-swap-oob" not in html  # rows to put on top, not upserts
        seen.insert(0, _pks(html))
        url = _older_url(html)
    everything = list(chat.messages.order_by("pk").values_list("pk", flat=True))
    assert [pk for page in seen for pk in page] == everything
    assert [len(page) for page in seen] == [2, 3, 3]


def test_an_older_page_costs_the_same_queries_however_full_it_is(
    make_person, monkeypatch, django_assert_max_num_queries
):
    monkeypatch.setattr(queries, "PAGE_SIZE", 40)
    alice = make_person("alice")
    client = _client(alice)
    small = _chat(alice.account, "small@example.org", 3)
    newest = small.messages.order_by("-pk").first()
    with django_assert_max_num_queries(8) as few:
        client.get(f"/chats/{small.pk}/messages/?before={newest.pk}")
    big = _chat(alice.account, "big@example.org", 45)
    for message in big.messages.all()[:10]:
        Reaction.objects.create(message=message, sender="big@example.org", emoji="👍")
    newest = big.messages.order_by("-pk").first()
    with django_assert_max_num_queries(len(few.captured_queries)):
        html = client.get(f"/chats/{big.pk}/messages/?before={newest.pk}").content.decode()
    assert len(_pks(html)) == 40 and _older_url(html)


def test_a_cursor_from_another_chat_or_person_gives_nothing(make_person):
    alice, bob = make_person("alice"), make_person("bob")
    ours = _chat(alice.account, "one@example.org", 3)
    other = _chat(alice.account, "two@example.org", 3)
    theirs = _chat(bob.account, "three@example.org", 3)
    client = _client(alice)
    foreign = other.messages.order_by("-pk").first().pk
    assert _pks(client.get(f"/chats/{ours.pk}/messages/?before={foreign}").content.decode()) == []
    newest = theirs.messages.order_by("-pk").first().pk
    assert client.get(f"/chats/{theirs.pk}/messages/?before={newest}").status_code == 404
    assert client.get(f"/chats/{ours.pk}/messages/?before=0").status_code == 400


def test_opening_a_chat_marks_where_the_unread_messages_begin(make_person):
    alice = make_person("alice")
    chat = _chat(alice.account, "one@example.org", 2)
    chat.messages.filter(text="message 1").update(seen=False)
    first_unread = chat.messages.get(text="message 1").pk
    client = _client(alice)
    assert (
        f'data-first-unread="{first_unread}"' in client.get(f"/chats/{chat.pk}/").content.decode()
    )
    # Read now: the next visit has no unread line.
    assert "data-first-unread" not in client.get(f"/chats/{chat.pk}/").content.decode()


def test_a_quote_links_to_the_message_it_quotes(make_person):
    alice = make_person("alice")
    chat = _chat(alice.account, "one@example.org", 1)
    original = chat.messages.get()
    reply = Message.objects.create(
        account=alice.account,
        chat=chat,
        direction="in",
        state="received",
        message_id="<reply@x>",
        from_address="one@example.org",
        text="yes",
        quote_text="message 0",
        in_reply_to=original.message_id,
        sort_at=timezone.now(),
    )
    lost = Message.objects.create(
        account=alice.account,
        chat=chat,
        direction="in",
        state="received",
        message_id="<lost@x>",
        from_address="one@example.org",
        text="and this",
        quote_text="something long gone",
        in_reply_to="<never-stored@x>",
        sort_at=timezone.now(),
    )
    page = _client(alice).get(f"/chats/{chat.pk}/").content.decode()
    row = page[page.index(f'id="msg-{reply.pk}"') :]
    assert f'data-reply-to="{original.pk}"' in row[: row.index("</blockquote>")]
    row = page[page.index(f'id="msg-{lost.pk}"') :]
    assert "data-reply-to" not in row[: row.index("</blockquote>")]
