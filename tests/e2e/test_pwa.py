"""The installable app in Chromium: its service worker shows pushes and stands in offline."""

from __future__ import annotations

import json
import os
import time

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from chat.models import Chat
from pwa.models import PushSubscription
from tests.pushservice import VapidKeys, b64url, unb64url

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

NOTIFICATIONS = """() => navigator.serviceWorker.ready
    .then(r => r.getNotifications())
    .then(ns => ns.map(n => ({title: n.title, body: n.body, tag: n.tag, url: n.data && n.data.url})))"""


# Headless Chromium has no push service to subscribe with (Google's, on the network):
# this stands in for the browser's PushManager, and only for it.
FAKE_PUSH = """(() => {
  let current = null;
  const subscription = {
    endpoint: window.__fakeSubscription.endpoint,
    options: {},
    toJSON() { return window.__fakeSubscription; },
    unsubscribe() { current = null; return Promise.resolve(true); },
  };
  PushManager.prototype.subscribe = function (options) {
    window.__subscribedWith = Array.from(new Uint8Array(options.applicationServerKey));
    subscription.options = options;
    current = subscription;
    return Promise.resolve(subscription);
  };
  PushManager.prototype.getSubscription = function () { return Promise.resolve(current); };
})();"""


def _with_worker(page):
    """Wait until the service worker is active and controls the page; return a CDP session."""
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    return page.context.new_cdp_session(page)


def _registration_id(cdp, origin: str) -> str:
    found = {}

    def updated(event) -> None:
        for registration in event["registrations"]:
            if registration["scopeURL"] == origin + "/" and not registration["isDeleted"]:
                found["id"] = registration["registrationId"]

    cdp.on("ServiceWorker.workerRegistrationUpdated", updated)
    cdp.send("ServiceWorker.enable")
    deadline = time.monotonic() + 10
    while "id" not in found and time.monotonic() < deadline:
        cdp.send("Runtime.evaluate", {"expression": "1"})  # lets the events come in
        time.sleep(0.05)
    return found["id"]


def _deliver_push(cdp, origin: str, registration_id: str, payload: dict) -> None:
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": origin, "registrationId": registration_id, "data": json.dumps(payload)},
    )


def _notifications(page, count: int) -> list[dict]:
    deadline = time.monotonic() + 10
    while True:
        shown = page.evaluate(NOTIFICATIONS)
        if len(shown) >= count or time.monotonic() > deadline:
            return shown
        time.sleep(0.1)


def test_a_push_shows_a_notification_of_the_chat(make_person, open_page, live_stack):
    alice = make_person("alice")
    page = open_page(alice, "/")
    page.context.grant_permissions(["notifications"], origin=live_stack.url)
    cdp = _with_worker(page)
    registration = _registration_id(cdp, live_stack.url)

    _deliver_push(
        cdp,
        live_stack.url,
        registration,
        {"title": "Fred Friendly", "body": "Coffee at 4?", "url": "/chats/42/", "tag": "chat-42"},
    )

    assert _notifications(page, 1) == [
        {
            "title": "Fred Friendly",
            "body": "Coffee at 4?",
            "tag": "chat-42",
            "url": f"{live_stack.url}/chats/42/",
        }
    ]


def test_no_notification_for_the_chat_on_screen(make_person, open_page, live_stack):
    alice = make_person("alice")
    chat = Chat.objects.create(
        account=alice.account, peer_address="fred@example.org", last_activity_at=timezone.now()
    )
    page = open_page(alice, f"/chats/{chat.pk}/")
    page.context.grant_permissions(["notifications"], origin=live_stack.url)
    cdp = _with_worker(page)
    registration = _registration_id(cdp, live_stack.url)

    on_screen = {"title": "Fred", "body": "here", "url": f"/chats/{chat.pk}/", "tag": "on-screen"}
    _deliver_push(cdp, live_stack.url, registration, on_screen)
    other = {"title": "Gina", "body": "elsewhere", "url": "/chats/99999/", "tag": "other"}
    _deliver_push(cdp, live_stack.url, registration, other)

    # Pushes are handled in order: once the second shows, the first was passed over.
    assert [n["tag"] for n in _notifications(page, 1)] == ["other"]


