from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts import services
from accounts.models import Invitation, User

pytestmark = pytest.mark.django_db


def test_first_visitor_is_sent_to_setup_and_becomes_admin():
    client = Client()
    assert client.get("/accounts/login/").url == "/accounts/setup/"
    response = client.post(
        "/accounts/setup/",
        {"username": "root", "password1": "a-long-passphrase", "password2": "a-long-passphrase"},
    )
    assert response.status_code == 302
    admin = User.objects.get()
    assert admin.is_superuser and admin.is_staff
    assert client.get("/accounts/setup/").url == "/accounts/login/"  # setup is closed now


def test_invitation_link_works_exactly_once():
    admin = User.objects.create_superuser("root", password="x-long-passphrase")
    invitation = services.create_invitation(by=admin, note="for Bob")
    url = f"/accounts/invite/{invitation.token}/"
    form = {
        "username": "bob",
        "display_name": "Bob",
        "password1": "bobs-passphrase",
        "password2": "bobs-passphrase",
    }
    assert Client().post(url, form).status_code == 302
    assert User.objects.filter(username="bob", is_staff=False).exists()
    second = Client().post(url, {**form, "username": "eve"})
    assert second.status_code == 404
    assert not User.objects.filter(username="eve").exists()
    invitation.refresh_from_db()
    assert invitation.used_by.username == "bob"


def test_expired_invitation_is_refused():
    admin = User.objects.create_superuser("root", password="x-long-passphrase")
    invitation = Invitation.objects.create(
        created_by=admin, expires_at=timezone.now() - timedelta(minutes=1)
    )
    response = Client().get(f"/accounts/invite/{invitation.token}/")
    assert response.status_code == 404
    assert b"cannot be used" in response.content


def test_only_admins_can_create_invitations():
    User.objects.create_superuser("root", password="x-long-passphrase")
    member = User.objects.create_user("member", password="m-long-passphrase")
    client = Client()
    client.force_login(member)
    assert client.post("/accounts/invitations/", {"note": "x"}).status_code == 302  # to login
    assert not Invitation.objects.exists()
