"""Write what people did in coiweb back to the mail server, so other clients agree."""

from __future__ import annotations

from collections import defaultdict

from accounts.connections import imap_session
from accounts.models import MailAccount
from chat.models import MessageCopy
from mailcore import imap


def store_seen(account_id: int, message_ids: list[int]) -> None:
    """Set \\Seen on every server copy of the given messages."""
    account = MailAccount.objects.filter(pk=account_id, is_active=True).first()
    if account is None or not message_ids:
        return
    by_folder: dict[str, list[int]] = defaultdict(list)
    for folder, uid in MessageCopy.objects.filter(
        account=account, message_id__in=message_ids
    ).values_list("folder", "uid"):
        by_folder[folder].append(uid)
    if not by_folder:
        return
    with imap_session(account) as client:
        for folder, uids in by_folder.items():
            imap.add_flags(client, folder, sorted(uids), ("\\Seen",))
