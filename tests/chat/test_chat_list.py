"""The chat list: previews, times, avatars, filters, search (scoped to its owner), the
unread total for the tab title and the contact page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from chat import queries
from chat.models import Attachment, BlockedAddress, Chat, Message
from chat.templatetags.chat_format import avatar_colour, initials, list_time

pytestmark = pytest.mark.django_db


def _chat(account, peer: str, **fields) -> Chat:
    return Chat.objects.create(
        account=account, peer_address=peer, last_activity_at=timezone.now(), **fields
    )


_counter = iter(range(10**6))


def _message(chat: Chat, text: str = "", *, direction="in", last=True, **fields) -> Message:
    fields.setdefault("from_address", chat.peer_address or "someone@example.org")
    message = Message.objects.create(
        account=chat.account,
        chat=chat,
        direction=direction,
        state="received" if direction == "in" else "sent",
        message_id=f"<m{next(_counter)}@x>",
        text=text,
        sort_at=timezone.now(),
        **fields,
    )
    if last:
        chat.last_message = message
        chat.save(update_fields=["last_message"])
    return message


def _client(person) -> Client:
    client = Client()
    client.force_login(person.user)
    return client


def _preview(client) -> str:
    page = client.get("/").content.decode()
    start = page.index('<span class="preview')
    return page[page.index(">", start) + 1 : page.index("</span>", start)]


def test_the_preview_names_our_own_messages_files_and_voice(make_person):
    alice = make_person("alice")
    client = _client(alice)
    chat = _chat(alice.account, "bob@example.org")
    _message(chat, "see you", direction="out", from_address=alice.account.email)
    assert _preview(client) == "You: see you"
    photo = _message(chat, "")
    Attachment.objects.create(
        message=photo, index=0, filename="a.jpg", content_type="image/jpeg", size=3
    )
    assert _preview(client) == "🖼 Photo"
    doc = _message(chat, "the plan")
    Attachment.objects.create(
        message=doc, index=0, filename="plan.pdf", content_type="application/pdf", size=3
    )
    assert _preview(client) == "📎 plan.pdf the plan"
    voice = _message(chat, "")
    Attachment.objects.create(
        message=voice, index=0, filename="v.ogg", content_type="audio/ogg", size=3, is_voice=True
    )
    assert _preview(client) == "🎤 Voice message"
    _message(chat, "", subject="Invoice <March>")
    assert _preview(client) == "Invoice &lt;March&gt;"


def test_a_group_preview_names_the_sender_and_system_lines_stand_alone(make_person):
    alice = make_person("alice")
    group = Chat.objects.create(
        account=alice.account,
        kind="group",
        group_id="g1",
        name="Family",
        last_activity_at=timezone.now(),
    )
    _message(group, "dinner?", from_address="carol@example.org", from_name="Carol Smith")
    assert _preview(_client(alice)) == "Carol: dinner?"
    _message(group, "Carol renamed the group to Family", is_system=True)
    page = _client(alice).get("/").content.decode()
    assert '<span class="preview system">Carol renamed the group to Family</span>' in page


def test_row_times_read_like_a_messenger(settings):
    now = timezone.localtime()
    assert list_time(now) == f"{now:%H:%M}"
    assert list_time(now - timedelta(days=1)) == "Yesterday"
    three = now - timedelta(days=3)
    assert list_time(three) == ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[three.weekday()]
    old = now.replace(year=now.year - 1)
    assert list_time(old) == f"{old:%Y-%m-%d}"


def test_avatar_colours_are_stable_per_address_and_initials_are_short():
    assert avatar_colour("Bob@Example.org") == avatar_colour("bob@example.org")
    colours = {avatar_colour(f"p{i}@example.org") for i in range(40)}
    assert len(colours) > 5 and all(c.startswith("avatar-") for c in colours)
    assert initials("Ada Lovelace") == "AL"
    assert initials("bob.smith@example.org") == "B"
    assert initials("") == "?"


def test_filters_show_chats_or_plain_email(make_person, django_assert_max_num_queries):
    alice = make_person("alice")
    chat = _chat(alice.account, "dc@example.org")
    _message(chat, "chat message", is_chat=True)
    mail = _chat(alice.account, "shop@example.org")
    _message(mail, "newsletter")
    client = _client(alice)
    every = client.get("/?filter=all").content.decode()
    assert "dc@example.org" in every and "shop@example.org" in every
    chats = client.get("/?filter=chats").content.decode()
    assert f'id="chat-{chat.pk}"' in chats and f'id="chat-{mail.pk}"' not in chats
    assert 'data-filter="chats"' in chats
    emails = client.get("/?filter=email").content.decode()
    assert f'id="chat-{mail.pk}"' in emails and f'id="chat-{chat.pk}"' not in emails
    assert 'data-kind="email"' in emails
    # The refetch after a reconnect keeps the filter.
    rows = client.get("/chats/list/?which=main&filter=chats").content.decode()
    assert f'id="chat-{chat.pk}"' in rows and f'id="chat-{mail.pk}"' not in rows
    assert client.get("/chats/list/?filter=nonsense").status_code == 400
    # Pinned first, within a filter too.
    newer = _chat(alice.account, "shop2@example.org")
    _message(newer, "later mail")
    Chat.objects.filter(pk=mail.pk).update(pinned=True)
    emails = client.get("/?filter=email").content.decode()
    assert emails.index(f'id="chat-{mail.pk}"') < emails.index(f'id="chat-{newer.pk}"')
    # And the query count stays the same with more chats.
    with django_assert_max_num_queries(6) as few:
        client.get("/?filter=email")
    for i in range(10):
        _message(_chat(alice.account, f"more{i}@example.org"), "x")
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get("/?filter=email").content.decode()
    assert page.count('class="chat-row') == 12


def test_search_finds_chats_and_messages_of_plain_email_with_a_highlighted_snippet(make_person):
    alice = make_person("alice")
    mail = _chat(alice.account, "landlord@example.org", name="The Landlord")
    hit = _message(mail, "The rent for <December> is due on Friday, please transfer it.")
    _message(_chat(alice.account, "other@example.org"), "nothing here")
    subject_only = _message(mail, "see attachment", subject="Rent receipt", last=False)
    client = _client(alice)
    body = client.get("/chats/search/?q=rent", HTTP_HX_REQUEST="true").content.decode()
    assert f'href="/chats/{mail.pk}/#msg-{hit.pk}"' in body
    assert f'href="/chats/{mail.pk}/#msg-{subject_only.pk}"' in body
    assert "The <mark>rent</mark> for &lt;December&gt;" in body
    assert "<mark>Rent</mark> receipt" in body
    assert "other@example.org" not in body
    chats = client.get("/chats/search/?q=landl", HTTP_HX_REQUEST="true").content.decode()
    assert f'id="found-{mail.pk}"' in chats and "No message matches." in chats
    # Without htmx it is the whole page with the results in the sidebar.
    page = client.get("/chats/search/?q=rent").content.decode()
    assert 'class="sidebar searching"' in page and "<mark>rent</mark>" in page
    assert "Type at least" in client.get("/chats/search/?q=r").content.decode()


def test_search_never_shows_another_persons_mail_nor_blocked_mail(make_person):
    alice = make_person("alice")
    mallory = make_person("mallory")
    secret = _chat(alice.account, "friend@example.org")
    _message(secret, "the secret password is swordfish")
    pest = _chat(alice.account, "pest@example.org")
    _message(pest, "swordfish offer")
    BlockedAddress.objects.create(account=alice.account, address="pest@example.org")
    theirs = _client(mallory).get("/chats/search/?q=swordfish", HTTP_HX_REQUEST="true")
    assert theirs.status_code == 200
    body = theirs.content.decode()
    assert "swordfish" not in body and "friend@example.org" not in body
    assert "No message matches." in body
    assert (
        "friend@example.org" not in _client(mallory).get("/chats/search/?q=friend").content.decode()
    )
    own = _client(alice).get("/chats/search/?q=swordfish", HTTP_HX_REQUEST="true").content.decode()
    assert "the secret password is <mark>swordfish</mark>" in own
    assert "swordfish offer" not in own and "pest@example.org" not in own


def test_search_is_bounded_and_its_query_count_does_not_grow(
    make_person, django_assert_max_num_queries
):
    alice = make_person("alice")
    chat = _chat(alice.account, "chatty@example.org")
    for i in range(3):
        _message(chat, f"word {i}")
    client = _client(alice)
    with django_assert_max_num_queries(8) as few:
        client.get("/chats/search/?q=word", HTTP_HX_REQUEST="true")
    for i in range(queries.SEARCH_MESSAGES_LIMIT + 5):
        _message(_chat(alice.account, f"p{i}@example.org"), f"word again {i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        body = client.get("/chats/search/?q=word", HTTP_HX_REQUEST="true").content.decode()
    assert body.count('class="search-hit"') == queries.SEARCH_MESSAGES_LIMIT
    assert "Only the newest" in body


def test_the_unread_total_counts_unmuted_accepted_chats_for_the_tab_title(make_person):
    alice = make_person("alice")
    one = _chat(alice.account, "one@example.org")
    _message(one, "a")
    _message(one, "b")
    muted = _chat(alice.account, "muted@example.org", muted=True)
    _message(muted, "c")
    request = _chat(alice.account, "new@example.org", is_request=True)
    _message(request, "d")
    client = _client(alice)
    page = client.get("/").content.decode()
    assert "<title>(2) coiweb</title>" in page
    assert 'data-unread="2"' in page
    client.get(f"/chats/{one.pk}/")
    page = client.get("/").content.decode()
    assert "<title>coiweb</title>" in page and 'data-unread="0"' in page


def test_the_contact_page_shows_the_address_and_offers_block(make_person):
    alice = make_person("alice")
    mallory = make_person("mallory")
    chat = _chat(alice.account, "bob@example.org", name="Bob")
    group = Chat.objects.create(
        account=alice.account, kind="group", group_id="g", last_activity_at=timezone.now()
    )
    client = _client(alice)
    page = client.get(f"/chats/{chat.pk}/contact/").content.decode()
    assert "bob@example.org" in page and f'action="/chats/{chat.pk}/block/"' in page
    assert f'href="/chats/{chat.pk}/contact/"' in client.get(f"/chats/{chat.pk}/").content.decode()
    assert client.get(f"/chats/{group.pk}/contact/").status_code == 404
    assert _client(mallory).get(f"/chats/{chat.pk}/contact/").status_code == 404
    client.post(f"/chats/{chat.pk}/block/")
    page = client.get(f"/chats/{chat.pk}/contact/").content.decode()
    assert "Blocked" in page and "Unblock on the mailbox page" in page


def test_new_chat_suggests_known_addresses_and_explains_a_bad_one(make_person):
    from chat.requests import remember_known

    alice = make_person("alice")
    mallory = make_person("mallory")
    remember_known(alice.account, ["bob@example.org"])
    remember_known(mallory.account, ["mallorys-friend@example.org"])
    client = _client(alice)
    page = client.get("/chats/new/").content.decode()
    assert '<option value="bob@example.org">' in page and "mallorys-friend" not in page
    response = client.post(
        "/chats/new/", {"address": "bob at example", "account": alice.account.pk}
    )
    assert response.status_code == 200
    assert "That is not an email address" in response.content.decode()
    assert 'value="bob at example"' in response.content.decode()  # what was typed stays
    assert not Chat.objects.filter(account=alice.account).exists()


def test_a_new_group_drops_repeated_members_and_ourselves(make_person):
    alice = make_person("alice")
    client = _client(alice)
    own = alice.account.email
    response = client.post(
        "/chats/new-group/",
        {"name": "Solo", "members": own.upper(), "account": alice.account.pk},
    )
    assert "Add at least one member besides yourself." in response.content.decode()
    response = client.post(
        "/chats/new-group/",
        {
            "name": "Team",
            "members": f"bob@example.org, Bob@example.org\n{own}",
            "account": alice.account.pk,
        },
    )
    group = Chat.objects.get(account=alice.account, kind="group")
    assert response.status_code == 302 and group.name == "Team"
    assert [m.address for m in group.current_members] == ["bob@example.org"]
