"""Compose our chat messages and deliver them over SMTP, once, with a copy in Sent."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.connections import imap_session, smtp_session
from accounts.models import MailAccount, User
from chat import events
from chat.exclusive import Outcome, run_exclusively
from chat.models import Attachment, Chat, Message, MessageCopy
from chat.requests import accept_chat, remember_known
from chat.sync import touch_chat
from mailcore import coi, imap, smtp
from mailcore.addresses import Address, domain_of
from mailcore.attachments import (
    OutgoingFile,
    build_message_with_attachments,
    build_voice_message,
)
from mailcore.compose import OutgoingMessage, build_message, default_subject, with_quote
from mailcore.errors import MailError
from mailcore.groups import (
    group_headers,
    group_message_id,
    group_subject,
    is_valid_group_id,
    membership_headers,
)
from mailcore.message_ids import build_references, new_message_id
from mailcore.receipts import RECEIPT_SUBJECT, build_receipt, receipt_request_header

log = logging.getLogger(__name__)


class TryAgainLater(Exception):
    """Sending failed for a reason that may pass; the task retries with backoff."""


class NothingToSend(ValueError):
    """The message would have no recipient (a group whose other members all left)."""


def send_message(
    *,
    user: User,
    chat: Chat,
    text: str,
    reply_to: Message | None = None,
    files: tuple[OutgoingFile, ...] = (),
    voice: Voice | None = None,
) -> Message:
    """Store an outgoing chat message with our own Message-ID, then queue its delivery.
    A reply quotes the message it answers, as Delta Chat does ("> " lines, then the text).
    Writing in a contact request accepts it. With `voice`, its one audio file goes as a
    voice message."""
    if chat.is_group and chat.we_left:
        raise NothingToSend("you are no longer a member of this group")
    quote = (reply_to.text if reply_to and not reply_to.is_deleted else "") or ""
    return _queue_outgoing(
        user=user,
        chat=chat,
        text=text,
        wire_text=with_quote(text, quote),
        parent=reply_to,
        quote_text=quote,
        files=files,
        voice=voice,
    )


@dataclass(frozen=True)
class Voice:
    """Send the message's one audio file as a voice message (DC's Chat-Voice-Message)."""

    duration_ms: int | None = None


def send_group_change(
    *, user: User, chat: Chat, line: str, also_to: tuple[str, ...] = (), **change: str
) -> Message:
    """Tell a group's members (and `also_to`, e.g. who was just removed) about a rename or
    member change: DC's headers (mailcore.groups.group_headers) with `line` as the text."""
    return _queue_outgoing(user=user, chat=chat, text=line, change=change, also_to=also_to)


# Builds a control message's bytes from how it is addressed.
ControlBuilder = Callable[["Addressing"], bytes]


def send_control(*, user: User, chat: Chat, build: ControlBuilder) -> Message:
    """Queue a control message (a reaction, an edit, a delete, a read receipt) to the chat.

    It is stored like any outgoing message, so the outbox sends it once, in order, with
    retries; `is_control` keeps it out of the conversation.
    """
    addressing = _address(user, chat, parent=None)
    return _store_and_queue(
        chat,
        addressing,
        raw=build(addressing),
        text="",
        is_control=True,
        push=False,
    )


def send_receipt(*, user: User, chat: Chat, to: str, message_ids: tuple[str, ...]) -> Message:
    """Queue a read receipt to `to` (only the sender who asked, also in a group) for the
    given messages of the chat, newest first."""
    account = chat.account
    addressing = Addressing(
        from_=Address(account.display_name or user.display_name or "", account.email),
        to=(Address("", to),),
        envelope=[to],
        message_id=new_message_id(domain_of(account.email)),
        date=timezone.now(),
        subject=RECEIPT_SUBJECT,
        in_reply_to=None,
        references=(),
        group_headers=(),
    )
    raw = build_receipt(
        addressing.from_,
        addressing.to[0],
        message_ids[0],
        additional=message_ids[1:],
        message_id=addressing.message_id,
        date=addressing.date,
    )
    return _store_and_queue(chat, addressing, raw=raw, text="", is_control=True, push=False)


@dataclass(frozen=True)
class Addressing:
    from_: Address
    to: tuple[Address, ...]
    envelope: list[str]
    message_id: str
    date: datetime
    subject: str
    in_reply_to: str | None
    references: tuple[str, ...]
    # Group headers (Chat-Group-ID, -Name, membership); empty for one-to-one chats.
    group_headers: tuple[tuple[str, str], ...]