def test_the_offline_page_stands_in_when_the_server_cannot_be_reached(
    make_person, open_page, live_stack
):
    alice = make_person("alice")
    page = open_page(alice, "/")
    _with_worker(page)

    page.context.set_offline(True)
    try:
        page.goto("/chats/new/")
        expect(page.locator("#offline h1")).to_have_text("You are offline")
        expect(page.locator("link[rel=stylesheet]")).to_have_count(1)
        assert page.evaluate("getComputedStyle(document.body).margin") == "0px"  # app.css came
    finally:
        page.context.set_offline(False)
    page.locator("#offline a", has_text="Try again").click()
    expect(page.locator("input[name=address]")).to_be_visible()


def test_the_device_subscription_goes_to_the_server_and_away_again_at_sign_out(
    make_person, open_page, live_stack, vapid_keys
):
    alice = make_person("alice")
    page = open_page(alice, "/")
    page.context.grant_permissions(["notifications"], origin=live_stack.url)
    endpoint = "https://fcm.googleapis.com/fcm/send/e2e-" + b64url(os.urandom(8))
    p256dh = VapidKeys.generate().public  # any P-256 public key will do
    fake = {"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": b64url(bytes(range(16)))}}
    page.context.add_init_script(f"window.__fakeSubscription = {json.dumps(fake)};" + FAKE_PUSH)
    page.reload()
    control = page.locator("#push-control")

    control.get_by_role("button", name="Enable notifications on this device").click()

    expect(control).to_contain_text("Notifications are on for this device.")
    subscription = PushSubscription.objects.get(user=alice.user)
    assert (subscription.endpoint, subscription.p256dh) == (endpoint, p256dh)
    assert bytes(page.evaluate("window.__subscribedWith")) == unb64url(vapid_keys.public)

    control.get_by_role("button", name="Turn off").click()
    expect(control.get_by_role("button")).to_have_text("Enable notifications on this device")
    assert not PushSubscription.objects.filter(user=alice.user).exists()

    # Signing out turns them off too: the next person at this computer must not see them.
    control.get_by_role("button", name="Enable notifications on this device").click()
    expect(control).to_contain_text("Notifications are on for this device.")
    assert PushSubscription.objects.filter(user=alice.user).exists()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert not PushSubscription.objects.filter(user=alice.user).exists()


def test_mail_for_a_person_with_a_subscribed_device_is_pushed_by_the_worker(
    make_person, live_stack, push_service
):
    from chat import requests
    from chat.models import FolderState
    from pwa import notify
    from tests.mailserver import add_mail_user, send_plain_mail

    alice = make_person("alice")
    device = push_service.new_device()
    notify.subscribe_device(
        user=alice.user, endpoint=device.endpoint, p256dh=device.p256dh, auth=device.auth
    )
    # Mail that was there before the first sync is history, which notifies nobody.
    deadline = time.monotonic() + 20
    while not FolderState.objects.filter(
        account=alice.account, folder="INBOX", uidvalidity__isnull=False
    ).exists():
        assert time.monotonic() < deadline, "the mailbox was not synced"
        time.sleep(0.1)
    fred = add_mail_user("fred")
    requests.remember_known(alice.account, [fred.email])  # she wrote to him: no request

    send_plain_mail(
        sender=f"Fred <{fred.email}>", to=alice.mail.email, subject="Hi", body="Coffee at 4?"
    )

    delivery = push_service.next_delivery(timeout=30)
    chat = Chat.objects.get(account=alice.account, peer_address=fred.email)
    assert (delivery.token, delivery.status, delivery.problem) == (device.token, 201, "")
    assert delivery.payload == {
        "title": "Fred",
        "body": "Coffee at 4?",
        "url": f"/chats/{chat.pk}/",
        "tag": f"chat-{chat.pk}",
    }
