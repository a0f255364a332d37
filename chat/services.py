"""Writes a person makes in the chat UI, and starting a mailbox's watch."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.connections import imap_session
from accounts.models import MailAccount, User
from chat import chats, delivery, events, receipts, requests
from chat.models import Chat, ChatMember, Message
from chat.watching import notify_watchers
from mailcore import imap
from mailcore.addresses import normalize_address
from mailcore.groups import new_group_id
from mailcore.images import avatar_header_value
from mailcore.parse import parse_message


def start_watching(account: MailAccount) -> None:
    """After commit, tell the watchers about the mailbox and sync it once right away."""
    from chat import tasks

    account_pk = account.pk

    def start() -> None:
        notify_watchers(account_pk)
        tasks.queue_sync(account_pk)

    transaction.on_commit(start)


def start_chat(*, user: User, account: MailAccount, address: str) -> Chat:
    """Return the chat of `account` with `address`, creating it if needed."""
    if account.user_id != user.pk:
        raise PermissionError("not your mailbox")
    chat, _ = Chat.objects.get_or_create(
        account=account,
        kind=Chat.Kind.SINGLE,
        peer_address=normalize_address(address),
        defaults={"last_activity_at": timezone.now()},
    )
    return chat


def create_group(*, user: User, account: MailAccount, name: str, addresses: list[str]) -> Chat:
    """Create a group; its members learn of it with the first message (as in Delta Chat)."""
    if account.user_id != user.pk:
        raise PermissionError("not your mailbox")
    members = [a for a in dict.fromkeys(map(normalize_address, addresses)) if a != account.email]
    now = _unix_now()
    with transaction.atomic():
        chat = Chat.objects.create(
            account=account,
            kind=Chat.Kind.GROUP,
            group_id=new_group_id(),
            name=" ".join(name.split())[:200],
            last_activity_at=timezone.now(),
        )
        ChatMember.objects.bulk_create(
            [ChatMember(chat=chat, address=a, changed_at=now) for a in members]
        )
    return chat


def rename_group(*, user: User, chat: Chat, name: str) -> Message | None:
    name = " ".join(name.split())[:200]
    old = chat.name
    if not name or name == old:
        return None
    Chat.objects.filter(pk=chat.pk).update(name=name)
    chat.name = name
    events.push_chat(chat)
    return delivery.send_group_change(
        user=user,
        chat=chat,
        line=f"Group name changed from “{old}” to “{name}”.",
        name_changed_from=old,
    )


def add_group_member(*, user: User, chat: Chat, address: str) -> Message | None:
    address = normalize_address(address)
    if address == chat.account.email or chat.current_members.filter(address=address).exists():
        return None
    chats.set_membership(chat, address, is_member=True, at=_unix_now())
    return delivery.send_group_change(
        user=user, chat=chat, line=f"Member {address} added.", member_added=address
    )


def remove_group_member(*, user: User, chat: Chat, address: str) -> Message | None:
    """Remove a member, or with our own address leave the group; the one removed is told."""
    address = normalize_address(address)
    if address == chat.account.email:
        return leave_group(user=user, chat=chat)
    if not chat.current_members.filter(address=address).exists():
        return None
    chats.set_membership(chat, address, is_member=False, at=_unix_now())
    return delivery.send_group_change(
        user=user,
        chat=chat,
        line=f"Member {address} removed.",
        also_to=(address,),
        member_removed=address,
    )


def leave_group(*, user: User, chat: Chat) -> Message | None:
    """Leave as Delta Chat does: tell the members we removed ourselves; the chat stays,
    without a composer, until someone adds us again."""
    if chat.we_left:
        return None
    message = delivery.send_group_change(
        user=user, chat=chat, line="You left the group.", member_removed=chat.account.email
    )
    Chat.objects.filter(pk=chat.pk).update(we_left=True)
    chat.we_left = True
    events.push_chat(chat)
    return message


def set_group_avatar(*, user: User, chat: Chat, image: bytes | None) -> Message:
    """Set (or with None remove) the group image and send it to the members as Delta Chat
    does: ``Chat-Group-Avatar: base64:…`` (or ``0``) on a group-avatar-changed message."""
    chats.set_avatar(chat, image)
    events.push_chat(chat)
    return delivery.send_group_change(
        user=user,
        chat=chat,
        line="You changed the group image." if image else "You removed the group image.",
        avatar=avatar_header_value(image),
    )


def set_chat_flag(*, chat: Chat, flag: str, on: bool) -> None:
    """Mute, archive or pin a chat (or undo it)."""
    if flag not in ("muted", "archived", "pinned"):
        raise ValueError(f"not a chat flag: {flag!r}")
    Chat.objects.filter(pk=chat.pk).update(**{flag: on})
    setattr(chat, flag, on)
    events.push_chat(chat)


def _unix_now() -> int:
    return int(timezone.now().timestamp())


def mark_chat_read(*, chat: Chat) -> int:
    """Mark every incoming message of the chat as seen, here and on the server, and send
    the read receipts their senders asked for (chat.receipts.may_send_receipt decides)."""
    from chat import tasks

    unread = Message.objects.filter(chat=chat, direction=Message.Direction.INCOMING, seen=False)
    if not unread.exists():
        return 0  # opening a chat already read: no lock, no transaction
    if requests.withholds_reads(chat):
        return 0  # a contact request is read on the server only once accepted
    with transaction.atomic():
        ids = list(
            Message.objects.select_for_update()
            .filter(chat=chat, direction=Message.Direction.INCOMING, seen=False)
            .values_list("pk", flat=True)
        )
        if ids:
            Message.objects.filter(pk__in=ids).update(seen=True)
            acknowledged = receipts.send_receipts(chat=chat, message_ids=ids)
            events.push_chat(chat)
            account_id = chat.account_id
            transaction.on_commit(
                lambda: tasks.store_seen.delay(account_id, ids, mdn_sent=acknowledged)
            )
    return len(ids)


def complete_message(*, message: Message) -> Message:
    """Fetch the whole of a message that sync fetched only in part, and read it again."""
    if not message.is_partial:
        return message
    copy = message.copies.first()
    if copy is None:
        return message
    with imap_session(message.account) as client:
        raw = imap.fetch_whole(client, copy.folder, copy.uid)
    if raw is None:
        return message
    parsed = parse_message(raw)
    Message.objects.filter(pk=message.pk).update(
        text=parsed.text,
        folded_text=parsed.folded_text,
        html=parsed.html or "",
        problem=(parsed.problem or "")[:300],
        is_partial=False,
    )
    message.refresh_from_db()
    return message
