"""Chat pages: what they show, cursors, and query counts that do not grow with data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from chat import queries
from chat.models import Chat, Message

pytestmark = pytest.mark.django_db


def _chat_with_messages(account, peer: str, n: int) -> Chat:
    now = timezone.now()
    chat = Chat.objects.create(account=account, peer_address=peer, last_activity_at=now)
    for i in range(n):
        message = Message.objects.create(
            account=account,
            chat=chat,
            direction="in",
            state="received",
            message_id=f"<{peer}-{i}@x>",
            from_address=peer,
            text=f"message {i} from {peer}",
            sort_at=now,
            seen=False,
        )
    chat.last_message = message
    chat.save(update_fields=["last_message"])
    return chat


def _client(person) -> Client:
    client = Client()
    client.force_login(person.user)
    return client


def test_chat_list_query_count_does_not_grow_with_chats(make_person, django_assert_max_num_queries):
    alice = make_person("alice")
    for i in range(3):
        _chat_with_messages(alice.account, f"p{i}@example.org", 2)
    client = _client(alice)
    with django_assert_max_num_queries(6) as few:
        client.get("/")
    for i in range(3, 30):
        _chat_with_messages(alice.account, f"p{i}@example.org", 2)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get("/")
    assert response.content.decode().count('class="chat-row') == 30


def test_a_chat_opened_again_costs_the_same_queries_however_long_it_is(
    make_person, django_assert_max_num_queries
):
    alice = make_person("alice")
    short = _chat_with_messages(alice.account, "short@example.org", 2)
    long = _chat_with_messages(alice.account, "long@example.org", queries.PAGE_SIZE + 20)
    client = _client(alice)
    client.get(f"/chats/{short.pk}/")  # read now: opening it again writes nothing
    client.get(f"/chats/{long.pk}/")
    with django_assert_max_num_queries(10) as few:
        client.get(f"/chats/{short.pk}/")
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(f"/chats/{long.pk}/").content.decode()
    assert page.count('class="msg in') == queries.PAGE_SIZE


def test_opening_a_chat_marks_it_read_and_shows_unread_badges_elsewhere(make_person):
    alice = make_person("alice")
    first = _chat_with_messages(alice.account, "one@example.org", 2)
    _chat_with_messages(alice.account, "two@example.org", 3)
    page = _client(alice).get(f"/chats/{first.pk}/").content.decode()
    assert "message 1 from one@example.org" in page
    assert 'title="3 unread"' in page
    assert not Message.objects.filter(chat=first, seen=False).exists()


def test_messages_after_a_cursor_are_only_the_newer_ones(make_person):
    alice = make_person("alice")
    chat = _chat_with_messages(alice.account, "one@example.org", 4)
    pks = list(chat.messages.order_by("pk").values_list("pk", flat=True))
    body = _client(alice).get(f"/chats/{chat.pk}/messages/?after={pks[1]}").content.decode()
    assert f'id="msg-{pks[1]}"' not in body
    assert f'id="msg-{pks[2]}"' in body and f'id="msg-{pks[3]}"' in body
    assert _client(alice).get(f"/chats/{chat.pk}/messages/?after=x").status_code == 400


def test_a_catching_up_page_also_gets_older_messages_that_changed_since_its_cursor(make_person):
    alice = make_person("alice")
    chat = _chat_with_messages(alice.account, "one@example.org", 3)
    first, second, newest = chat.messages.order_by("pk")
    cursor = _client(alice).get(f"/chats/{chat.pk}/messages/?after={newest.pk}")["X-Coiweb-Since"]
    Message.objects.filter(chat=chat).update(updated_at=timezone.now() - timedelta(hours=1))
    Message.objects.filter(pk=first.pk).update(state=Message.State.READ)

    body = (
        _client(alice)
        .get(f"/chats/{chat.pk}/messages/?after={newest.pk}&since={cursor}")
        .content.decode()
    )
    assert f'id="msg-{first.pk}"' in body
    assert f'id="msg-{second.pk}"' not in body and f'id="msg-{newest.pk}"' not in body
    assert _client(alice).get(f"/chats/{chat.pk}/messages/?after=1&since=-5").status_code == 400


def test_every_kind_of_message_change_moves_its_updated_at(make_person):
    alice = make_person("alice")
    chat = _chat_with_messages(alice.account, "one@example.org", 1)
    message = chat.messages.get()
    long_ago = timezone.now() - timedelta(hours=1)
    changes = [
        lambda: Message.objects.filter(pk=message.pk).update(text="edited"),
        lambda: Message.objects.filter(pk=message.pk).touch(),
        lambda: message.save(update_fields=["seen"]),
    ]
    for change in changes:
        Message.objects.filter(pk=message.pk).update(updated_at=long_ago)
        change()
        assert Message.objects.get(pk=message.pk).updated_at > long_ago + timedelta(minutes=59)


def test_composer_queues_a_message_and_returns_it(make_person):
    alice = make_person("alice")
    chat = _chat_with_messages(alice.account, "one@example.org", 1)
    response = _client(alice).post(
        f"/chats/{chat.pk}/send/", {"text": "  hi there  "}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    sent = Message.objects.get(chat=chat, direction="out")
    assert sent.text == "  hi there" and sent.state == "queued"
    assert f'id="msg-{sent.pk}"' in response.content.decode()
    assert _client(alice).post(f"/chats/{chat.pk}/send/", {"text": "   "}).status_code == 422


def test_a_person_without_a_mailbox_is_guided_to_link_one(make_person):
    person = make_person("newbie", link=False)
    assert _client(person).get("/").url == "/accounts/mailboxes/new/"


def test_a_paused_mailbox_is_announced_on_the_chat_page(make_person):
    alice = make_person("alice")
    alice.account.is_active = False
    alice.account.last_error = "The mail server rejected the username or password."
    alice.account.save(update_fields=["is_active", "last_error"])
    page = _client(alice).get("/").content.decode()
    assert "is paused" in page and "rejected the username or password" in page
    assert f"/accounts/mailboxes/{alice.account.pk}/" in page


def test_the_chat_list_comes_in_pages(make_person):
    alice = make_person("alice")
    size = queries.CHAT_PAGE_SIZE
    for i in range(size + 5):
        _chat_with_messages(alice.account, f"page{i}@example.org", 1)
    client = _client(alice)
    first = client.get("/").content.decode()
    assert first.count('class="chat-row') == size
    assert f"offset={size}" in first
    rest = client.get(f"/chats/list/?offset={size}").content.decode()
    assert rest.count('class="chat-row') == 5
    assert "?offset=" not in rest  # nothing more after the last page
    assert client.get("/chats/list/?offset=-1").status_code == 400


def test_no_template_comment_leaks_into_a_chat_page(make_person):
    alice = make_person("alice")
    chat = _chat_with_messages(alice.account, "one@example.org", 1)
    body = _client(alice).get(f"/chats/{chat.pk}/").content.decode()
    assert "{#" not in body and "#}" not in body


def test_message_text_is_escaped_and_its_links_open_in_a_new_tab(make_person):
    alice = make_person("alice")
    chat = _chat_with_messages(alice.account, "one@example.org", 1)
    chat.messages.update(text="<script>alert(1)</script> see https://example.org/x?a=1&b=2\nbye")
    page = _client(alice).get(f"/chats/{chat.pk}/").content.decode()
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; see " in page
    assert (
        '<a href="https://example.org/x?a=1&amp;b=2" rel="noopener noreferrer nofollow" '
        'target="_blank">https://example.org/x?a=1&amp;b=2</a><br>bye'
    ) in page


def test_times_are_shown_in_the_configured_time_zone(make_person, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    alice = make_person("alice")
    chat = _chat_with_messages(alice.account, "one@example.org", 1)
    late = datetime(2026, 1, 5, 23, 30, tzinfo=UTC)  # already the 6th in Berlin
    chat.messages.update(sort_at=late)
    Chat.objects.filter(pk=chat.pk).update(last_activity_at=late)
    page = _client(alice).get(f"/chats/{chat.pk}/").content.decode()
    assert (
        '<time datetime="2026-01-06T00:30:00+01:00" title="2026-01-06 00:30">00:30</time>' in page
    )
    # The chat row: the day in Berlin (an old date shows as one, not as a clock time).
    assert '<time datetime="2026-01-06T00:30:00+01:00" title="2026-01-06 00:30">6 Jan' in page or (
        '<time datetime="2026-01-06T00:30:00+01:00" title="2026-01-06 00:30">2026-01-06' in page
    )
    assert f'data-activity="{int(late.timestamp())}"' in page


def test_the_chat_list_previews_the_start_of_a_long_message(make_person):
    alice = make_person("alice")
    chat = _chat_with_messages(alice.account, "one@example.org", 1)
    chat.messages.update(text="x" * 79 + "yz <b>")
    page = _client(alice).get("/").content.decode()
    assert f'<span class="preview">{"x" * 79}…</span>' in page
    chat.messages.update(text="short <b>")
    page = _client(alice).get("/").content.decode()
    assert '<span class="preview">short &lt;b&gt;</span>' in page
