"""IMAP: connect with clear errors, read capabilities, fetch new mail, append, IDLE."""

from __future__ import annotations

import imaplib
import logging
import socket
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from mailcore import coi, imap_response
from mailcore.endpoints import Credentials, Endpoint, resolve
from mailcore.errors import (
    AuthenticationFailed,
    CertificateInvalid,
    ConnectionLost,
    ConnectionRefused,
    ConnectionTimedOut,
    HostNotFound,
    MailError,
    ProtocolError,
    TLSUnavailable,
)

# The capabilities we record per account; anything else the server lists is kept too.
INTERESTING_CAPABILITIES = (
    "IDLE",
    "MOVE",
    "UIDPLUS",
    "CONDSTORE",
    "QRESYNC",
    "METADATA",
    "SPECIAL-USE",
    "COI",
)
FETCH_BATCH = 200
# Sync fetches at most this much of each message; larger ones (big attachments) are
# fetched whole only when someone opens them.
EAGER_BYTES = 256 * 1024
FETCH_ITEMS = [f"BODY.PEEK[]<0.{EAGER_BYTES}>", "RFC822.SIZE", "FLAGS", "INTERNALDATE"]
# UID is implied by UID FETCH (RFC 3501 6.4.8), but asking costs nothing and some servers
# forget it otherwise.
_FETCH_COMMAND = "(" + " ".join(["UID", *FETCH_ITEMS]) + ")"


@dataclass(frozen=True)
class ImapProbe:
    capabilities: frozenset[str]
    sent_folder: str | None
    coi_chats_folder: str | None = None
    coi: coi.CoiConfig | None = None  # only on servers listing COI (after login)
    separator: str = "/"


@dataclass(frozen=True)
class FetchedMessage:
    uid: int
    flags: frozenset[str]
    raw: bytes  # the first EAGER_BYTES of the message when it is larger (see `complete`)
    internal_date: datetime | None  # INTERNALDATE, aware, in UTC
    size: int = 0

    @property
    def complete(self) -> bool:
        return len(self.raw) >= self.size


@dataclass(frozen=True)
class FolderStatus:
    uidvalidity: int
    exists: int
    highest_modseq: int | None  # only when the server has CONDSTORE (and it was enabled)
    uidnext: int = 0


@dataclass(frozen=True)
class FolderBatch:
    folder: str
    uidvalidity: int
    messages: tuple[FetchedMessage, ...]
    highest_uid: int


