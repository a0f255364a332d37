"""Contact requests and blocking, as Delta Chat has them.

A chat started by someone we never wrote to, and whose chat we never accepted, is a
request: it waits in the requests list, and its mail stays unread on the server (no
\\Seen, no read receipt) until it is accepted, which replying does too. A blocked
address's mail is stored but hidden: no chat row, no push, no unread count.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Max

from accounts.models import MailAccount
from chat import events
from chat.models import BlockedAddress, Chat, KnownAddress, Message
from mailcore.addresses import normalize_address


def withholds_reads(chat: Chat) -> bool:
    """Whether reading this chat must stay private: no \\Seen on the server and no read
    receipt (a contact request, or a one-to-one chat with a blocked address)."""
    if chat.is_request:
        return True
    return not chat.is_group and is_blocked(chat.account_id, chat.peer_address)


def is_known(account: MailAccount, address: str) -> bool:
    return KnownAddress.objects.filter(account=account, address=address).exists()


def is_blocked(account_id: int, address: str) -> bool:
    return BlockedAddress.objects.filter(account_id=account_id, address=address).exists()


def remember_known(account: MailAccount, addresses: Iterable[str]) -> None:
    """We wrote to these addresses: their mail is no contact request from now on."""
    rows = [KnownAddress(account=account, address=a[:254]) for a in dict.fromkeys(addresses) if a]
    KnownAddress.objects.bulk_create(rows, ignore_conflicts=True)


def accept_chat(*, chat: Chat) -> bool:
    """Move a request into the chat list; its peer (one-to-one) is known from now on."""
    if not Chat.objects.filter(pk=chat.pk, is_request=True).update(is_request=False):
        return False
    chat.is_request = False
    if not chat.is_group:
        remember_known(chat.account, [chat.peer_address])
    events.push_chat(chat)
    return True


def block_chat(*, chat: Chat) -> BlockedAddress | None:
    """Block the chat's peer, or the one who started a group request; their mail hides."""
    address = chat.peer_address if not chat.is_group else chat.requested_by
    if not address:
        return None
    block = block_address(account=chat.account, address=address)
    events.push_chat(chat)
    return block


def block_address(*, account: MailAccount, address: str) -> BlockedAddress:
    address = normalize_address(address)
    block, _ = BlockedAddress.objects.get_or_create(account=account, address=address)
    _push_chats_of(account, address)
    return block


def unblock(*, block: BlockedAddress) -> None:
    """Show the address's mail again, in the chats it is in."""
    account, address = block.account, block.address
    with transaction.atomic():
        block.delete()
        for chat in Chat.objects.filter(pk__in=_chats_with_mail_from(account, address)):
            _refresh_activity(chat)
        _push_chats_of(account, address)


def delete_chat(*, chat: Chat) -> None:
    """Delete a chat and its messages here (the mail stays on the server)."""
    user_id, chat_pk = chat.account.user_id, chat.pk
    chat.delete()
    events.push_chat_removal(user_id, chat_pk)


def _chats_with_mail_from(account: MailAccount, address: str):
    return Message.objects.filter(account=account, from_address=address).values("chat_id")


def _push_chats_of(account: MailAccount, address: str) -> None:
    chats = Chat.objects.filter(account=account, peer_address=address) | Chat.objects.filter(
        pk__in=_chats_with_mail_from(account, address)
    )
    for chat in chats.distinct():
        events.push_chat(chat)


def _refresh_activity(chat: Chat) -> None:
    """Point a chat at its newest message again (a blocked sender's mail does not move it)."""
    latest = chat.messages.filter(is_control=False).order_by("-sort_at", "-pk").first()
    if latest is None:
        return
    newest = chat.messages.aggregate(at=Max("sort_at"))["at"]
    Chat.objects.filter(pk=chat.pk).update(last_message=latest, last_activity_at=newest)
