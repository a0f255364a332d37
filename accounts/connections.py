"""Open IMAP and SMTP sessions for a linked mailbox, with this instance's TLS trust."""

from __future__ import annotations

import ssl
from functools import cache

from cryptography.fernet import InvalidToken
from django.conf import settings

from accounts.models import MailAccount
from mailcore import imap, smtp
from mailcore.endpoints import Credentials
from mailcore.errors import AuthenticationFailed


@cache
def _ssl_context(extra_ca_file: str | None) -> ssl.SSLContext:
    from mailcore.endpoints import tls_context

    return tls_context(extra_ca_file)


def ssl_context() -> ssl.SSLContext:
    return _ssl_context(settings.COIWEB_EXTRA_CA_FILE)


def _credentials(account: MailAccount) -> Credentials:
    try:
        return account.credentials()
    except InvalidToken:
        # Encrypted under a key this instance no longer has: only a new password helps.
        raise AuthenticationFailed(
            "The stored password can no longer be read. Please enter it again."
        ) from None


def imap_session(account: MailAccount):
    return imap.session(
        account.imap_endpoint,
        _credentials(account),
        ssl_context=ssl_context(),
        timeout=settings.COIWEB_MAIL_TIMEOUT,
    )


def smtp_session(account: MailAccount):
    return smtp.session(
        account.smtp_endpoint,
        _credentials(account),
        ssl_context=ssl_context(),
        timeout=settings.COIWEB_MAIL_TIMEOUT,
    )
