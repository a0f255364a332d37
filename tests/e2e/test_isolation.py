"""One person never sees another's chats, messages, mailboxes or live traffic."""

from __future__ import annotations

import asyncio

import pytest
import websockets
import websockets.exceptions
from django.conf import settings
from django.test import Client

from accounts import services as account_services
from chat.models import BlockedAddress, Chat, Message
from tests.mailserver import add_mail_user, send_plain_mail

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _wait_for(predicate, timeout=15.0):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_another_person_gets_404_on_every_url_of_the_first(make_person, live_stack):
    alice = make_person("alice")
    mallory = make_person("mallory")
    outsider = add_mail_user("friend")
    send_plain_mail(sender=outsider.email, to=alice.mail.email, subject="Hi", body="private words")
    _wait_for(lambda: Message.objects.filter(account=alice.account).exists())
    chat = Chat.objects.get(account=alice.account)
    message = Message.objects.get(account=alice.account)

    account_services.update_profile(
        user=alice.user, display_name="Alice", avatar=b"\x89PNG\r\n\x1a\nprivate picture"
    )

    client = Client()
    client.force_login(mallory.user)
    for url in (
        f"/accounts/avatar/{alice.user.avatar_version}/",
        f"/chats/{chat.pk}/",
        f"/chats/{chat.pk}/messages/?after=0",
        f"/chats/{chat.pk}/avatar/",
        f"/chats/{chat.pk}/contact/",
        f"/messages/{message.pk}/",
        f"/accounts/mailboxes/{alice.account.pk}/",
    ):
        assert client.get(url).status_code == 404, url
    block = BlockedAddress.objects.create(account=alice.account, address="pest@example.org")
    for url in (
        f"/chats/{chat.pk}/send/",
        f"/chats/{chat.pk}/accept/",
        f"/chats/{chat.pk}/block/",
        f"/chats/{chat.pk}/delete/",
        f"/chats/{chat.pk}/mute/",
        f"/chats/{chat.pk}/archive/",
        f"/chats/{chat.pk}/pin/",
        f"/chats/{chat.pk}/leave/",
        f"/chats/{chat.pk}/avatar/set/",
        f"/blocked/{block.pk}/unblock/",
        f"/messages/{message.pk}/retry/",
        f"/accounts/mailboxes/{alice.account.pk}/remove/",
    ):
        assert client.post(url, {"text": "x", "on": "1"}).status_code == 404, url
    body = client.get("/").content.decode()
    assert "private words" not in body and outsider.email not in body
    for query in ("private", "friend", "Hi"):
        found = client.get(f"/chats/search/?q={query}").content.decode()
        assert "private words" not in found and outsider.email not in found, query
    settings_page = client.get("/accounts/settings/").content.decode()
    assert alice.mail.email not in settings_page and "/accounts/avatar/" not in settings_page
    assert Message.objects.filter(account=alice.account).count() == 1  # nothing was sent or removed
    chat.refresh_from_db()
    assert chat.is_request and not (chat.muted or chat.archived or chat.pinned)
    assert BlockedAddress.objects.filter(pk=block.pk).exists()

    owner = Client()
    owner.force_login(alice.user)
    assert owner.get(f"/chats/{chat.pk}/").status_code == 200


def _session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


async def _collect(url: str, cookie: str, seconds: float, ready: asyncio.Event) -> list[str]:
    frames = []
    async with websockets.connect(
        url,
        additional_headers={
            "Cookie": f"sessionid={cookie}",
            "Origin": url.replace("ws://", "http://"),
        },
    ) as ws:
        ready.set()
        try:
            async with asyncio.timeout(seconds):
                while True:
                    frames.append(await ws.recv())
        except TimeoutError:
            pass
    return frames


def test_websocket_of_another_person_receives_nothing(make_person, live_stack):
    alice = make_person("alice")
    mallory = make_person("mallory")
    outsider = add_mail_user("friend")
    url = f"ws://127.0.0.1:{live_stack.port}/ws/"

    async def scenario():
        alice_ready, mallory_ready = asyncio.Event(), asyncio.Event()
        alice_task = asyncio.create_task(_collect(url, _session_cookie(alice.user), 8, alice_ready))
        mallory_task = asyncio.create_task(
            _collect(url, _session_cookie(mallory.user), 8, mallory_ready)
        )
        await alice_ready.wait()
        await mallory_ready.wait()
        await asyncio.to_thread(
            send_plain_mail,
            sender=outsider.email,
            to=alice.mail.email,
            subject="Secret",
            body="for alice only",
        )
        return await alice_task, await mallory_task

    alice_frames, mallory_frames = _run_async(scenario)
    assert any("for alice only" in frame for frame in alice_frames)  # the positive control
    assert mallory_frames == []


def test_anonymous_websocket_is_refused(live_stack):
    async def connect():
        async with websockets.connect(
            f"ws://127.0.0.1:{live_stack.port}/ws/", origin=live_stack.url
        ) as ws:
            await ws.recv()

    with pytest.raises(websockets.exceptions.WebSocketException):
        _run_async(connect)


def _run_async(make_coroutine):
    """Run a coroutine in its own thread: Playwright's sync API keeps a loop in this one."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make_coroutine())).result()
