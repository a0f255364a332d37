"""The settings page: profile name and picture, theme, mailboxes; first-run linking help."""

from __future__ import annotations

import base64

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from mailcore.images import MAX_AVATAR_BYTES

pytestmark = pytest.mark.django_db

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg=="
)


def _client(person) -> Client:
    client = Client()
    client.force_login(person.user)
    return client


def test_a_picture_is_stored_shown_in_the_top_bar_and_served_only_to_its_owner(make_person):
    alice, bob = make_person("alice", link=False), make_person("bob", link=False)
    client = _client(alice)
    response = client.post(
        "/accounts/settings/profile/",
        {"display_name": "Alice Liddell", "avatar": SimpleUploadedFile("me.png", PNG)},
    )
    assert response.status_code == 302
    alice.user.refresh_from_db()
    assert alice.user.display_name == "Alice Liddell"
    assert bytes(alice.user.avatar) == PNG and alice.user.avatar_type == "image/png"
    url = f"/accounts/avatar/{alice.user.avatar_version}/"
    assert url in client.get("/accounts/settings/").content.decode()
    picture = client.get(url)
    assert picture.status_code == 200 and picture.content == PNG
    assert (
        picture["Content-Type"] == "image/png" and "sandbox" in picture["Content-Security-Policy"]
    )
    # Bob's own (absent) picture, never Alice's.
    assert _client(bob).get(url).status_code == 404

    client.post("/accounts/settings/profile/", {"display_name": "Alice", "remove_avatar": "on"})
    alice.user.refresh_from_db()
    assert not alice.user.has_avatar and client.get(url).status_code == 404


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"0" * (MAX_AVATAR_BYTES + 1), "the limit is 64 KB"),
        (b"<svg onload=alert(1)></svg>", "not a PNG, JPEG, GIF or WebP"),
    ],
)
def test_a_too_large_or_non_image_picture_is_refused_and_the_old_one_kept(
    make_person, data, expected
):
    alice = make_person("alice", link=False)
    client = _client(alice)
    client.post(
        "/accounts/settings/profile/",
        {"display_name": "Alice", "avatar": SimpleUploadedFile("a.png", PNG)},
    )
    response = client.post(
        "/accounts/settings/profile/",
        {"display_name": "Changed", "avatar": SimpleUploadedFile("big.png", data)},
    )
    assert response.status_code == 422
    assert expected in response.content.decode()
    alice.user.refresh_from_db()
    assert bytes(alice.user.avatar) == PNG and alice.user.display_name == "Alice"


def test_the_theme_is_stored_per_person_and_rendered_on_the_html_element(make_person):
    alice, bob = make_person("alice", link=False), make_person("bob", link=False)
    client = _client(alice)
    assert (
        '<html lang="en" data-theme="system">' in client.get("/accounts/settings/").content.decode()
    )
    response = client.post("/accounts/settings/", {"theme": "dark", "send_read_receipts": "on"})
    assert response.status_code == 302
    assert 'data-theme="dark"' in client.get("/accounts/settings/").content.decode()
    assert 'data-theme="system"' in _client(bob).get("/accounts/settings/").content.decode()

    # The quick toggle stores the theme alone; an unknown one is refused.
    assert (
        client.post(
            "/accounts/settings/theme/", {"theme": "light"}, HTTP_HX_REQUEST="true"
        ).status_code
        == 204
    )
    alice.user.refresh_from_db()
    assert alice.user.theme == "light" and alice.user.send_read_receipts is True
    assert client.post("/accounts/settings/theme/", {"theme": "pink"}).status_code == 400
    # Without JavaScript it comes back to the page, never to another site.
    back = client.post(
        "/accounts/settings/theme/", {"theme": "dark", "next": "https://evil.example/"}
    )
    assert back["Location"] == "/accounts/settings/"


def test_the_settings_page_lists_own_mailboxes_with_health_and_their_actions(make_person):
    alice, bob = make_person("alice"), make_person("bob")
    alice.account.last_error = "The server rejected the username or password."
    alice.account.save(update_fields=["last_error"])
    page = _client(alice).get("/accounts/settings/").content.decode()
    assert alice.account.email in page and bob.account.email not in page
    assert "rejected the username or password" in page and "Re-enter the password" in page
    assert f"/accounts/mailboxes/{alice.account.pk}/#unlink" in page
    assert 'id="push-control"' in page


def test_a_person_without_a_mailbox_is_guided_to_link_one(make_person):
    newcomer = make_person("newcomer", link=False)
    client = _client(newcomer)
    home = client.get("/")
    assert home.status_code == 302 and home["Location"] == "/accounts/mailboxes/new/"
    page = client.get(home["Location"]).content.decode()
    assert "Link your mailbox" in page and "app password" in page
    assert "imap.gmail.com" in page and 'data-domains="gmail.com googlemail.com"' in page


def test_the_picture_bytes_are_not_loaded_with_every_request_user(make_person):
    from accounts.models import User

    alice = make_person("alice", link=False)
    client = _client(alice)
    client.post(
        "/accounts/settings/profile/",
        {"display_name": "Alice", "avatar": SimpleUploadedFile("a.png", PNG)},
    )
    loaded = User.objects.get(pk=alice.user.pk)
    assert "avatar" in loaded.get_deferred_fields() and loaded.has_avatar
    assert bytes(loaded.avatar) == PNG  # still there when asked for