def _address(
    user: User,
    chat: Chat,
    *,
    parent: Message | None,
    change: dict | None = None,
    also_to: tuple[str, ...] = (),
) -> Addressing:
    account = chat.account
    sender_name = account.display_name or user.display_name or ""
    domain = domain_of(account.email)
    if chat.is_group:
        members = list(chat.members.all())
        current = [(m.address, m.changed_at) for m in members if m.is_member]
        past = [(m.address, m.changed_at) for m in members if not m.is_member]
        if (change or {}).get("member_removed") == account.email:
            # Leaving: DC lists the leaver among the past members, stamped now; its CRDT
            # goes by these timestamps, not by the Member-Removed header.
            past.append((account.email, int(timezone.now().timestamp())))
        to_addresses = [address for address, _ in current]
        # Ad-hoc groups (plain mail) have no id on the wire; DC sends those without one too.
        group_id = chat.group_id if is_valid_group_id(chat.group_id) else None
        message_id = group_message_id(domain, group_id) if group_id else new_message_id(domain)
        subject = group_subject(chat.name or "Group", replying=parent is not None)
        extra = group_headers(
            group_id=group_id, name=chat.name or "Group", **(change or {})
        ) + membership_headers(current, past)
    else:
        to_addresses = [chat.peer_address]
        message_id = new_message_id(domain)
        subject = default_subject(
            sender_name=sender_name or account.email,
            last_subject=parent.subject if parent else None,
        )
        extra = ()
    envelope = list(dict.fromkeys([*to_addresses, *also_to]))
    if not envelope:
        raise NothingToSend("nobody else is in this group")
    return Addressing(
        from_=Address(sender_name, account.email),
        to=tuple(Address("" if chat.is_group else chat.name, a) for a in to_addresses),
        envelope=envelope,
        message_id=message_id,
        date=timezone.now(),
        subject=subject,
        in_reply_to=parent.message_id if parent else None,
        references=build_references(tuple(parent.references), parent.message_id) if parent else (),
        group_headers=extra,
    )


def _queue_outgoing(
    *,
    user: User,
    chat: Chat,
    text: str,
    wire_text: str | None = None,
    quote_text: str = "",
    parent: Message | None = None,
    change: dict | None = None,
    also_to: tuple[str, ...] = (),
    files: tuple[OutgoingFile, ...] = (),
    voice: Voice | None = None,
) -> Message:
    if parent is None:
        parent = chat.messages.filter(is_control=False).order_by("-sort_at", "-pk").first()
    addressing = _address(user, chat, parent=parent, change=change, also_to=also_to)
    extra = addressing.group_headers
    if change is None and user.send_read_receipts:
        # As Delta Chat with mdns_enabled: ask for receipts for messages, not group changes.
        extra += (receipt_request_header(chat.account.email),)
    outgoing = OutgoingMessage(
        from_=addressing.from_,
        to=addressing.to,
        message_id=addressing.message_id,
        date=addressing.date,
        subject=addressing.subject,
        text=wire_text if wire_text is not None else text,
        in_reply_to=addressing.in_reply_to,
        references=addressing.references,
        extra_headers=extra,
    )
    if voice is not None:
        if len(files) != 1 or not files[0].content_type.lower().startswith("audio/"):
            raise ValueError("a voice message is exactly one audio file")
        raw = build_voice_message(outgoing, files[0], duration_ms=voice.duration_ms)
    elif files:
        raw = build_message_with_attachments(outgoing, files)
    else:
        raw = build_message(outgoing)
    return _store_and_queue(
        chat,
        addressing,
        raw=raw,
        text=text,
        quote_text=quote_text,
        is_system=change is not None,
        files=files,
        voice=voice,
    )


def _store_and_queue(
    chat: Chat,
    addressing: Addressing,
    *,
    raw: bytes,
    text: str,
    quote_text: str = "",
    is_system: bool = False,
    is_control: bool = False,
    push: bool = True,
    files: tuple[OutgoingFile, ...] = (),
    voice: Voice | None = None,
) -> Message:
    with transaction.atomic():
        message = Message.objects.create(
            account=chat.account,
            chat=chat,
            direction=Message.Direction.OUTGOING,
            state=Message.State.QUEUED,
            message_id=addressing.message_id,
            from_address=addressing.from_.addr,
            from_name=addressing.from_.name,
            to_addresses=addressing.envelope,
            subject=addressing.subject,
            text=text,
            quote_text=quote_text,
            is_chat=True,
            is_system=is_system,
            is_control=is_control,
            in_reply_to=addressing.in_reply_to or "",
            references=list(addressing.references),
            sent_at=addressing.date,
            sort_at=addressing.date,
            seen=True,
            raw_outgoing=raw,
        )
        Attachment.objects.bulk_create(
            Attachment(
                message=message,
                index=index,
                filename=file.filename[:255],
                content_type=file.content_type[:127],
                size=len(file.data),
                data=file.data,
                is_voice=voice is not None,
                duration_ms=voice.duration_ms if voice else None,
            )
            for index, file in enumerate(files)
        )
        if not is_control:
            touch_chat(chat, message)
            remember_known(chat.account, addressing.envelope)
            if chat.is_request:
                accept_chat(chat=chat)
        _queue_delivery(message)
        if push:
            events.push_message(message)
    return message


