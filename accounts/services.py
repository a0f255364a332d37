"""Writes for people, invitations and mailboxes."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts import crypto
from accounts.connections import imap_session, ssl_context
from accounts.models import Invitation, MailAccount, User
from mailcore import coi, imap, smtp
from mailcore.addresses import normalize_address
from mailcore.endpoints import Credentials, Endpoint
from mailcore.errors import MailError
from mailcore.images import image_type


class InvitationUnusable(Exception):
    pass


class MailboxAlreadyLinked(Exception):
    pass


@dataclass(frozen=True)
class MailboxSettings:
    email: str
    password: str
    login: str
    display_name: str
    imap: Endpoint
    smtp: Endpoint

    def __repr__(self) -> str:
        return f"MailboxSettings({self.email!r}, imap={self.imap}, smtp={self.smtp})"


def create_first_admin(*, username: str, password: str) -> User:
    """Create the instance's first person as its administrator."""
    with transaction.atomic():
        if User.objects.exists():
            raise PermissionError("This instance already has an administrator.")
        return User.objects.create_superuser(username=username, password=password)


def create_invitation(*, by: User, note: str = "") -> Invitation:
    return Invitation.objects.create(created_by=by, note=note)


def accept_invitation(*, token: str, username: str, password: str, display_name: str = "") -> User:
    """Create a person from a usable invitation, using it up."""
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().filter(token=token).first()
        if invitation is None or not invitation.is_usable:
            raise InvitationUnusable("This invitation link is no longer valid.")
        user = User.objects.create_user(
            username=username, password=password, display_name=display_name
        )
        invitation.used_by = user
        invitation.used_at = timezone.now()
        invitation.save(update_fields=["used_by", "used_at"])
        return user


def check_mailbox(mailbox: MailboxSettings) -> imap.ImapProbe:
    """Log in to both servers; raise MailError with a clear message when either fails."""
    credentials = Credentials(mailbox.login, mailbox.password)
    timeout = settings.COIWEB_MAIL_TIMEOUT
    with imap.session(
        mailbox.imap, credentials, ssl_context=ssl_context(), timeout=timeout
    ) as client:
        found = imap.probe(client)
    smtp.probe(mailbox.smtp, credentials, ssl_context=ssl_context(), timeout=timeout)
    return found


def link_mailbox(*, user: User, mailbox: MailboxSettings) -> MailAccount:
    """Check the settings against the real servers, then store the mailbox; nothing half-saved."""
    email = normalize_address(mailbox.email)
    if user.mail_accounts.filter(email=email).exists():
        raise MailboxAlreadyLinked(f"{email} is already linked to your account.")
    found = check_mailbox(mailbox)
    from chat import services as chat_services

    with transaction.atomic():
        account = MailAccount.objects.create(
            user=user,
            email=email,
            display_name=mailbox.display_name,
            login=mailbox.login,
            password_encrypted=crypto.encrypt(mailbox.password),
            imap_host=mailbox.imap.host,
            imap_port=mailbox.imap.port,
            imap_security=mailbox.imap.security,
            smtp_host=mailbox.smtp.host,
            smtp_port=mailbox.smtp.port,
            smtp_security=mailbox.smtp.security,
            capabilities=sorted(found.capabilities),
            sent_folder=found.sent_folder or "",
            coi_chats_folder=found.coi_chats_folder or "",
            **_coi_fields(found),
            mode=MailAccount.Mode.IDLE
            if "IDLE" in found.capabilities
            else MailAccount.Mode.POLLING,
        )
        chat_services.start_watching(account)
    return account


def update_mailbox_password(*, account: MailAccount, password: str) -> None:
    """Check a new password against the servers and store it encrypted."""
    check_mailbox(
        MailboxSettings(
            email=account.email,
            password=password,
            login=account.login,
            display_name=account.display_name,
            imap=account.imap_endpoint,
            smtp=account.smtp_endpoint,
        )
    )
    account.password_encrypted = crypto.encrypt(password)
    account.last_error = ""
    account.is_active = True
    account.save(update_fields=["password_encrypted", "last_error", "is_active"])
    from chat import services as chat_services

    chat_services.start_watching(account)


def _coi_fields(found: imap.ImapProbe) -> dict:
    config = found.coi
    return {
        "coi_enabled": bool(config and config.enabled),
        "coi_message_filter": config.message_filter if config else "",
        "coi_mailbox_root": config.mailbox_root if config else "",
    }


