"""People, invitations and the mailboxes they link."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils import timezone

from mailcore.endpoints import Credentials, Endpoint


class PeopleManager(UserManager):
    # Every request loads its user: leave the picture's bytes out until they are asked for.
    def get_queryset(self):
        return super().get_queryset().defer("avatar")


class User(AbstractUser):
    class Theme(models.TextChoices):
        SYSTEM = "system", "Like the system"
        LIGHT = "light", "Light"
        DARK = "dark", "Dark"

    display_name = models.CharField(max_length=100, blank=True)
    send_read_receipts = models.BooleanField(
        default=True,
        help_text="Tell people when you have read their messages, and ask them to do the same.",
    )
    theme = models.CharField(max_length=10, choices=Theme.choices, default=Theme.SYSTEM)
    # A small profile picture, kept in the database like group images (no file storage).
    avatar = models.BinaryField(blank=True, default=b"", editable=False)
    avatar_type = models.CharField(max_length=40, blank=True)
    avatar_version = models.PositiveIntegerField(default=0)

    objects = PeopleManager()

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def has_avatar(self) -> bool:
        return bool(self.avatar_type)


def _invite_token() -> str:
    return secrets.token_urlsafe(24)


def _invite_expiry():
    return timezone.now() + timedelta(days=7)


class Invitation(models.Model):
    """A single-use link that lets one person create an account."""

    token = models.CharField(max_length=64, unique=True, default=_invite_token, editable=False)
    note = models.CharField(
        max_length=200, blank=True, help_text="Who it is for (only you see this)."
    )
    created_by = models.ForeignKey(User, on_delete=models.CASCADE, related_name="invitations_sent")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(default=_invite_expiry)
    used_by = models.OneToOneField(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="invitation"
    )
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Invitation {self.note or self.pk}"

    @property
    def is_usable(self) -> bool:
        return self.used_at is None and self.expires_at > timezone.now()


class MailAccount(models.Model):
    """A mailbox a person linked; the password is only ever stored encrypted."""

    class Security(models.TextChoices):
        SSL = "ssl", "SSL/TLS"
        STARTTLS = "starttls", "STARTTLS"
        PLAIN = "plain", "None (this machine only)"

    class Mode(models.TextChoices):
        IDLE = "idle", "Live (IMAP IDLE)"
        POLLING = "polling", "Polling"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="mail_accounts")
    email = models.EmailField()
    display_name = models.CharField(max_length=100, blank=True)
    login = models.CharField(max_length=254)
    password_encrypted = models.TextField(editable=False)

    imap_host = models.CharField(max_length=253)
    imap_port = models.PositiveIntegerField()
    imap_security = models.CharField(max_length=10, choices=Security.choices)
    smtp_host = models.CharField(max_length=253)
    smtp_port = models.PositiveIntegerField()
    smtp_security = models.CharField(max_length=10, choices=Security.choices)

    capabilities = models.JSONField(default=list, blank=True)
    sent_folder = models.CharField(max_length=200, blank=True)
    coi_chats_folder = models.CharField(max_length=200, blank=True)
    # COI server state as last read from the server (METADATA), and the fallback option
    # for plain servers: we move chat mail into COI/Chats ourselves (off by default,
    # because Delta Chat watches only INBOX).
    coi_enabled = models.BooleanField(default=False)
    coi_message_filter = models.CharField(max_length=10, blank=True)
    coi_mailbox_root = models.CharField(max_length=100, blank=True)
    coi_fallback_move = models.BooleanField(default=False)

    is_active = models.BooleanField(default=True)
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.IDLE)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "email"], name="one_link_per_mailbox_per_user")
        ]
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    def __repr__(self) -> str:
        return f"<MailAccount {self.pk} {self.email}>"

    @property
    def imap_endpoint(self) -> Endpoint:
        return Endpoint(self.imap_host, self.imap_port, self.imap_security)  # type: ignore[arg-type]

    @property
    def smtp_endpoint(self) -> Endpoint:
        return Endpoint(self.smtp_host, self.smtp_port, self.smtp_security)  # type: ignore[arg-type]

    def credentials(self) -> Credentials:
        """Decrypt the password at the last moment, for one connection."""
        from accounts import crypto

        return Credentials(self.login, crypto.decrypt(self.password_encrypted))

    def has_capability(self, name: str) -> bool:
        return name.upper() in self.capabilities

    @property
    def coi_offered(self) -> bool:
        return self.has_capability("COI")

    @property
    def moves_chats_itself(self) -> bool:
        """Fallback mode: the server does not file chats (not COI, or COI switched off)."""
        return self.coi_fallback_move and not self.coi_enabled

    @property
    def chats_bypass_inbox(self) -> bool:
        """New chat mail lands in COI/Chats without an INBOX change to notice it by."""
        if not self.coi_chats_folder:
            return False
        return (self.coi_enabled and self.coi_message_filter == "active") or self.moves_chats_itself