def retry_message(*, message: Message) -> bool:
    """Queue a failed message again; return False when it was not in a failed state."""
    with transaction.atomic():
        claimed = Message.objects.filter(pk=message.pk, state=Message.State.FAILED).update(
            state=Message.State.QUEUED, send_error="", send_attempts=0
        )
        if claimed:
            message.refresh_from_db()
            _queue_delivery(message)
            events.push_message(message)
    return bool(claimed)


def deliver_outbox(account_id: int) -> Outcome:
    """Send the mailbox's queued messages oldest first; one sender per mailbox at a time."""
    account = MailAccount.objects.filter(pk=account_id).first()
    if account is None:
        return Outcome.RAN
    return run_exclusively(f"outbox:{account_id}", lambda: _drain_outbox(account))


def _drain_outbox(account: MailAccount) -> None:
    while True:
        message = (
            Message.objects.filter(
                account=account, state__in=[Message.State.QUEUED, Message.State.SENDING]
            )
            .order_by("created_at", "pk")
            .first()
        )
        if message is None:
            return
        _deliver(account, message)


def _deliver(account: MailAccount, message: Message) -> None:
    # A message still "sending" while we hold the outbox lock was claimed by a worker that
    # died mid-send. If the server took it, its copy may already be in Sent (ours, or one
    # the server saved itself), and then it must not go out again.
    if message.state == Message.State.SENDING and _already_in_sent(account, message):
        _mark_sent(message, note="")
        return
    claimed = Message.objects.filter(pk=message.pk, state=message.state).update(
        state=Message.State.SENDING, send_attempts=F("send_attempts") + 1, claimed_at=timezone.now()
    )
    if not claimed:
        return
    message.refresh_from_db()
    events.push_message(message)
    try:
        with smtp_session(account) as connection:
            note = smtp.send(
                connection,
                envelope_from=account.email,
                recipients=list(message.to_addresses),
                raw=bytes(message.raw_outgoing),
            )
    except MailError as exc:
        _record_send_failure(message, exc)
        return
    _mark_sent(message, note=note)
    _save_sent_copy(account, message)


def _mark_sent(message: Message, *, note: str) -> None:
    Message.objects.filter(pk=message.pk, state=Message.State.SENDING).update(
        state=Message.State.SENT, send_error=note
    )
    message.refresh_from_db()
    events.push_message(message)


def _already_in_sent(account: MailAccount, message: Message) -> bool:
    if not account.sent_folder:
        return False
    with imap_session(account) as client:
        return bool(imap.find_by_message_id(client, account.sent_folder, message.message_id))


def _record_send_failure(message: Message, exc: MailError) -> None:
    """A passing problem stops the outbox (later messages wait, keeping their order) and
    retries later; a permanent one fails this message visibly and the rest go on."""
    age = (timezone.now() - message.created_at).total_seconds()
    will_retry = exc.transient and age < settings.COIWEB_SEND_GIVE_UP_SECONDS
    if will_retry:
        Message.objects.filter(pk=message.pk, state=Message.State.SENDING).update(
            state=Message.State.QUEUED, send_error=f"{exc.user_message} Trying again…"
        )
    else:
        Message.objects.filter(pk=message.pk, state=Message.State.SENDING).update(
            state=Message.State.FAILED, send_error=exc.user_message
        )
    message.refresh_from_db()
    events.push_message(message)
    log.warning(
        "message %s not sent (attempt %s): %s", message.pk, message.send_attempts, exc.user_message
    )
    if will_retry:
        raise TryAgainLater(exc.user_message)


def _save_sent_copy(account: MailAccount, message: Message) -> None:
    """APPEND our message to Sent so other clients see it; the sync merges it by Message-ID."""
    if not account.sent_folder:
        return
    try:
        with imap_session(account) as client:
            # A COI server tags the chats it delivers with $Chat, but never our APPENDs.
            flags = ("\\Seen", coi.CHAT_KEYWORD) if account.coi_enabled else ("\\Seen",)
            appended = imap.append(
                client, account.sent_folder, bytes(message.raw_outgoing), flags=flags
            )
        if appended is not None:
            uidvalidity, uid = appended
            MessageCopy.objects.get_or_create(
                account=account,
                folder=account.sent_folder,
                uidvalidity=uidvalidity,
                uid=uid,
                defaults={"message": message},
            )
    except MailError as exc:
        log.warning(
            "message %s sent, but no copy saved in %s: %s",
            message.pk,
            account.sent_folder,
            exc.user_message,
        )


def _queue_delivery(message: Message) -> None:
    from chat import tasks

    account_id = message.account_id
    transaction.on_commit(lambda: tasks.deliver_outbox.delay(account_id))
