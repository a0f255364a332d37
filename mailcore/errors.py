"""Mail errors, classified for retrying and worded for the person who sees them."""

from __future__ import annotations


class MailError(Exception):
    """A mail server problem: `user_message` is safe to show, `transient` says whether to retry."""

    transient = False

    def __init__(self, user_message: str, *, detail: str = "") -> None:
        super().__init__(user_message)
        self.user_message = user_message
        self.detail = detail

    def __reduce__(self):
        # Keeps `detail` when a child process sends the error (mailcore.history_fetch).
        return (type(self), (self.user_message,), self.__dict__)


class AuthenticationFailed(MailError):
    pass


class HostNotFound(MailError):
    pass


class ConnectionRefused(MailError):
    transient = True


class ConnectionTimedOut(MailError):
    transient = True


class ConnectionLost(MailError):
    transient = True


class CertificateInvalid(MailError):
    pass


class TLSUnavailable(MailError):
    pass


class ProtocolError(MailError):
    pass


class SendRejected(MailError):
    """The SMTP server refused the message for good (5xx)."""


class SendDeferred(MailError):
    """The SMTP server asked us to try later (4xx)."""

    transient = True
