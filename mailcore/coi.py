"""COI server mode: the Dovecot COI plugin's configuration, read and written with METADATA.

Follows what a real COI Dovecot answers on the wire (shared/coi-server-observed.md): the
config exists only as server metadata (mailbox ""), values come back as literals, an unset
message-filter reads NIL and means "none", and SETMETADATA of message-filter NIL kills the
server's IMAP process, so this module never sends it.
"""

from __future__ import annotations

from dataclasses import dataclass

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError
from imapclient.response_parser import parse_response

from mailcore.errors import ProtocolError

CONFIG = "/private/vendor/vendor.dovecot/coi/config"
ENABLED = f"{CONFIG}/enabled"
MAILBOX_ROOT = f"{CONFIG}/mailbox-root"
MESSAGE_FILTER = f"{CONFIG}/message-filter"
CONFIG_KEYS = (ENABLED, MAILBOX_ROOT, MESSAGE_FILTER)

FILTER_NONE = "none"
FILTER_ACTIVE = "active"
FILTER_SEEN = "seen"
MESSAGE_FILTERS = (FILTER_NONE, FILTER_ACTIVE, FILTER_SEEN)
DEFAULT_ROOT = "COI"
# The plugin tags every chat it delivers with this keyword, but never our own APPENDs.
CHAT_KEYWORD = "$Chat"


class InvalidFilter(ValueError):
    pass


@dataclass(frozen=True)
class CoiConfig:
    enabled: bool
    mailbox_root: str
    message_filter: str  # one of MESSAGE_FILTERS; an unset filter is "none"

    def chats_folder(self, separator: str = "/") -> str:
        return f"{self.mailbox_root}{separator}Chats"

    @property
    def files_chats_away(self) -> bool:
        """True when the server puts new chats into <root>/Chats without touching INBOX."""
        return self.enabled and self.message_filter == FILTER_ACTIVE


def is_coi_server(capabilities) -> bool:
    """COI is listed only after login; pass the post-login capabilities."""
    return "COI" in {c.upper() for c in capabilities}


def get_metadata(
    client: IMAPClient, mailbox: str, entries: tuple[str, ...]
) -> dict[str, str | None]:
    """GETMETADATA (RFC 5464): entry -> value, None for NIL; literal values are handled."""
    args = [_quote(mailbox), b"(" + b" ".join(e.encode("ascii") for e in entries) + b")"]
    try:
        data = client._raw_command_untagged(
            b"GETMETADATA", args, response_name="METADATA", uid=False
        )
    except IMAPClientError as exc:
        raise ProtocolError(f"The server refused to read its settings: {exc}") from None
    return parse_metadata([d for d in data if d is not None])


def parse_metadata(data: list) -> dict[str, str | None]:
    """Parse the untagged METADATA responses as imaplib hands them over (literals as tuples)."""
    values: dict[str, str | None] = {}
    parsed = parse_response(data)
    # Each response is: mailbox, then a parenthesised list of entry/value pairs.
    for index in range(1, len(parsed), 2):
        pairs = parsed[index]
        if not isinstance(pairs, tuple):
            continue
        for name, value in zip(pairs[0::2], pairs[1::2], strict=False):
            values[_text(name)] = None if value is None else _text(value)
    return values


def set_metadata(client: IMAPClient, mailbox: str, values: dict[str, str | None]) -> None:
    """SETMETADATA; None unsets (NIL). Raises ProtocolError with the server's words on NO."""
    if values.get(MESSAGE_FILTER, FILTER_NONE) is None:
        # Observed: the COI plugin's IMAP process dies on this (strcmp(NULL)), no response.
        raise InvalidFilter("message-filter is never set to NIL; set it to “none”.")
    items = []
    for name, value in values.items():
        items.append(name.encode("ascii"))
        items.append(b"NIL" if value is None else _quote(value))
    args = [_quote(mailbox), b"(" + b" ".join(items) + b")"]
    try:
        typ, data = client._raw_command(b"SETMETADATA", args, uid=False)
    except IMAPClientError as exc:  # a BAD answer
        raise ProtocolError(f"The server refused the setting: {_server_words(exc)}") from None
    if typ != "OK":
        raise ProtocolError(f"The server refused the setting: {_server_words(data)}")


def read_config(client: IMAPClient) -> CoiConfig:
    """The account's COI configuration (server metadata)."""
    values = get_metadata(client, "", CONFIG_KEYS)
    message_filter = values.get(MESSAGE_FILTER) or FILTER_NONE
    return CoiConfig(
        enabled=values.get(ENABLED) == "yes",  # only lower-case "yes" counts
        mailbox_root=values.get(MAILBOX_ROOT) or DEFAULT_ROOT,
        message_filter=message_filter if message_filter in MESSAGE_FILTERS else FILTER_NONE,
    )


def check_filter(message_filter: str) -> str:
    if message_filter not in MESSAGE_FILTERS:
        raise InvalidFilter(
            f"Unknown message filter “{message_filter}”: choose none, active or seen."
        )
    return message_filter


def set_message_filter(client: IMAPClient, message_filter: str) -> None:
    """Set the filter; going back to the default writes "none", never NIL."""
    set_metadata(client, "", {MESSAGE_FILTER: check_filter(message_filter or FILTER_NONE)})


def enable(client: IMAPClient, *, message_filter: str = FILTER_NONE) -> CoiConfig:
    """Switch COI on with `message_filter` (one SETMETADATA, as the plugin accepts) and
    return the configuration the server reports afterwards."""
    set_metadata(client, "", {ENABLED: "yes", MESSAGE_FILTER: check_filter(message_filter)})
    return read_config(client)


def disable(client: IMAPClient) -> CoiConfig:
    """Switch COI off; unlike message-filter, `enabled NIL` is safe. Folders stay."""
    set_metadata(client, "", {ENABLED: None})
    return read_config(client)


def _quote(value: str) -> bytes:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'.encode()


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _server_words(value) -> str:
    if isinstance(value, list) and value:
        value = value[0]
    text = _text(value)
    return text.removeprefix("b'").removesuffix("'")
