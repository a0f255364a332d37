"""Fixtures for tests of the chat layer's storage that need no mail server."""

import pytest

from accounts.models import MailAccount, User


@pytest.fixture
def account():
    """A mailbox row of its own, never connected to (for storage-only tests)."""
    user = User.objects.create_user(username="owner", password="x" * 20)
    return MailAccount.objects.create(
        user=user,
        email="owner@example.org",
        login="owner@example.org",
        imap_host="127.0.0.1",
        imap_port=993,
        imap_security="ssl",
        smtp_host="127.0.0.1",
        smtp_port=465,
        smtp_security="ssl",
    )
