"""Apply incoming control messages (reactions, read receipts, edits, deletes, bounces)
to the messages they are about, instead of showing them as bubbles."""

from __future__ import annotations

import logging

from accounts.models import MailAccount
from chat import events
from chat.models import Message, Reaction
from mailcore.classify import Kind, classify
from mailcore.edits import parse_delete, parse_edit
from mailcore.parse import ParsedMessage
from mailcore.reactions import parse_reaction
from mailcore.receipts import parse_bounce, parse_receipt

log = logging.getLogger(__name__)

# Kinds consumed without a trace: other devices' sync, webxdc traffic, SecureJoin steps.
IGNORED = {Kind.SYNC, Kind.STATUS_UPDATE, Kind.WEBXDC, Kind.SECUREJOIN}


def consume(account: MailAccount, parsed: ParsedMessage) -> bool:
    """Apply `parsed` if it is a control message; True means it is no bubble of its own."""
    kind = classify(parsed)
    if kind in IGNORED:
        return True
    handler = _HANDLERS.get(kind)
    if handler is None:
        return False
    handler(account, parsed)
    return True


def applies_to_others(kind: Kind) -> bool:
    """Whether a message of this kind changes other messages (and so needs them stored)."""
    return kind in _HANDLERS


def _target(account: MailAccount, message_id: str | None) -> Message | None:
    if not message_id:
        return None
    return (
        Message.objects.filter(account=account, message_id=message_id)
        .select_related("chat")
        .first()
    )


def _reaction(account: MailAccount, parsed: ParsedMessage) -> None:
    reaction = parse_reaction(parsed)
    target = _target(account, reaction.target_message_id) if reaction else None
    if target is None or not reaction.sender:
        return
    # A sender's new reaction replaces their earlier one; an empty one retracts it.
    Reaction.objects.filter(message=target, sender=reaction.sender).delete()
    if not reaction.is_retraction:
        Reaction.objects.create(message=target, sender=reaction.sender, emoji=reaction.emojis[0])
    Message.objects.filter(pk=target.pk).touch()
    events.push_message(target)


def _receipt(account: MailAccount, parsed: ParsedMessage) -> None:
    receipt = parse_receipt(parsed)
    if receipt is None or not receipt.sender or receipt.disposition != "displayed":
        return
    # A receipt counts from anyone the message went to; in a group one reader is enough
    # (as in Delta Chat). One that overtakes our "sent" bookkeeping still counts.
    candidates = Message.objects.filter(
        account=account,
        direction=Message.Direction.OUTGOING,
        message_id__in=receipt.message_ids,
        state__in=[Message.State.SENDING, Message.State.SENT],
    )
    targets = [m for m in candidates if receipt.sender in m.to_addresses]
    Message.objects.filter(pk__in=[m.pk for m in targets]).update(state=Message.State.READ)
    for message in targets:
        message.state = Message.State.READ
        events.push_message(message)


def _edit(account: MailAccount, parsed: ParsedMessage) -> None:
    edit = parse_edit(parsed)
    target = _target(account, edit.target_message_id) if edit else None
    if target is None or target.from_address != edit.sender:
        return  # only the author may edit (coi-protocol 1.9, 3.9)
    Message.objects.filter(pk=target.pk).update(text=edit.text, is_edited=True)
    target.refresh_from_db()
    events.push_message(target)


def _delete(account: MailAccount, parsed: ParsedMessage) -> None:
    delete = parse_delete(parsed)
    if delete is None:
        return
    for message_id in delete.target_message_ids:
        target = _target(account, message_id)
        if target is None or target.from_address != delete.sender:
            continue  # only the author may delete for everyone
        Message.objects.filter(pk=target.pk).update(
            text="", quote_text="", folded_text="", html="", is_deleted=True
        )
        target.refresh_from_db()
        events.push_message(target)


def _bounce(account: MailAccount, parsed: ParsedMessage) -> None:
    bounce = parse_bounce(parsed)
    target = _target(account, bounce.original_message_id) if bounce else None
    if target is None or not target.is_outgoing or not bounce.failed:
        return
    reasons = (
        "; ".join(f"{r.address}: {r.diagnostic or r.status}" for r in bounce.recipients)
        or "the recipient's server returned it"
    )
    Message.objects.filter(pk=target.pk).update(
        state=Message.State.FAILED, send_error=f"Not delivered: {reasons}"[:2000]
    )
    target.refresh_from_db()
    events.push_message(target)


_HANDLERS = {
    Kind.REACTION: _reaction,
    Kind.RECEIPT: _receipt,
    Kind.EDIT: _edit,
    Kind.DELETE: _delete,
    Kind.BOUNCE: _bounce,
}