def record_server_state(*, account: MailAccount, found: imap.ImapProbe) -> bool:
    """Store the server's COI state (COI listed or not, its config); True if anything changed."""
    # Only COI's presence is taken over: the rest of the stored list decides how the mailbox
    # is watched (IDLE or polling) and changes only when it is linked or its password is.
    listed = set(account.capabilities) - {"COI"}
    if "COI" in found.capabilities:
        listed.add("COI")
    fields = {
        "capabilities": sorted(listed),
        "coi_chats_folder": found.coi_chats_folder or "",
        **_coi_fields(found),
    }
    changed = [name for name, value in fields.items() if getattr(account, name) != value]
    for name in changed:
        setattr(account, name, fields[name])
    if changed:
        account.save(update_fields=changed)
    return bool(changed)


class CoiUnavailable(Exception):
    pass


def enable_coi(*, account: MailAccount, message_filter: str) -> MailAccount:
    """Switch COI on at the server with `message_filter` (also to change the filter)."""
    coi.check_filter(message_filter)
    if not account.coi_offered:
        raise CoiUnavailable("This mail server does not offer COI.")
    with imap_session(account) as client:
        config = coi.enable(client, message_filter=message_filter)
        # The COI plugin creates <root>/Chats before it answers OK; should a server not
        # have, creating it is the other documented way to switch COI on.
        found = imap.probe(client)
        if found.coi_chats_folder is None:
            imap.ensure_folder(client, config.chats_folder(found.separator))
            found = imap.probe(client)
    return _apply_coi_change(account, found)


def disable_coi(*, account: MailAccount) -> MailAccount:
    """Switch COI off at the server; its folders and the stored filter stay."""
    with imap_session(account) as client:
        coi.disable(client)
        found = imap.probe(client)
    return _apply_coi_change(account, found)


def set_fallback_move(*, account: MailAccount, enabled: bool) -> MailAccount:
    """Turn on or off moving chat mail into COI/Chats ourselves (plain servers)."""
    if enabled and account.coi_enabled:
        raise CoiUnavailable("COI is on at this server: it files chats itself.")
    account.coi_fallback_move = enabled
    account.save(update_fields=["coi_fallback_move"])
    from chat import services as chat_services

    chat_services.start_watching(account)  # watch COI/Chats too, and move what is there
    return account


def _apply_coi_change(account: MailAccount, found: imap.ImapProbe) -> MailAccount:
    record_server_state(account=account, found=found)
    if account.coi_enabled and account.coi_fallback_move:
        account.coi_fallback_move = False  # the server files chats now
        account.save(update_fields=["coi_fallback_move"])
    from chat import services as chat_services

    # The watchers reconnect: a new IMAP session also drops the COI plugin's cached
    # settings (it reads them once per session), and COI/Chats may need its own IDLE.
    chat_services.start_watching(account)
    return account


def remove_mailbox(*, account: MailAccount) -> None:
    account.delete()


def rotate_credentials() -> int:
    """Re-encrypt every stored password under the newest key; return how many."""
    count = 0
    for account in MailAccount.objects.only("pk", "password_encrypted").iterator():
        account.password_encrypted = crypto.rotate(account.password_encrypted)
        account.save(update_fields=["password_encrypted"])
        count += 1
    return count


__all__ = [
    "CoiUnavailable",
    "InvitationUnusable",
    "MailError",
    "MailboxAlreadyLinked",
    "MailboxSettings",
]


def update_preferences(*, user: User, send_read_receipts: bool, theme: str | None = None) -> None:
    """Save a person's own settings."""
    changes: dict = {"send_read_receipts": send_read_receipts}
    if theme is not None:
        changes["theme"] = theme
    User.objects.filter(pk=user.pk).update(**changes)
    for field, value in changes.items():
        setattr(user, field, value)


def set_theme(*, user: User, theme: str) -> None:
    """Save the theme alone (the quick toggle in the top bar)."""
    if theme not in User.Theme.values:
        raise ValueError(f"unknown theme {theme!r}")
    User.objects.filter(pk=user.pk).update(theme=theme)
    user.theme = theme


def update_profile(
    *, user: User, display_name: str, avatar: bytes | None = None, remove_avatar: bool = False
) -> None:
    """Save the name, and the picture when one was given (already checked by the form)."""
    user.display_name = display_name.strip()
    fields = ["display_name"]
    if avatar:
        user.avatar, user.avatar_type = avatar, image_type(avatar) or ""
        user.avatar_version += 1
        fields += ["avatar", "avatar_type", "avatar_version"]
    elif remove_avatar and user.has_avatar:
        user.avatar, user.avatar_type = b"", ""
        user.avatar_version += 1
        fields += ["avatar", "avatar_type", "avatar_version"]
    user.save(update_fields=fields)
