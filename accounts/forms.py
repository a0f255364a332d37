from __future__ import annotations

from django import forms
from django.contrib.auth.forms import UserCreationForm

from accounts.models import MailAccount, User
from mailcore.endpoints import Endpoint, is_loopback
from mailcore.images import MAX_AVATAR_BYTES, image_type

SECURITY_CHOICES = MailAccount.Security.choices


class FirstAdminForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("username",)


class AcceptInvitationForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("username", "display_name")


class InvitationForm(forms.Form):
    note = forms.CharField(max_length=200, required=False, label="Who is it for? (optional)")


class MailboxForm(forms.Form):
    """Mailbox settings; the password field is never filled back in when re-rendered."""

    email = forms.EmailField(label="Email address")
    password = forms.CharField(widget=forms.PasswordInput(render_value=False))
    display_name = forms.CharField(
        max_length=100, required=False, label="Your name (shown to others)"
    )
    login = forms.CharField(
        max_length=254, required=False, help_text="Leave empty to use the email address."
    )
    imap_host = forms.CharField(max_length=253, label="IMAP server")
    imap_port = forms.IntegerField(min_value=1, max_value=65535, initial=993, label="IMAP port")
    imap_security = forms.ChoiceField(
        choices=SECURITY_CHOICES, initial="ssl", label="IMAP security"
    )
    smtp_host = forms.CharField(max_length=253, label="SMTP server")
    smtp_port = forms.IntegerField(min_value=1, max_value=65535, initial=465, label="SMTP port")
    smtp_security = forms.ChoiceField(
        choices=SECURITY_CHOICES, initial="ssl", label="SMTP security"
    )

    def clean(self):
        data = super().clean()
        for kind in ("imap", "smtp"):
            host = data.get(f"{kind}_host", "")
            if data.get(f"{kind}_security") == "plain" and host and not is_loopback(host):
                self.add_error(
                    f"{kind}_security",
                    "Unencrypted connections are only allowed to this machine (localhost). "
                    "Choose SSL/TLS or STARTTLS.",
                )
        return data

    def endpoints(self) -> tuple[Endpoint, Endpoint]:
        d = self.cleaned_data
        return (
            Endpoint(d["imap_host"].strip(), d["imap_port"], d["imap_security"]),
            Endpoint(d["smtp_host"].strip(), d["smtp_port"], d["smtp_security"]),
        )


class PasswordForm(forms.Form):
    password = forms.CharField(widget=forms.PasswordInput(render_value=False), label="New password")


class CoiForm(forms.Form):
    """COI on the server: switch it on with a message filter, or off."""

    FILTER_CHOICES = [
        ("none", "Keep chats in the inbox (the server marks them as chats)"),
        ("active", "The server files new chats straight into COI/Chats"),
        ("seen", "The server moves chats into COI/Chats once they are read"),
    ]
    action = forms.ChoiceField(choices=[("enable", "enable"), ("disable", "disable")])
    message_filter = forms.ChoiceField(
        choices=FILTER_CHOICES, initial="none", required=False, label="Chat messages"
    )

    def clean(self):
        data = super().clean()
        if data.get("action") == "enable" and not data.get("message_filter"):
            self.add_error("message_filter", "Choose where chat messages should go.")
        return data


class FallbackMoveForm(forms.Form):
    move = forms.BooleanField(
        required=False,
        label="Move chat messages into COI/Chats (Delta Chat on this account then won't see them)",
    )


class _NoColonForm(forms.Form):
    """Labels without Django's trailing colon (the settings page reads like a phone's)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class ProfileForm(_NoColonForm):
    """Name and picture; an upload is checked by its bytes and its size, before it is kept."""

    display_name = forms.CharField(
        max_length=100, required=False, label="Your name", help_text="Shown in coiweb."
    )
    avatar = forms.FileField(
        required=False,
        label="Profile picture",
        help_text=f"PNG, JPEG, GIF or WebP, up to {MAX_AVATAR_BYTES // 1024} KB.",
        widget=forms.ClearableFileInput(
            attrs={"accept": "image/png,image/jpeg,image/gif,image/webp"}
        ),
    )
    remove_avatar = forms.BooleanField(required=False, label="Remove my picture")

    def clean_avatar(self):
        upload = self.cleaned_data.get("avatar")
        if not upload:
            return None
        if upload.size > MAX_AVATAR_BYTES:
            raise forms.ValidationError(
                f"This picture is {upload.size // 1024} KB; the limit is "
                f"{MAX_AVATAR_BYTES // 1024} KB. Choose a smaller one (your old picture stays)."
            )
        data = upload.read()
        if image_type(data) is None:
            raise forms.ValidationError("This is not a PNG, JPEG, GIF or WebP picture.")
        return data


class PreferencesForm(_NoColonForm):
    theme = forms.ChoiceField(
        choices=User.Theme.choices,
        label="Theme",
        widget=forms.RadioSelect,
        help_text="“Like the system” follows your device's light or dark setting.",
    )
    send_read_receipts = forms.BooleanField(
        required=False,
        label="Send read receipts",
        help_text=(
            "Tell people when you have read their messages, and ask them to do the same. "
            "Delta Chat shows a read message with two ticks."
        ),
    )
