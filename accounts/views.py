"""Sign-in, first-run setup, invitations and mailbox linking. Thin: forms in, services out."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required, user_passes_test
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

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
)
from accounts.models import Invitation, User
from chat.queries import blocked_addresses, get_account_for_user
from mailcore.errors import MailError


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
    return render(request, "accounts/mailbox_form.html", {"form": form})


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


@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    initial = {"send_read_receipts": request.user.send_read_receipts}
    # An unticked box posts nothing at all, so an empty POST still means "save".
    data = request.POST if request.method == "POST" else None
    form = PreferencesForm(data, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.update_preferences(
            user=request.user, send_read_receipts=form.cleaned_data["send_read_receipts"]
        )
        messages.success(request, "Settings saved.")
        return redirect("accounts:preferences")
    return render(request, "accounts/preferences.html", {"form": form})
