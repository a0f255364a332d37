from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.test import override_settings

from accounts import crypto, services
from accounts.models import MailAccount


def test_password_round_trips_and_is_not_stored_in_clear():
    token = crypto.encrypt("hunter2-correct-horse")
    assert "hunter2" not in token
    assert crypto.decrypt(token) == "hunter2-correct-horse"


def test_old_key_still_decrypts_after_a_new_key_is_added():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with override_settings(COIWEB_FERNET_KEYS=old):
        token = crypto.encrypt("s3cret")
    with override_settings(COIWEB_FERNET_KEYS=f"{new},{old}"):
        assert crypto.decrypt(token) == "s3cret"
        rotated = crypto.rotate(token)
    with override_settings(COIWEB_FERNET_KEYS=new):
        assert crypto.decrypt(rotated) == "s3cret"
        with pytest.raises(crypto.InvalidToken):
            crypto.decrypt(token)


@pytest.mark.django_db
def test_rotate_credentials_re_encrypts_every_mailbox(make_person):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with override_settings(COIWEB_FERNET_KEYS=old):
        person = make_person("rotator")
    with override_settings(COIWEB_FERNET_KEYS=f"{new},{old}"):
        assert services.rotate_credentials() == 1
    with override_settings(COIWEB_FERNET_KEYS=new):
        account = MailAccount.objects.get(pk=person.account.pk)
        assert account.credentials().password == person.mail.password


def test_credentials_repr_never_shows_the_password():
    from mailcore.endpoints import Credentials

    assert "topsecret" not in repr(Credentials("me@example.org", "topsecret"))
