from __future__ import annotations

import re
from datetime import UTC, datetime

from django import forms
from django.conf import settings
from django.core.validators import validate_email

from accounts.models import MailAccount, User
from mailcore.attachments import OutgoingFile, guess_content_type
from mailcore.images import MAX_AVATAR_BYTES, image_type


class ComposeForm(forms.Form):
    text = forms.CharField(
        max_length=100_000, strip=False, required=False, widget=forms.Textarea(attrs={"rows": 1})
    )
    # The message this one answers (quoted), or the own message it replaces (edit).
    reply_to = forms.IntegerField(min_value=1, required=False, widget=forms.HiddenInput)
    edit_of = forms.IntegerField(min_value=1, required=False, widget=forms.HiddenInput)
    # One audio file, sent as Delta Chat's voice message; the page measures its length.
    voice = forms.BooleanField(required=False)
    duration_ms = forms.IntegerField(
        min_value=1, max_value=24 * 3600 * 1000, required=False, widget=forms.HiddenInput
    )

    def clean_text(self) -> str:
        return self.cleaned_data["text"].rstrip()

    def clean(self) -> dict:
        cleaned = super().clean()
        uploads = self.files.getlist("files") if self.files else []
        limit = settings.COIWEB_MAX_ATTACHMENT_BYTES
        too_big = [u.name for u in uploads if u.size > limit]
        if too_big:
            raise forms.ValidationError(
                f"{', '.join(too_big)}: too large to send; the limit is {limit // (1024 * 1024)} MB."
            )
        if sum(u.size for u in uploads) > limit:
            raise forms.ValidationError(
                f"Together the files are too large to send; the limit is "
                f"{limit // (1024 * 1024)} MB per message."
            )
        if not cleaned.get("text", "").strip() and not uploads:
            raise forms.ValidationError("Write something first.")
        if uploads and cleaned.get("edit_of"):
            raise forms.ValidationError("An edit cannot add files.")
        files = tuple(
            OutgoingFile(
                filename=u.name or "file",
                content_type=u.content_type or guess_content_type(u.name or ""),
                data=u.read(),
            )
            for u in uploads
        )
        if cleaned.get("voice") and (
            len(files) != 1 or not files[0].content_type.lower().startswith("audio/")
        ):
            raise forms.ValidationError("A voice message is one audio file.")
        cleaned["files"] = files
        return cleaned


class NewChatForm(forms.Form):
    address = forms.EmailField(
        label="Email address",
        error_messages={
            "invalid": "That is not an email address (it looks like name@example.org)."
        },
        widget=forms.EmailInput(
            attrs={"list": "known-addresses", "autofocus": True, "autocomplete": "off"}
        ),
    )
    account = forms.ModelChoiceField(
        queryset=MailAccount.objects.none(), label="From mailbox", empty_label=None
    )

    def __init__(self, *args, user: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = user.mail_accounts.all()


class NewGroupForm(forms.Form):
    name = forms.CharField(
        label="Group name", max_length=200, widget=forms.TextInput(attrs={"autofocus": True})
    )
    members = forms.CharField(
        label="Members' email addresses",
        help_text="One per line, or separated by commas.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    account = forms.ModelChoiceField(
        queryset=MailAccount.objects.none(), label="From mailbox", empty_label=None
    )

    def __init__(self, *args, user: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = user.mail_accounts.all()

    def clean_members(self) -> list[str]:
        raw = [a.strip() for a in re.split(r"[,;\s]+", self.cleaned_data["members"]) if a.strip()]
        bad = [a for a in raw if not _is_email(a)]
        if bad:
            raise forms.ValidationError(f"Not an email address: {', '.join(bad)}")
        if not raw:
            raise forms.ValidationError("Add at least one member.")
        return list(dict.fromkeys(a.lower() for a in raw))

    def clean(self) -> dict:
        data = super().clean()
        account, members = data.get("account"), data.get("members")
        if account and members and account.email.lower() in members:
            members.remove(account.email.lower())
            if not members:
                self.add_error("members", "Add at least one member besides yourself.")
        return data


class ReactionForm(forms.Form):
    emoji = forms.CharField(max_length=16, required=False, strip=True)


class GroupNameForm(forms.Form):
    name = forms.CharField(
        label="Group name", max_length=200, widget=forms.TextInput(attrs={"autofocus": True})
    )


class MemberForm(forms.Form):
    address = forms.EmailField(label="Email address")


def _is_email(value: str) -> bool:
    try:
        validate_email(value)
    except forms.ValidationError:
        return False
    return True


class AfterForm(forms.Form):
    """The reconnect cursor: the newest message id the page shows, and when (server time,
    ms since the epoch) the page last caught up; or `before`, the oldest message id it
    shows, for the page of older messages above it."""

    after = forms.IntegerField(min_value=0, required=False)
    before = forms.IntegerField(min_value=1, required=False)
    since = forms.IntegerField(min_value=0, max_value=253_402_300_799_999, required=False)

    def changed_since(self) -> datetime | None:
        since = self.cleaned_data["since"]
        if since is None:
            return None
        return datetime.fromtimestamp(since / 1000, tz=UTC)


class OffsetForm(forms.Form):
    offset = forms.IntegerField(min_value=0, required=False)
    which = forms.ChoiceField(
        choices=[(w, w) for w in ("main", "requests", "archived")], required=False
    )
    filter = forms.ChoiceField(choices=[(f, f) for f in ("all", "chats", "email")], required=False)


class SearchForm(forms.Form):
    q = forms.CharField(max_length=200, required=False, strip=True)


class FlagForm(forms.Form):
    on = forms.TypedChoiceField(choices=[("1", "on"), ("0", "off")], coerce=lambda v: v == "1")


class AvatarForm(forms.Form):
    """A group image to set, or `remove` to take it away."""

    image = forms.FileField(required=False)
    remove = forms.BooleanField(required=False)

    def clean(self) -> dict:
        data = super().clean()
        upload = data.get("image")
        if data.get("remove"):
            data["image"] = None
            return data
        if upload is None:
            raise forms.ValidationError("Pick an image for the group.")
        if upload.size > MAX_AVATAR_BYTES:
            raise forms.ValidationError(
                f"That image is {upload.size // 1024} KB; a group image can be at most "
                f"{MAX_AVATAR_BYTES // 1024} KB (it travels inside the mail's header)."
            )
        content = upload.read()
        if image_type(content) is None:
            raise forms.ValidationError("That is not a PNG, JPEG, GIF or WebP image.")
        data["image"] = content
        return data
