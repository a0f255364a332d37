"""Encrypt mailbox credentials at rest with rotatable keys (MultiFernet)."""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@cache
def _fernet(keys: str) -> MultiFernet:
    try:
        return MultiFernet([Fernet(k.strip()) for k in keys.split(",") if k.strip()])
    except (ValueError, TypeError):
        raise ImproperlyConfigured(
            "COIWEB_FERNET_KEYS must be comma-separated Fernet keys (newest first)"
        ) from None


def _current() -> MultiFernet:
    return _fernet(settings.COIWEB_FERNET_KEYS)


def encrypt(secret: str) -> str:
    """Return a token for `secret` under the newest key."""
    return _current().encrypt(secret.encode()).decode("ascii")


def decrypt(token: str) -> str:
    """Return the secret behind `token`; raise InvalidToken when no configured key opens it."""
    return _current().decrypt(token.encode("ascii")).decode()


def rotate(token: str) -> str:
    """Return `token` re-encrypted under the newest key."""
    return _current().rotate(token.encode("ascii")).decode("ascii")


__all__ = ["InvalidToken", "decrypt", "encrypt", "rotate"]
