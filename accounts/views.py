"""Sign-in, first-run setup, invitations and mailbox linking. Thin: forms in, services out."""

from __future__ import annotations

from typing import NamedTuple

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required, user_passes_test
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from accounts import services
from accounts.forms import (
    AcceptInvitationForm,
    CoiForm,
    FallbackMoveForm,
    FirstAdminForm,
    InvitationForm,
    MailboxForm,
    PasswordForm,
    PreferencesForm,
    ProfileForm,
)
from accounts.models import Invitation, User
from chat.queries import blocked_addresses, get_account_for_user
from mailcore.errors import MailError


class Provider(NamedTuple):
    name: str
    domains: str
    imap_host: str
    imap_port: int
    imap_security: str
    smtp_host: str
    smtp_port: int
    smtp_security: str
    note: str


# Shown on the linking form, and filled in by static/shell.js when the address matches.
PROVIDER_HINTS = [
    Provider(
        "Gmail",
        "gmail.com googlemail.com",
        "imap.gmail.com",
        993,
        "ssl",
        "smtp.gmail.com",
        465,
        "ssl",
        "needs an app password (Google account → Security)",
    ),
    Provider(
        "Outlook / Hotmail",
        "outlook.com hotmail.com live.com",
        "outlook.office365.com",
        993,
        "ssl",
        "smtp-mail.outlook.com",
        587,
        "starttls",
        "",
    ),
    Provider(
        "Yahoo",
        "yahoo.com",
        "imap.mail.yahoo.com",
        993,
        "ssl",
        "smtp.mail.yahoo.com",
        465,
        "ssl",
        "needs an app password",
    ),
    Provider(
        "iCloud",
        "icloud.com me.com",
        "imap.mail.me.com",
        993,
        "ssl",
        "smtp.mail.me.com",
        587,
        "starttls",
        "needs an app-specific password",
    ),
    Provider(
        "Fastmail",
        "fastmail.com",
        "imap.fastmail.com",
        993,
        "ssl",
        "smtp.fastmail.com",
        465,
        "ssl",
        "needs an app password",
    ),
    Provider(
        "Posteo", "posteo.de posteo.net", "posteo.de", 993, "ssl", "posteo.de", 465, "ssl", ""
    ),
    Provider(
        "mailbox.org",
        "mailbox.org",
        "imap.mailbox.org",
        993,
        "ssl",
        "smtp.mailbox.org",
        465,
        "ssl",
        "",
    ),
    Provider(
        "GMX",
        "gmx.net gmx.de gmx.com",
        "imap.gmx.net",
        993,
        "ssl",
        "mail.gmx.net",
        465,
        "ssl",
        "switch on IMAP in GMX's web settings first",
    ),
]


class LoginView(auth_views.LoginView):
    """Sign-in; before anyone exists, the first visitor is sent to set up the instance."""

    template_name = "accounts/login.html"

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not User.objects.exists():
            return redirect("accounts:setup")
        return super().dispatch(request, *args, **kwargs)


def setup(request: HttpRequest) -> HttpResponse:
    """First run: the first person to arrive creates the administrator account."""
    if User.objects.exists():
        return redirect("accounts:login")
    form = FirstAdminForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = services.create_first_admin(
            username=form.cleaned_data["username"], password=form.cleaned_data["password1"]
        )
        login(request, user)
        return redirect("accounts:mailbox_new")
    return render(request, "accounts/setup.html", {"form": form})


def accept_invitation(request: HttpRequest, token: str) -> HttpResponse:
    invitation = Invitation.objects.filter(token=token).first()
    if invitation is None or not invitation.is_usable:
        return render(request, "accounts/invitation_invalid.html", status=404)
    form = AcceptInvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.accept_invitation(
                token=token,
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password1"],
                display_name=form.cleaned_data.get("display_name", ""),
            )
        except services.InvitationUnusable:
            return render(request, "accounts/invitation_invalid.html", status=404)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("accounts:mailbox_new")
    return render(
        request, "accounts/invitation_accept.html", {"form": form, "invitation": invitation}
    )


@user_passes_test(lambda u: u.is_active and u.is_staff)
def invitations(request: HttpRequest) -> HttpResponse:
    form = InvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.create_invitation(by=request.user, note=form.cleaned_data["note"])
        return redirect("accounts:invitations")
    sent = Invitation.objects.filter(created_by=request.user).select_related("used_by")
    return render(request, "accounts/invitations.html", {"form": form, "invitations": sent})


@login_required
def mailbox_list(request: HttpRequest) -> HttpResponse:
    return render(
        request, "accounts/mailbox_list.html", {"accounts": request.user.mail_accounts.all()}
    )


@login_required
def mailbox_new(request: HttpRequest) -> HttpResponse:
    form = MailboxForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        imap_endpoint, smtp_endpoint = form.endpoints()
        data = form.cleaned_data
        mailbox = services.MailboxSettings(
            email=data["email"],
            password=data["password"],
            login=data["login"] or data["email"],
            display_name=data["display_name"],
            imap=imap_endpoint,
            smtp=smtp_endpoint,
        )
        try:
            account = services.link_mailbox(user=request.user, mailbox=mailbox)
        except MailError as exc:
            form.add_error(None, exc.user_message)
        except services.MailboxAlreadyLinked as exc:
            form.add_error("email", str(exc))
        else:
            messages.success(
                request, f"{account.email} is linked. Its mail will appear in a moment."
            )
            return redirect("chat:home")
    first = not request.user.mail_accounts.exists()
    return render(
        request,
        "accounts/mailbox_form.html",
        {"form": form, "first_run": first, "providers": PROVIDER_HINTS},
    )


