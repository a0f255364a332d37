"""Tell the chat layer what an incoming message is for: a bubble, or something to apply."""

from __future__ import annotations

from enum import StrEnum

from mailcore.parse import ParsedMessage

__all__ = ["Kind", "classify", "is_bounce"]


class Kind(StrEnum):
    MESSAGE = "message"  # show as a bubble
    REACTION = "reaction"  # RFC 9078, applied to its target
    RECEIPT = "receipt"  # RFC 8098 MDN: mark targets read
    EDIT = "edit"  # DC Chat-Edit or COI editrequest
    DELETE = "delete"  # DC Chat-Delete, COI deleterequest or an empty COI editrequest
    GROUP_CHANGE = "group_change"  # member added/removed, rename, avatar; may carry text
    SYNC = "sync"  # DC multi-device sync, sent to self only
    STATUS_UPDATE = "status-update"  # webxdc state update
    WEBXDC = "webxdc"  # webxdc realtime-channel advertisement (Iroh-Node-Addr)
    SECUREJOIN = "securejoin"  # SecureJoin handshake step
    BOUNCE = "bounce"  # RFC 3464 DSN or a mailer-daemon's non-standard one


# Report types (RFC 6522 report-type) and what they are.
_REPORT_KINDS = {
    "disposition-notification": Kind.RECEIPT,
    "delivery-status": Kind.BOUNCE,
    "global-delivery-status": Kind.BOUNCE,
    "multi-device-sync": Kind.SYNC,
    "status-update": Kind.STATUS_UPDATE,
}
_GROUP_CHANGE_HEADERS = (
    "Chat-Group-Member-Added",
    "Chat-Group-Member-Removed",
    "Chat-Group-Name-Changed",
    "Chat-Group-Avatar",
)
# DC's avatar change and COI's leave message (coi-protocol 1.7, 3.3).
_GROUP_CHANGE_CONTENTS = {"group-avatar-changed", "groupleft"}
# DC's mimeparser looks for these in From when a bounce is not a proper DSN (GMX, Yahoo).
_DAEMON_MARKERS = ("mailer-daemon", "mail-daemon")


def classify(parsed: ParsedMessage) -> Kind:
    """Return what ``parsed`` is; anything that is not a control message is a MESSAGE."""
    if kind := _REPORT_KINDS.get(parsed.report_type):
        return kind
    if is_bounce(parsed):
        return Kind.BOUNCE
    if parsed.chat_header("Secure-Join"):
        return Kind.SECUREJOIN
    if parsed.chat_header("Iroh-Node-Addr"):
        return Kind.WEBXDC
    if _is_delete(parsed):
        return Kind.DELETE
    if parsed.chat_header("Chat-Edit") or parsed.chat_content == "editrequest":
        return Kind.EDIT
    if parsed.is_reaction and parsed.in_reply_to:
        return Kind.REACTION
    if parsed.chat_content in _GROUP_CHANGE_CONTENTS or any(
        parsed.chat_header(name) for name in _GROUP_CHANGE_HEADERS
    ):
        return Kind.GROUP_CHANGE
    return Kind.MESSAGE


def is_bounce(parsed: ParsedMessage) -> bool:
    """Return whether ``parsed`` reports a delivery problem (a DSN, or a daemon's plain bounce)."""
    if _REPORT_KINDS.get(parsed.report_type) is Kind.BOUNCE:
        return True
    if parsed.chat_version is not None or parsed.from_ is None:
        return False
    sender = f"{parsed.from_.name} {parsed.from_.addr}".lower()
    return any(marker in sender for marker in _DAEMON_MARKERS)


def _is_delete(parsed: ParsedMessage) -> bool:
    if parsed.chat_header("Chat-Delete") or parsed.chat_content == "deleterequest":
        return True
    # COI 1.9: "An empty edit means deleted."
    return (
        parsed.chat_content == "editrequest"
        and not parsed.chat_header("Chat-Edit")
        and not parsed.text.strip()
        and not parsed.attachments
    )
