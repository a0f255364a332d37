"""SMTP submission: log in with clear errors and send, classifying failures for retry."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from mailcore.endpoints import Credentials, Endpoint, resolve
from mailcore.errors import (
    AuthenticationFailed,
    ConnectionLost,
    MailError,
    ProtocolError,
    SendDeferred,
    SendRejected,
    TLSUnavailable,
)
from mailcore.imap import translate_os_error


@contextmanager
def session(
    endpoint: Endpoint,
    credentials: Credentials,
    *,
    ssl_context: ssl.SSLContext,
    timeout: float = 30.0,
) -> Iterator[smtplib.SMTP]:
    """Yield an authenticated SMTP connection; errors become MailError subclasses."""
    smtp = _connect(endpoint, credentials, ssl_context=ssl_context, timeout=timeout)
    try:
        yield smtp
    finally:
        try:
            smtp.quit()
        except Exception:
            smtp.close()


def probe(
    endpoint: Endpoint,
    credentials: Credentials,
    *,
    ssl_context: ssl.SSLContext,
    timeout: float = 15.0,
) -> None:
    """Log in once to check the settings; raise MailError when they do not work."""
    with session(endpoint, credentials, ssl_context=ssl_context, timeout=timeout):
        pass


def send(
    smtp: smtplib.SMTP,
    *,
    envelope_from: str,
    recipients: list[str],
    raw: bytes,
) -> str:
    """Send `raw`; return a note on refused recipients ("" when all were accepted).

    Raises SendRejected (5xx), SendDeferred (4xx) or ConnectionLost when nothing went out.
    """
    try:
        refused = smtp.sendmail(envelope_from, recipients, raw)
    except smtplib.SMTPRecipientsRefused as exc:
        raise _classify_refusals(exc.recipients) from None
    except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
        raise _classify(exc.smtp_code, exc.smtp_error) from None
    except smtplib.SMTPServerDisconnected as exc:
        raise ConnectionLost(
            "The mail server closed the connection while sending.", detail=str(exc)
        ) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise ConnectionLost("Sending was interrupted.", detail=str(exc)) from None
    # Some recipients may have been refused while others accepted it: the message is out,
    # so this must not be retried; the caller shows the note instead.
    return _classify_refusals(refused, partial=True).user_message if refused else ""


def _connect(
    endpoint: Endpoint, credentials: Credentials, *, ssl_context: ssl.SSLContext, timeout: float
) -> smtplib.SMTP:
    smtp: smtplib.SMTP | None = None
    try:
        resolve(endpoint.host, endpoint.port)
        if endpoint.security == "ssl":
            smtp = smtplib.SMTP_SSL(
                endpoint.host, endpoint.port, timeout=timeout, context=ssl_context
            )
        else:
            smtp = smtplib.SMTP(endpoint.host, endpoint.port, timeout=timeout)
        smtp.ehlo()
        if endpoint.security == "starttls":
            if not smtp.has_extn("starttls"):
                raise TLSUnavailable(
                    f"{endpoint.host}:{endpoint.port} does not offer STARTTLS. "
                    "Choose SSL/TLS or another port."
                )
            smtp.starttls(context=ssl_context)
            smtp.ehlo()
        if not smtp.has_extn("auth"):
            raise ProtocolError(
                f"{endpoint.host}:{endpoint.port} does not offer login (SMTP AUTH). "
                "Use the submission port (587 or 465)."
            )
        smtp.login(credentials.username, credentials.password)
        return smtp
    except smtplib.SMTPAuthenticationError as exc:
        _close(smtp)
        raise AuthenticationFailed(
            "The outgoing (SMTP) server rejected the username or password.",
            detail=_text(exc.smtp_error),
        ) from None
    except MailError:
        _close(smtp)
        raise
    except smtplib.SMTPServerDisconnected as exc:
        _close(smtp)
        raise ConnectionLost(
            f"{endpoint.host}:{endpoint.port} closed the connection. Check the port and the security setting.",
            detail=str(exc),
        ) from None
    except smtplib.SMTPResponseException as exc:
        _close(smtp)
        raise _classify(exc.smtp_code, exc.smtp_error) from None
    except Exception as exc:
        _close(smtp)
        raise translate_os_error(exc, endpoint, timeout) from None


def _classify(code: int, message: bytes | str) -> MailError:
    text = _text(message)
    if 400 <= code < 500:
        return SendDeferred(
            f"The mail server asked to try again later ({code} {text}).", detail=text
        )
    return SendRejected(f"The mail server refused the message ({code} {text}).", detail=text)


def _classify_refusals(
    refusals: dict[str, tuple[int, bytes]], *, partial: bool = False
) -> MailError:
    parts = [f"{addr}: {code} {_text(msg)}" for addr, (code, msg) in refusals.items()]
    prefix = "Some recipients were refused" if partial else "The mail server refused the recipient"
    message = f"{prefix} ({'; '.join(parts)})."
    if not partial and all(400 <= code < 500 for code, _ in refusals.values()):
        return SendDeferred(message)
    return SendRejected(message)


def _text(message: bytes | str) -> str:
    return message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)


def _close(smtp: smtplib.SMTP | None) -> None:
    if smtp is not None:
        with suppress(Exception):
            smtp.close()
