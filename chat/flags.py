"""Write what people did in coiweb back to the mail server, so other clients agree."""

from __future__ import annotations

from collections import defaultdict

from accounts.connections import imap_session
from accounts.models import MailAccount
from chat.models import MessageCopy
from mailcore import imap

MDN_SENT = "$MDNSent"


def store_seen(
    account_id: int, message_ids: list[int], *, mdn_sent: list[int] | None = None
) -> None:
    """Set \\Seen on every server copy of the given messages, and $MDNSent (RFC 3503) on
    those whose read receipt we sent, so other clients of the mailbox send none."""
    account = MailAccount.objects.filter(pk=account_id, is_active=True).first()
    if account is None or not message_ids:
        return
    acknowledged = set(mdn_sent or ())
    by_folder: dict[str, dict[tuple[str, ...], list[int]]] = defaultdict(lambda: defaultdict(list))
    for message_id, folder, uid in MessageCopy.objects.filter(
        account=account, message_id__in=message_ids
    ).values_list("message_id", "folder", "uid"):
        flags = ("\\Seen", MDN_SENT) if message_id in acknowledged else ("\\Seen",)
        by_folder[folder][flags].append(uid)
    if not by_folder:
        return
    with imap_session(account) as client:
        for folder, groups in by_folder.items():
            for flags, uids in groups.items():
                imap.add_flags(client, folder, sorted(uids), flags)
