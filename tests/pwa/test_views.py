"""The installable app's files and pages, and devices (un)subscribing from notifications."""

from __future__ import annotations

import json
import re
import struct

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client

from pwa.models import PushSubscription
from pwa.views import SHELL
from tests.pushservice import VapidKeys

pytestmark = pytest.mark.django_db

FCM = "https://fcm.googleapis.com/fcm/send/"


def _client(person, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(person.user)
    return client


def _device_fields(push_service, endpoint: str) -> dict:
    device = push_service.new_device()
    return {"endpoint": endpoint, "p256dh": device.p256dh, "auth": device.auth}


def test_a_device_subscribes_and_unsubscribes(make_person, push_service):
    alice = make_person("alice")
    client = _client(alice)
    fields = _device_fields(push_service, FCM + "abc")

    assert client.post("/push/subscribe/", fields).json() == {"subscribed": True}
    subscription = PushSubscription.objects.get()
    assert (subscription.user, subscription.p256dh) == (alice.user, fields["p256dh"])

    # Subscribing again (e.g. after the browser renewed its keys) updates the one row.
    renewed = _device_fields(push_service, FCM + "abc")
    client.post("/push/subscribe/", renewed)
    assert PushSubscription.objects.get().auth == renewed["auth"]

    assert client.post("/push/unsubscribe/", {"endpoint": FCM + "abc"}).json() == {
        "subscribed": False
    }
    assert not PushSubscription.objects.exists()


def test_another_person_cannot_unsubscribe_my_device(make_person, push_service):
    alice, mallory = make_person("alice"), make_person("mallory")
    _client(alice).post("/push/subscribe/", _device_fields(push_service, FCM + "alice"))

    _client(mallory).post("/push/unsubscribe/", {"endpoint": FCM + "alice"})

    assert PushSubscription.objects.get().user == alice.user


def test_a_browser_subscribed_by_someone_else_moves_to_whoever_subscribes_it_now(
    make_person, push_service
):
    alice, bob = make_person("alice"), make_person("bob")
    _client(alice).post("/push/subscribe/", _device_fields(push_service, FCM + "shared"))

    _client(bob).post("/push/subscribe/", _device_fields(push_service, FCM + "shared"))

    assert PushSubscription.objects.get().user == bob.user  # never both


def test_subscribing_needs_a_signed_in_person_and_a_csrf_token(make_person, push_service):
    fields = _device_fields(push_service, FCM + "x")
    response = Client().post("/push/subscribe/", fields)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]

    alice = make_person("alice")
    strict = _client(alice, enforce_csrf_checks=True)
    assert strict.post("/push/subscribe/", fields).status_code == 403
    assert strict.post("/push/unsubscribe/", {"endpoint": fields["endpoint"]}).status_code == 403
    assert not PushSubscription.objects.exists()


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://fcm.googleapis.com/fcm/send/plain-http",
        "https://127.0.0.1:8000/admin/",
        "https://fcm.googleapis.com.evil.example/x",
        "https://intranet.example/hook",
    ],
)
def test_only_endpoints_of_known_push_services_are_accepted(make_person, push_service, endpoint):
    # Otherwise anyone with an account could make the server POST wherever they like.
    response = _client(make_person("alice")).post(
        "/push/subscribe/", _device_fields(push_service, endpoint)
    )
    assert response.status_code == 400 and "endpoint" in response.json()["errors"]
    assert not PushSubscription.objects.exists()


def test_keys_that_are_not_a_p256_key_and_auth_secret_are_refused(make_person, push_service):
    fields = {**_device_fields(push_service, FCM + "x"), "p256dh": "AAAA", "auth": "c2hvcnQ"}
    response = _client(make_person("alice")).post("/push/subscribe/", fields)
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"p256dh", "auth"}


def test_without_vapid_keys_web_push_is_off_and_the_page_says_so(make_person, settings):
    settings.COIWEB_VAPID_PRIVATE_KEY = settings.COIWEB_VAPID_PUBLIC_KEY = ""
    alice = make_person("alice")
    client = _client(alice)

    assert "Notifications are not set up on this server." in client.get("/").content.decode()
    response = client.post("/push/subscribe/", {"endpoint": FCM + "x", "p256dh": "", "auth": ""})
    assert response.status_code == 409


def test_the_chat_list_offers_notifications_with_the_servers_public_key(make_person, push_service):
    html = _client(make_person("alice")).get("/").content.decode()
    assert f'data-vapid-key="{settings.COIWEB_VAPID_PUBLIC_KEY}"' in html
    assert "Enable notifications on this device" in html


def test_the_service_worker_is_served_from_the_root_with_its_app_shell():
    response = Client().get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == "/"
    assert response["Cache-Control"] == "no-cache"  # so that updates are found at once
    body = response.content.decode()
    assert 'var OFFLINE_URL = "/offline/";' in body
    shell = json.loads(re.search(r"var SHELL = (\[.*?\]);", body).group(1))
    assert "/static/app.js" in shell and "/static/manifest.webmanifest" in shell


def test_the_service_worker_caches_every_static_file_a_page_loads():
    for template in ("base.html", "pwa/offline.html"):
        source = (settings.BASE_DIR / "templates" / template).read_text()
        loaded = set(re.findall(r"{% static '([^']+)' %}", source))
        assert loaded and loaded <= set(SHELL), f"{template} loads {loaded - set(SHELL)}"


def test_the_offline_page_shows_nothing_personal(make_person):
    alice = make_person("alice")
    html = _client(alice).get("/offline/").content.decode()
    assert "You are offline" in html
    assert alice.user.username not in html and "csrf" not in html.lower()


def _png_size(path) -> tuple[int, int]:
    with open(path, "rb") as f:
        header = f.read(24)
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def test_the_manifest_makes_the_app_installable():
    response = Client().get("/static/manifest.webmanifest")
    assert response["Content-Type"] == "application/manifest+json"
    manifest = json.loads(b"".join(response.streaming_content))
    assert manifest["display"] == "standalone" and manifest["start_url"] == "/"
    assert manifest["name"] and manifest["short_name"]
    assert manifest["theme_color"] and manifest["background_color"]
    found = set()
    for icon in manifest["icons"]:
        path = finders.find(icon["src"])  # relative to the manifest, which is at the top
        assert path, icon["src"]
        if icon["type"] == "image/png":
            width, height = map(int, icon["sizes"].split("x"))
            assert _png_size(path) == (width, height)
            found.add((width, icon["purpose"]))
    assert {(192, "any"), (512, "any"), (192, "maskable"), (512, "maskable")} <= found


def test_vapid_public_key_is_derived_and_a_wrong_one_refused():
    from django.core.exceptions import ImproperlyConfigured

    from coiweb.settings import _vapid_public_key

    keys, other = VapidKeys.generate(), VapidKeys.generate()
    assert _vapid_public_key(keys.private, "") == keys.public
    assert _vapid_public_key(keys.private, keys.public) == keys.public
    with pytest.raises(ImproperlyConfigured):
        _vapid_public_key(keys.private, other.public)
    with pytest.raises(ImproperlyConfigured):
        _vapid_public_key("not a key", "")
