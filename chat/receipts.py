"""Read receipts we send (RFC 8098 MDNs): one per message, once its reader has seen it."""

from __future__ import annotations

from chat import delivery, requests
from chat.models import Chat, Message

# Delta Chat acknowledges several messages in one MDN (Additional-Message-IDs); keep each
# receipt's header short enough for any server.
MAX_IDS_PER_RECEIPT = 20


def may_send_receipt(message: Message) -> bool:
    """Whether a read receipt for `message` may go out now that its reader has seen it."""
    return (
        message.direction == Message.Direction.INCOMING
        and not message.is_control
        and bool(message.receipt_to)
        and not message.receipt_sent
        and message.receipt_to != message.account.email
        and message.account.user.send_read_receipts
    )


def send_receipts(*, chat: Chat, message_ids: list[int]) -> list[int]:
    """Queue read receipts for the just-read messages that may have one, one MDN per
    requesting sender; return the ids of the messages acknowledged.

    Call inside the transaction that marks them read: the rows are locked, so a second
    tab or a concurrent sync cannot acknowledge a message again.
    """
    if requests.withholds_reads(chat):
        return []  # never for a contact request or a blocked sender
    candidates = (
        Message.objects.select_for_update(of=("self",))
        .filter(chat=chat, pk__in=message_ids, receipt_sent=False)
        .exclude(receipt_to="")
        .select_related("account__user")
        .order_by("sort_at", "pk")
    )
    allowed = [message for message in candidates if may_send_receipt(message)]
    if not allowed:
        return []
    Message.objects.filter(pk__in=[m.pk for m in allowed]).update(receipt_sent=True)
    by_address: dict[str, list[Message]] = {}
    for message in allowed:
        by_address.setdefault(message.receipt_to, []).append(message)
    user = chat.account.user
    for address, messages in by_address.items():
        newest_first = [m.message_id for m in reversed(messages)]
        for start in range(0, len(newest_first), MAX_IDS_PER_RECEIPT):
            delivery.send_receipt(
                user=user,
                chat=chat,
                to=address,
                message_ids=tuple(newest_first[start : start + MAX_IDS_PER_RECEIPT]),
            )
    return [message.pk for message in allowed]
