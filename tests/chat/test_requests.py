"""Contact requests, blocking, and muting, archiving and pinning chats."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from chat import delivery, queries, requests, services, sync
from chat.models import Chat, Message
from mailcore.parse import parse_message
from pwa import notify
from pwa.models import PushSubscription

pytestmark = pytest.mark.django_db

STRANGER = "stranger@else.example"
CAROL = "carol@else.example"


def _mail(
    *, me: str, sender: str = STRANGER, to: list[str] | None = None, n: int = 1, headers=None
) -> bytes:
    lines = [
        f"From: Stranger <{sender}>",
        f"To: {', '.join(f'<{a}>' for a in (to or [me]))}",
        f"Subject: hello {n}",
        "Date: Mon, 23 Nov 2026 19:27:54 +0000",
        f"Message-ID: <m{n}-{sender}@x>",
        "MIME-Version: 1.0",
        'Content-Type: text/plain; charset="utf-8"',
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
    ]
    return ("\r\n".join(lines) + f"\r\n\r\nmessage {n} from {sender}\r\n").encode()


def _receive(person, *, sender: str = STRANGER, n: int = 1, **kwargs) -> Message:
    message, _ = sync.ingest_message(
        person.account,
        parse_message(_mail(me=person.account.email, sender=sender, n=n, **kwargs)),
        seen=False,
        received_at=None,
        push=True,
    )
    message.chat.refresh_from_db()
    return message


def _client(person) -> Client:
    client = Client()
    client.force_login(person.user)
    return client


def _ids(chats) -> list[int]:
    return [c.pk for c in chats]


def test_mail_from_someone_we_never_wrote_to_waits_as_a_request(make_person):
    alice = make_person("alice")
    chat = _receive(alice).chat
    assert chat.is_request and chat.requested_by == STRANGER
    assert _ids(queries.chat_list(alice.user)) == []
    assert _ids(queries.chat_list(alice.user, which=queries.REQUESTS)) == [chat.pk]
    assert queries.list_counts(alice.user).requests == 1


def test_mail_from_someone_we_wrote_to_is_no_request(make_person):
    alice = make_person("alice")
    chat = services.start_chat(user=alice.user, account=alice.account, address=STRANGER)
    delivery.send_message(user=alice.user, chat=chat, text="hi there")
    group = services.create_group(
        user=alice.user, account=alice.account, name="Trip", addresses=[CAROL]
    )
    delivery.send_message(user=alice.user, chat=group, text="hello group")
    assert not _receive(alice).chat.is_request
    # Carol was only ever written to in a group: her own first mail is no request either.
    assert not _receive(alice, sender=CAROL).chat.is_request


def test_accepting_moves_a_request_into_the_list_and_its_later_mail_stays_there(make_person):
    alice = make_person("alice")
    chat = _receive(alice).chat
    assert requests.accept_chat(chat=chat)
    assert _ids(queries.chat_list(alice.user)) == [chat.pk]
    assert queries.list_counts(alice.user).requests == 0
    later = _receive(alice, n=2)
    assert later.chat_id == chat.pk and not later.chat.is_request
    # Accepting made the address known: a chat deleted and started again is no request.
    requests.delete_chat(chat=chat)
    assert not _receive(alice, n=3).chat.is_request


def test_replying_accepts_the_request(make_person):
    alice = make_person("alice")
    chat = _receive(alice).chat
    delivery.send_message(user=alice.user, chat=chat, text="who are you?")
    chat.refresh_from_db()
    assert not chat.is_request


def test_a_group_from_a_stranger_is_a_request_and_from_a_known_member_is_not(make_person):
    alice = make_person("alice")
    me = alice.account.email
    group = {"Chat-Version": "1.0", "Chat-Group-Name": "Party"}
    stranger_group = _receive(alice, to=[me, CAROL], headers=group).chat
    assert stranger_group.is_group and stranger_group.is_request
    known = services.start_chat(user=alice.user, account=alice.account, address=CAROL)
    delivery.send_message(user=alice.user, chat=known, text="hi carol")
    carols_group = _receive(
        alice, sender=CAROL, to=[me, STRANGER], n=2, headers={**group, "Chat-Group-Name": "Dinner"}
    ).chat
    assert carols_group.is_group and not carols_group.is_request


def test_a_request_is_not_read_on_opening_and_shows_accept_block_delete_not_a_composer(
    make_person,
):
    alice = make_person("alice")
    chat = _receive(alice).chat
    page = _client(alice).get(f"/chats/{chat.pk}/").content.decode()
    assert "message 1 from" in page
    assert "Accept" in page and "Block" in page and "Delete" in page
    assert 'id="composer"' not in page
    assert 'id="request-list"' in page  # the sidebar shows the requests it came from
    assert Message.objects.filter(chat=chat, seen=False).count() == 1
    _client(alice).post(f"/chats/{chat.pk}/read/")
    assert Message.objects.filter(chat=chat, seen=False).count() == 1


def test_the_chat_list_shows_one_requests_entry_and_accepting_on_the_page(make_person):
    alice = make_person("alice")
    chat = _receive(alice).chat
    _receive(alice, sender=CAROL)
    home = _client(alice).get("/").content.decode()
    assert "Contact requests (2)" in home and STRANGER not in home
    assert STRANGER in _client(alice).get("/chats/requests/").content.decode()
    response = _client(alice).post(f"/chats/{chat.pk}/accept/")
    assert response.status_code == 302
    home = _client(alice).get("/").content.decode()
    assert "Contact requests (1)" in home and STRANGER in home
    assert 'id="composer"' in _client(alice).get(f"/chats/{chat.pk}/").content.decode()


def test_requests_and_muted_chats_send_no_web_push_but_count_unread(make_person):
    alice = make_person("alice")
    PushSubscription.objects.create(
        user=alice.user, endpoint="https://push.example/1", p256dh="k", auth="a"
    )
    request = _receive(alice)
    assert notify.devices_to_notify(request.pk) == []
    requests.accept_chat(chat=request.chat)
    accepted = _receive(alice, n=2)
    assert notify.devices_to_notify(accepted.pk) != []
    services.set_chat_flag(chat=accepted.chat, flag="muted", on=True)
    muted = _receive(alice, n=3)
    assert notify.devices_to_notify(muted.pk) == []
    (row,) = queries.chat_list(alice.user)
    assert row.muted and row.unread == 3
    assert "🔕" in _client(alice).get("/").content.decode()


def test_a_blocked_senders_mail_is_kept_but_hidden_until_unblocked(make_person):
    alice = make_person("alice")
    first = _receive(alice)
    requests.accept_chat(chat=first.chat)
    block = requests.block_chat(chat=first.chat)
    later = _receive(alice, n=2)
    assert Message.objects.filter(chat=first.chat).count() == 2  # nothing lost
    assert queries.chat_list(alice.user) == []
    assert queries.list_counts(alice.user).requests == 0
    assert notify.devices_to_notify(later.pk) == []
    assert queries.conversation(first.chat) == []
    assert requests.withholds_reads(first.chat)
    settings_page = _client(alice).get(f"/accounts/mailboxes/{alice.account.pk}/").content.decode()
    assert STRANGER in settings_page and "Unblock" in settings_page

    _client(alice).post(f"/blocked/{block.pk}/unblock/")
    (row,) = queries.chat_list(alice.user)
    assert row.pk == first.chat_id and row.unread == 2
    assert row.last_message_id == later.pk
    assert [m.pk for m in queries.conversation(first.chat)] == [first.pk, later.pk]


def test_a_blocked_senders_mail_in_a_group_is_hidden_there(make_person):
    alice = make_person("alice")
    me = alice.account.email
    group = services.create_group(
        user=alice.user, account=alice.account, name="Trip", addresses=[STRANGER, CAROL]
    )
    ours = delivery.send_message(user=alice.user, chat=group, text="plans?")
    requests.block_address(account=alice.account, address=STRANGER)
    reply = _receive(
        alice,
        to=[me, CAROL],
        headers={"In-Reply-To": ours.message_id, "References": ours.message_id},
    )
    assert reply.chat_id == group.pk
    assert [m.pk for m in queries.conversation(group)] == [ours.pk]
    assert queries.chat_list(alice.user)[0].unread == 0


def test_blocking_a_group_request_hides_it(make_person):
    alice = make_person("alice")
    me = alice.account.email
    chat = _receive(alice, to=[me, CAROL], headers={"Chat-Group-Name": "Spam party"}).chat
    assert chat.is_request
    _client(alice).post(f"/chats/{chat.pk}/block/")
    assert queries.chat_list(alice.user, which=queries.REQUESTS) == []


def test_deleting_a_request_removes_it(make_person):
    alice = make_person("alice")
    chat = _receive(alice).chat
    assert _client(alice).post(f"/chats/{chat.pk}/delete/").status_code == 302
    assert not Chat.objects.filter(pk=chat.pk).exists()


def test_archived_chats_leave_the_list_and_new_mail_brings_them_back_unless_muted(make_person):
    alice = make_person("alice")
    chat = _receive(alice).chat
    requests.accept_chat(chat=chat)
    client = _client(alice)
    assert client.post(f"/chats/{chat.pk}/archive/", {"on": "1"}).status_code == 302
    assert queries.chat_list(alice.user) == []
    assert _ids(queries.chat_list(alice.user, which=queries.ARCHIVED)) == [chat.pk]
    assert "Archived (1)" in client.get("/").content.decode()

    _receive(alice, n=2)
    assert _ids(queries.chat_list(alice.user)) == [chat.pk]

    services.set_chat_flag(chat=chat, flag="archived", on=True)
    services.set_chat_flag(chat=chat, flag="muted", on=True)
    _receive(alice, n=3)
    assert queries.chat_list(alice.user) == []


def test_pinned_chats_come_first_with_a_pin_mark(make_person):
    alice = make_person("alice")
    older = _receive(alice, sender="old@else.example").chat
    newer = _receive(alice, sender="new@else.example").chat
    for chat in (older, newer):
        requests.accept_chat(chat=chat)
    Chat.objects.filter(pk=older.pk).update(last_activity_at=timezone.now().replace(year=2020))
    assert _ids(queries.chat_list(alice.user)) == [newer.pk, older.pk]
    response = _client(alice).post(f"/chats/{older.pk}/pin/", {"on": "1"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "Unpin" in response.content.decode()
    assert _ids(queries.chat_list(alice.user)) == [older.pk, newer.pk]
    assert "📌" in _client(alice).get("/").content.decode()


def test_a_flag_post_needs_zero_or_one(make_person):
    alice = make_person("alice")
    chat = _receive(alice).chat
    assert _client(alice).post(f"/chats/{chat.pk}/mute/", {"on": "yes"}).status_code == 400


def test_the_lists_take_the_same_queries_for_3_or_30_chats(
    make_person, django_assert_max_num_queries
):
    alice = make_person("alice")

    def add(start: int, stop: int) -> None:
        for i in range(start, stop):
            chat = _receive(alice, sender=f"p{i}@else.example").chat
            if i % 3 == 0:
                requests.accept_chat(chat=chat)
            if i % 3 == 1:
                requests.accept_chat(chat=chat)
                services.set_chat_flag(chat=chat, flag="archived", on=True)

    add(0, 3)
    client = _client(alice)
    counts = {}
    for path in ("/", "/chats/requests/", "/chats/archived/", "/chats/list/?which=requests"):
        with django_assert_max_num_queries(12) as few:
            client.get(path)
        counts[path] = len(few.captured_queries)
    add(3, 30)
    for path, count in counts.items():
        with django_assert_max_num_queries(count):
            assert client.get(path).status_code == 200