@login_required
def mailbox_detail(request: HttpRequest, account_id: int) -> HttpResponse:
    account = get_account_for_user(request.user, account_id)
    form = PasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_mailbox_password(
                account=account, password=form.cleaned_data["password"]
            )
        except MailError as exc:
            form.add_error("password", exc.user_message)
        else:
            messages.success(request, "Password updated; the mailbox is live again.")
            return redirect("accounts:mailbox_detail", account_id=account.pk)
    return render(
        request,
        "accounts/mailbox_detail.html",
        {
            "account": account,
            "blocked": blocked_addresses(account),
            "form": form,
            "coi_form": CoiForm(initial={"message_filter": account.coi_message_filter or "none"}),
            "fallback_form": FallbackMoveForm(initial={"move": account.coi_fallback_move}),
        },
    )


@login_required
@require_POST
def mailbox_coi(request: HttpRequest, account_id: int) -> HttpResponse:
    account = get_account_for_user(request.user, account_id)
    form = CoiForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose where chat messages should go.")
        return redirect("accounts:mailbox_detail", account_id=account.pk)
    try:
        if form.cleaned_data["action"] == "disable":
            services.disable_coi(account=account)
            done = "COI is off on this server. Chats stay where they are."
        else:
            services.enable_coi(account=account, message_filter=form.cleaned_data["message_filter"])
            done = "COI is on for this mailbox."
    except MailError as exc:
        messages.error(request, exc.user_message)
    except services.CoiUnavailable as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done)
    return redirect("accounts:mailbox_detail", account_id=account.pk)


@login_required
@require_POST
def mailbox_fallback(request: HttpRequest, account_id: int) -> HttpResponse:
    account = get_account_for_user(request.user, account_id)
    form = FallbackMoveForm(request.POST)
    form.is_valid()  # an unchecked box is simply off
    try:
        services.set_fallback_move(account=account, enabled=form.cleaned_data.get("move", False))
    except services.CoiUnavailable as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            "Chat messages will be moved into COI/Chats."
            if account.coi_fallback_move
            else "Chat messages stay where they arrive.",
        )
    return redirect("accounts:mailbox_detail", account_id=account.pk)


@login_required
@require_POST
def mailbox_remove(request: HttpRequest, account_id: int) -> HttpResponse:
    account = get_account_for_user(request.user, account_id)
    services.remove_mailbox(account=account)
    messages.success(
        request, f"{account.email} was unlinked. Nothing was deleted on the mail server."
    )
    return redirect("accounts:mailbox_list")


def _settings_context(request: HttpRequest, **forms) -> dict:
    user = request.user
    return {
        "form": forms.get("form")
        or PreferencesForm(
            initial={"send_read_receipts": user.send_read_receipts, "theme": user.theme}
        ),
        "profile_form": forms.get("profile_form")
        or ProfileForm(initial={"display_name": user.display_name}),
        "accounts": user.mail_accounts.all(),
    }


@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    """The one settings page: profile, appearance, chats, notifications, mailboxes."""
    if request.method != "POST":
        return render(request, "accounts/preferences.html", _settings_context(request))
    # An unticked box posts nothing at all, so an empty POST still means "save"; an
    # absent theme keeps the current one.
    data = request.POST.copy()
    data.setdefault("theme", request.user.theme)
    form = PreferencesForm(data)
    if not form.is_valid():
        return render(request, "accounts/preferences.html", _settings_context(request, form=form))
    services.update_preferences(
        user=request.user,
        send_read_receipts=form.cleaned_data["send_read_receipts"],
        theme=form.cleaned_data["theme"],
    )
    messages.success(request, "Settings saved.")
    return redirect("accounts:preferences")


@login_required
@require_POST
def profile(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST, request.FILES)
    if not form.is_valid():
        context = _settings_context(request, profile_form=form)
        return render(request, "accounts/preferences.html", context, status=422)
    services.update_profile(
        user=request.user,
        display_name=form.cleaned_data["display_name"],
        avatar=form.cleaned_data["avatar"],
        remove_avatar=form.cleaned_data["remove_avatar"],
    )
    messages.success(request, "Profile saved.")
    return redirect("accounts:preferences")


@login_required
@require_POST
def theme(request: HttpRequest) -> HttpResponse:
    """The quick toggle: store the chosen theme; htmx callers get an empty 204."""
    choice = request.POST.get("theme", "")
    if choice not in User.Theme.values:
        return HttpResponse("Unknown theme.", status=400)
    services.set_theme(user=request.user, theme=choice)
    if request.headers.get("HX-Request"):
        return HttpResponse(status=204)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "accounts:preferences"
    return redirect(target)


@login_required
@require_GET
def avatar(request: HttpRequest, version: int) -> HttpResponse:
    """The signed-in person's own picture (the version in the URL only busts caches)."""
    user = request.user
    if not user.has_avatar:
        return HttpResponse(status=404)
    response = HttpResponse(bytes(user.avatar), content_type=user.avatar_type)
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=86400"
    return response