def translate_os_error(exc: BaseException, endpoint: Endpoint, timeout: float) -> MailError:
    """Turn a low-level network or TLS exception into a MailError a person can act on."""
    where = f"{endpoint.host}:{endpoint.port}"
    if isinstance(exc, MailError):
        return exc
    if isinstance(exc, socket.gaierror):
        return HostNotFound(
            f"Could not find the server “{endpoint.host}”. Check the server name.", detail=str(exc)
        )
    if isinstance(exc, ConnectionRefusedError):
        return ConnectionRefused(
            f"{endpoint.host} refused the connection on port {endpoint.port}. "
            "Check the port and the security setting.",
            detail=str(exc),
        )
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return ConnectionTimedOut(
            f"{where} did not answer within {timeout:g} seconds. "
            "Check the server name and port, or try again later.",
            detail=str(exc),
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        return CertificateInvalid(
            f"The security certificate of {endpoint.host} is not trusted "
            f"({exc.verify_message or 'verification failed'}).",
            detail=str(exc),
        )
    if isinstance(exc, ssl.SSLError):
        return TLSUnavailable(
            f"Could not set up a secure connection with {where}. "
            "Check that the security setting matches this port.",
            detail=str(exc),
        )
    if isinstance(exc, (ConnectionError, EOFError, imaplib.IMAP4.abort, OSError)):
        return ConnectionLost(f"The connection to {where} was lost.", detail=str(exc))
    return ProtocolError(f"{where} gave an answer we did not understand.", detail=str(exc))


def connect(
    endpoint: Endpoint,
    credentials: Credentials,
    *,
    ssl_context: ssl.SSLContext,
    timeout: float = 15.0,
) -> IMAPClient:
    """Open an authenticated IMAP session, raising MailError subclasses on failure."""
    client = None
    try:
        resolve(endpoint.host, endpoint.port)
        client = IMAPClient(
            endpoint.host,
            port=endpoint.port,
            ssl=endpoint.security == "ssl",
            ssl_context=ssl_context,
            timeout=timeout,
        )
        _quiet_imaplib(client)
        if endpoint.security == "starttls":
            if b"STARTTLS" not in client.capabilities():
                raise TLSUnavailable(
                    f"{endpoint.host}:{endpoint.port} does not offer STARTTLS. "
                    "Choose SSL/TLS or another port."
                )
            client.starttls(ssl_context)
        client.login(credentials.username, credentials.password)
        return client
    except LoginError as exc:
        _close_quietly(client)
        raise AuthenticationFailed(
            "The mail server rejected the username or password.", detail=_server_text(exc)
        ) from None
    except IMAPClientError as exc:
        _close_quietly(client)
        raise ProtocolError(
            f"{endpoint.host}:{endpoint.port} refused the login: {_server_text(exc)}"
        ) from None
    except Exception as exc:
        _close_quietly(client)
        raise translate_os_error(exc, endpoint, timeout) from None


def _quiet_imaplib(client: IMAPClient) -> None:
    """Stop imaplib formatting a debug line for everything it reads unless it is logged.

    imapclient sets imaplib's debug level to 5 and sends that output to its logger, so
    every response line and literal (message bodies too) is repr()ed, even when the
    logger drops it: that doubles the CPU a FETCH costs in imaplib.
    """
    if not logging.getLogger("imapclient.imaplib").isEnabledFor(logging.DEBUG):
        client._imap.debug = 0


@contextmanager
def session(
    endpoint: Endpoint,
    credentials: Credentials,
    *,
    ssl_context: ssl.SSLContext,
    timeout: float = 15.0,
) -> Iterator[IMAPClient]:
    """Yield a logged-in client and log out afterwards; I/O errors become MailError."""
    client = connect(endpoint, credentials, ssl_context=ssl_context, timeout=timeout)
    try:
        yield client
    except (OSError, EOFError, imaplib.IMAP4.abort, IMAPClientError) as exc:
        raise translate_os_error(exc, endpoint, timeout) from None
    finally:
        _close_quietly(client, logout=True)


def enable_condstore(client: IMAPClient) -> bool:
    """Ask for CONDSTORE (RFC 7162) so SELECT reports HIGHESTMODSEQ; False if unsupported."""
    if "CONDSTORE" not in capabilities(client):
        return False
    client.enable("CONDSTORE")
    return True


def select(client: IMAPClient, folder: str, *, readonly: bool = True) -> FolderStatus:
    status = client.select_folder(folder, readonly=readonly)
    modseq = status.get(b"HIGHESTMODSEQ")
    uidnext = status.get(b"UIDNEXT")
    if uidnext is None:  # required by RFC 3501, but cheap to work out if a server omits it
        uidnext = max(client.search(["ALL"]), default=0) + 1
    return FolderStatus(
        uidvalidity=int(status[b"UIDVALIDITY"]),
        exists=int(status.get(b"EXISTS", 0)),
        highest_modseq=int(modseq) if modseq is not None else None,
        uidnext=int(uidnext),
    )


def all_uids(client: IMAPClient) -> set[int]:
    """Every UID in the selected folder."""
    return set(client.search(["ALL"]))


def fetch_flags(
    client: IMAPClient, *, changed_since: int | None = None
) -> dict[int, frozenset[str]]:
    """Flags of every message in the selected folder (or those changed since a MODSEQ)."""
    # imapclient 4 keeps only responses for ids listed one by one, so "1:*" goes through
    # its imaplib connection directly (as fetch_messages does).
    command = (
        "(UID FLAGS)" if changed_since is None else f"(UID FLAGS) (CHANGEDSINCE {changed_since})"
    )
    typ, data = client._imap.uid("FETCH", "1:*", command)
    if typ != "OK":
        raise ProtocolError(f"FETCH FLAGS failed: {data!r}")
    return {
        uid: frozenset(item.get(b"FLAGS", ()))
        for uid, item in imap_response.parse_fetch(data).items()
    }


def add_flags(client: IMAPClient, folder: str, uids: list[int], flags: tuple[str, ...]) -> None:
    """Set `flags` on `uids` of `folder` (which is selected read-write for it)."""
    if uids:
        client.select_folder(folder, readonly=False)
        client.add_flags(uids, list(flags), silent=True)


def capabilities(client: IMAPClient) -> frozenset[str]:
    """Return the post-login capabilities (the pre-login list lacks many, COI among them)."""
    return frozenset(c.decode("ascii", "replace").upper() for c in client.capabilities())


def probe(client: IMAPClient) -> ImapProbe:
    """Read what an account's server can do, where its Sent folder is and, on a COI
    server, its COI configuration."""
    caps = capabilities(client)
    config = coi.read_config(client) if coi.is_coi_server(caps) else None
    folders = client.list_folders()
    return ImapProbe(
        capabilities=caps,
        sent_folder=find_sent_folder(folders),
        coi_chats_folder=find_coi_chats(
            folders, root=config.mailbox_root if config else coi.DEFAULT_ROOT
        ),
        coi=config,
        separator=folder_separator(folders),
    )


def folder_separator(folders: list[tuple]) -> str:
    """The hierarchy separator, as INBOX reports it (RFC 3501 LIST)."""
    for _flags, delimiter, name in folders:
        if name.upper() == "INBOX" and delimiter:
            return delimiter.decode() if isinstance(delimiter, bytes) else delimiter
    return "/"


def ensure_folder(client: IMAPClient, name: str) -> None:
    """Create and subscribe `name` unless it exists already."""
    if client.folder_exists(name):
        return
    try:
        client.create_folder(name)
    except IMAPClientError:
        if not client.folder_exists(name):  # not a race with another client: a real refusal
            raise
    with suppress(IMAPClientError):
        client.subscribe_folder(name)


def move_messages(client: IMAPClient, source: str, uids: list[int], target: str) -> bool:
    """Move `uids` from `source` to `target`: MOVE (RFC 6851), else COPY, \\Deleted and
    UID EXPUNGE (RFC 4315), which touches only these messages. Returns False, moving
    nothing, on a server with neither: a plain EXPUNGE could remove others' \\Deleted mail."""
    if not uids:
        return True
    caps = capabilities(client)
    if "MOVE" not in caps and "UIDPLUS" not in caps:
        return False
    client.select_folder(source, readonly=False)
    if "MOVE" in caps:
        client.move(uids, target)
        return True
    # The copy exists before the original goes: at worst a message is there twice, never lost.
    client.copy(uids, target)
    client.add_flags(uids, ["\\Deleted"], silent=True)
    client.uid_expunge(uids)
    return True


def find_sent_folder(folders: list[tuple]) -> str | None:
    """Return the folder flagged \\Sent (RFC 6154), else a folder with a common Sent name."""
    for flags, _delimiter, name in folders:
        if b"\\Sent" in flags:
            return name
    by_lower = {name.lower(): name for _flags, _delim, name in folders}
    for candidate in ("sent", "sent items", "sent messages", "inbox.sent", "inbox/sent"):
        if candidate in by_lower:
            return by_lower[candidate]
    return None


def find_coi_chats(folders: list[tuple], root: str = coi.DEFAULT_ROOT) -> str | None:
    """Return COI's chat folder (`<root><separator>Chats`) when the mailbox has one."""
    for _flags, delimiter, name in folders:
        sep = delimiter.decode() if isinstance(delimiter, bytes) else (delimiter or "/")
        if name == f"{root}{sep}Chats" or name.endswith(f"{sep}{root}{sep}Chats"):
            return name
    return None


def fetch_new(
    client: IMAPClient, folder: str, *, uidvalidity: int | None, last_uid: int
) -> Iterator[FolderBatch]:
    """Yield batches of the messages above `last_uid`, oldest first, without setting \\Seen.

    When the folder's UIDVALIDITY is not `uidvalidity`, every message counts as new. At
    least one (possibly empty) batch is yielded, so the caller always learns UIDVALIDITY.
    """
    status = client.select_folder(folder, readonly=True)
    current_validity = int(status[b"UIDVALIDITY"])
    if uidvalidity is not None and current_validity != uidvalidity:
        last_uid = 0
    uids = sorted(uid for uid in client.search(["UID", f"{last_uid + 1}:*"]) if uid > last_uid)
    if not uids:
        yield FolderBatch(folder, current_validity, (), last_uid)
        return
    for start in range(0, len(uids), FETCH_BATCH):
        chunk = uids[start : start + FETCH_BATCH]
        yield FolderBatch(folder, current_validity, fetch_messages(client, chunk), chunk[-1])


def fetch_history(
    client: IMAPClient, folder: str, *, below_uid: int, limit: int = FETCH_BATCH
) -> tuple[int, tuple[FetchedMessage, ...], int, int]:
    """Fetch the newest `limit` messages under `below_uid` (history import runs newest first).

    Returns (UIDVALIDITY, messages, lowest UID fetched, how many older ones remain).
    """
    status = client.select_folder(folder, readonly=True)
    validity = int(status[b"UIDVALIDITY"])
    if below_uid <= 1:
        return validity, (), below_uid, 0
    uids = sorted(client.search(["UID", f"1:{below_uid - 1}"]), reverse=True)
    uids = [uid for uid in uids if uid < below_uid]
    chunk = uids[:limit]
    if not chunk:
        return validity, (), 1, 0
    messages = fetch_messages(client, sorted(chunk, reverse=True))
    return validity, messages, chunk[-1], len(uids) - len(chunk)


def fetch_messages(client: IMAPClient, uids: list[int]) -> tuple[FetchedMessage, ...]:
    """Fetch messages (their first EAGER_BYTES) in the order of `uids`, skipping vanished ones."""
    if not uids:
        return ()
    response = _uid_fetch(client, ",".join(str(uid) for uid in uids), _FETCH_COMMAND)
    messages = []
    for uid in uids:
        data = response.get(uid)
        body = _body(data) if data else None
        if body is None:
            continue  # expunged between SEARCH and FETCH
        messages.append(
            FetchedMessage(
                uid=uid,
                flags=frozenset(data.get(b"FLAGS", ())),
                raw=body,
                internal_date=data.get(b"INTERNALDATE"),
                size=data.get(b"RFC822.SIZE", len(body)),
            )
        )
    return tuple(messages)


def _uid_fetch(client: IMAPClient, message_set: str, command: str) -> dict[int, dict]:
    """UID FETCH through imapclient's imaplib connection, parsed by mailcore.imap_response.

    imapclient's own fetch tokenises every byte of the answer in Python; imaplib has cut
    the bodies out already, so parsing what is left is cheap. Like imapclient's fetch this
    takes the FETCH responses imaplib holds (unsolicited ones included) and leaves other
    untagged responses (EXISTS, EXPUNGE) where they are.
    """
    typ, data = client._imap.uid("FETCH", message_set, command)
    if typ != "OK":
        reason = data[0].decode("utf-8", "replace") if isinstance(data[0], bytes) else data[0]
        raise IMAPClientError(f"fetch failed: {reason}")
    return imap_response.parse_fetch(data)


def fetch_whole(client: IMAPClient, folder: str, uid: int) -> bytes | None:
    """The complete raw message (for one that sync fetched only in part)."""
    client.select_folder(folder, readonly=True)
    data = client.fetch([uid], ["BODY.PEEK[]"]).get(uid)
    return data.get(b"BODY[]") if data else None


def _body(data: dict) -> bytes | None:
    # A partial fetch answers as BODY[]<0>; servers may drop the origin when it is whole.
    for key, value in data.items():
        if isinstance(key, bytes) and key.startswith(b"BODY[]"):
            return value
    return None


def idle_wait(client: IMAPClient, timeout: float) -> list:
    """Wait in IDLE for up to `timeout` seconds; return the server's untagged responses.

    Raises ConnectionLost when the server closed the connection: imapclient's idle_check
    swallows end-of-file and returns an empty list at once, so without this a dead
    connection would be polled in a tight loop and never noticed.
    """
    started = time.monotonic()
    responses = client.idle_check(timeout=timeout)
    if not responses and time.monotonic() - started < timeout - 0.5:
        raise ConnectionLost("The mail server closed the connection.", detail="EOF during IDLE")
    return responses


def append(
    client: IMAPClient, folder: str, raw: bytes, *, flags: tuple[str, ...] = ("\\Seen",)
) -> tuple[int, int] | None:
    """APPEND `raw` to `folder`; return (UIDVALIDITY, UID) when the server reports it (UIDPLUS)."""
    response = client.append(folder, raw, flags=flags)
    return _appenduid(response)


def find_by_message_id(client: IMAPClient, folder: str, message_id: str) -> list[int]:
    """Return the UIDs in `folder` whose Message-ID header equals `message_id`."""
    client.select_folder(folder, readonly=True)
    return list(client.search(["HEADER", "Message-ID", message_id]))


def _appenduid(response: bytes | str | None) -> tuple[int, int] | None:
    # RFC 4315: the tagged OK reads "[APPENDUID <uidvalidity> <uid>] Append completed."
    if not response:
        return None
    text = response.decode("ascii", "replace") if isinstance(response, bytes) else response
    if "APPENDUID" not in text:
        return None
    try:
        validity, uid = text.split("APPENDUID", 1)[1].split("]", 1)[0].split()[:2]
        return int(validity), int(uid)
    except ValueError:
        return None


def _server_text(exc: Exception) -> str:
    text = str(exc)
    return text.removeprefix("b'").removesuffix("'") if text.startswith("b'") else text


def _close_quietly(client: IMAPClient | None, *, logout: bool = False) -> None:
    if client is None:
        return
    try:
        if logout:
            client.logout()
        else:
            client.shutdown()
    except Exception:
        with suppress(Exception):
            client.shutdown()
