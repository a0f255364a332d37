"""Chat pages and actions. Thin: permission-scoped getters, one service call, a template."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_POST

from chat import delivery, files, message_actions, queries, requests, services
from chat.forms import (
    AfterForm,
    AvatarForm,
    ComposeForm,
    FlagForm,
    GroupNameForm,
    MemberForm,
    NewChatForm,
    NewGroupForm,
    OffsetForm,
    ReactionForm,
    SearchForm,
)
from mailcore.errors import MailError


@login_required
def home(request: HttpRequest) -> HttpResponse:
    notices = queries.mailbox_notices(request.user)
    if not notices.linked:
        return redirect("accounts:mailbox_new")
    context = _sidebar(request.user, kind=_kind(request), notices=notices)
    return render(request, "chat/home.html", context)


LIST_IDS = {
    queries.MAIN: "chat-list",
    queries.REQUESTS: "request-list",
    "archived": "archived-list",
}


FILTER_LABELS = ((queries.ALL, "All"), (queries.CHATS, "Chats"), (queries.EMAIL, "Email"))


def _kind(request: HttpRequest) -> str:
    """The list filter a page asked for (`?filter=`): all, chats or email."""
    kind = request.GET.get("filter", queries.ALL)
    return kind if kind in queries.FILTERS else queries.ALL


def _sidebar(user, which: str = queries.MAIN, kind: str = queries.ALL, notices=None) -> dict:
    """What the chat list column shows on every chat page: one of the three lists."""
    page = queries.chat_page(user, which=which, kind=kind)
    notices = notices or queries.mailbox_notices(user)
    return {
        "chats": page.chats,
        "which": which,
        "kind": kind,
        "filters": FILTER_LABELS,
        "list_id": LIST_IDS[which],
        "counts": queries.list_counts(user),
        "more_offset": page.more_offset,
        "search_min_length": queries.SEARCH_MIN_LENGTH,
        "imports": notices.imports,
        "troubled": notices.troubled,
    }


@login_required
@require_GET
def request_list(request: HttpRequest) -> HttpResponse:
    return render(
        request, "chat/home.html", _sidebar(request.user, queries.REQUESTS, _kind(request))
    )


@login_required
@require_GET
def archived_list(request: HttpRequest) -> HttpResponse:
    return render(
        request, "chat/home.html", _sidebar(request.user, queries.ARCHIVED, _kind(request))
    )


@login_required
@require_GET
def chat_search(request: HttpRequest) -> HttpResponse:
    """Chats and messages matching `q`: the results fragment for htmx, else the page."""
    form = SearchForm(request.GET)
    query = form.cleaned_data["q"] if form.is_valid() else ""
    context = {
        "search": queries.search(request.user, query),
        "min_length": queries.SEARCH_MIN_LENGTH,
    }
    if request.htmx:
        return render(request, "chat/_search_results.html", context)
    return render(request, "chat/home.html", {**_sidebar(request.user), **context})


@login_required
@require_GET
def contact_info(request: HttpRequest, chat_id: int) -> HttpResponse:
    """A one-to-one chat's other person: address, name, block, back to the chat."""
    chat = queries.get_single_chat_for_user(request.user, chat_id)
    return render(request, "chat/contact.html", {"chat": chat})


def _list_of(chat) -> str:
    if chat.is_request:
        return queries.REQUESTS
    return queries.ARCHIVED if chat.archived else queries.MAIN


@login_required
def chat_detail(request: HttpRequest, chat_id: int) -> HttpResponse:
    chat = queries.open_chat_for_user(request.user, chat_id)
    rendered_at = timezone.now()
    first_unread = None if chat.is_request else chat.first_unread
    if chat.unseen:
        services.mark_chat_read(chat=chat)
    page = queries.conversation_page(chat)
    return render(
        request,
        "chat/home.html",
        {
            **_sidebar(request.user, _list_of(chat), _kind(request)),
            "chat": chat,
            "since": _epoch_ms(rendered_at),
            **_composer_context(),
            "messages_": page.messages,
            "older": page.older,
            "first_unread": first_unread,
            "form": ComposeForm(),
        },
    )


@login_required
@require_GET
def chat_list(request: HttpRequest) -> HttpResponse:
    """Chat rows as upserts: the first page for a page whose websocket (re)connected, or
    the next page for "more chats".

    Upserts, not a replacement of the list: a push that overtakes this response must
    not be wiped out by it.
    """
    form = OffsetForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest("bad offset or list")
    offset = form.cleaned_data["offset"] or 0
    which = form.cleaned_data["which"] or queries.MAIN
    kind = form.cleaned_data["filter"] or queries.ALL
    page = queries.chat_page(request.user, which=which, kind=kind, offset=offset)
    return render(
        request,
        "chat/_chat_rows.html",
        {
            "chats": page.chats,
            "push": True,
            "which": which,
            "kind": kind,
            "counts": queries.list_counts(request.user),
            "more_offset": page.more_offset,
            "paging": offset > 0,
        },
    )


@login_required
@require_GET
def chat_messages(request: HttpRequest, chat_id: int) -> HttpResponse:
    """Messages newer than `after`, as upsert fragments (what a reconnecting page missed);
    or the page older than `before` (scrolling up), as plain rows to put on top."""
    chat = queries.get_chat_for_user(request.user, chat_id)
    form = AfterForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest("bad cursor")
    if before := form.cleaned_data["before"]:
        page = queries.conversation_page(chat, before=before)
        return render(
            request,
            "chat/_message_list.html",
            {"chat": chat, "messages_": page.messages, "older": page.older},
        )
    caught_up_at = timezone.now()
    after = form.cleaned_data["after"] or 0
    services.mark_chat_read(chat=chat)
    response = render(
        request,
        "chat/_message_list.html",
        {
            "messages_": queries.conversation(
                chat, after=after, changed_since=form.changed_since()
            ),
            "push": True,
        },
    )
    response["X-Coiweb-Since"] = _epoch_ms(caught_up_at)
    return response


def _composer_context() -> dict:
    return {
        "max_file_bytes": settings.COIWEB_MAX_ATTACHMENT_BYTES,
        "quick_reactions": message_actions.QUICK_REACTIONS,
    }


def _epoch_ms(moment) -> str:
    return str(int(moment.timestamp() * 1000))


@login_required
@require_POST
def chat_send(request: HttpRequest, chat_id: int) -> HttpResponse:
    chat = queries.get_chat_for_user(request.user, chat_id)
    form = ComposeForm(request.POST, request.FILES)
    if not form.is_valid():
        if request.htmx:
            return HttpResponse(" ".join(form.non_field_errors()), status=422)
        return render(
            request,
            "chat/home.html",
            {**_sidebar(request.user), "chat": chat, "form": form, **_composer_context()},
            status=422,
        )
    text = form.cleaned_data["text"]
    if edit_of := form.cleaned_data["edit_of"]:
        message = queries.get_message_in_chat(chat, edit_of)
        message_actions.edit(user=request.user, message=message, text=text)
        message.refresh_from_db()
    else:
        reply_to = form.cleaned_data["reply_to"]
        try:
            message = delivery.send_message(
                user=request.user,
                chat=chat,
                text=text,
                reply_to=queries.get_message_in_chat(chat, reply_to) if reply_to else None,
                files=form.cleaned_data["files"],
                voice=(
                    delivery.Voice(duration_ms=form.cleaned_data["duration_ms"])
                    if form.cleaned_data["voice"]
                    else None
                ),
            )
        except delivery.NothingToSend as exc:
            return HttpResponse(f"Not sent: {exc}.", status=422)
    if request.htmx:
        return render(request, "chat/_message.html", {"message": message, "push": True})
    return redirect("chat:chat_detail", chat_id=chat.pk)


@login_required
@require_POST
def message_react(request: HttpRequest, message_id: int) -> HttpResponse:
    message = queries.get_message_for_user(request.user, message_id)
    form = ReactionForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest("not a reaction")
    message_actions.react(user=request.user, message=message, emoji=form.cleaned_data["emoji"])
    return HttpResponse(status=204)


@login_required
@require_POST
def message_delete(request: HttpRequest, message_id: int) -> HttpResponse:
    """Delete one's own message for everyone."""
    message = queries.get_message_for_user(request.user, message_id)
    message_actions.delete_for_everyone(user=request.user, message=message)
    return HttpResponse(status=204)


@login_required
@require_POST
def chat_read(request: HttpRequest, chat_id: int) -> HttpResponse:
    """The person saw the open chat (new messages arrived while it was on screen)."""
    chat = queries.get_chat_for_user(request.user, chat_id)
    services.mark_chat_read(chat=chat)
    return HttpResponse(status=204)


@login_required
@require_POST
def message_retry(request: HttpRequest, message_id: int) -> HttpResponse:
    message = queries.get_message_for_user(request.user, message_id)
    delivery.retry_message(message=message)
    message.refresh_from_db()
    return render(request, "chat/_message.html", {"message": message})


@login_required
@require_GET
def message_detail(request: HttpRequest, message_id: int) -> HttpResponse:
    """The full message: headers and the sanitized HTML in a sandboxed frame."""
    message = queries.get_message_for_user(request.user, message_id)
    problem = ""
    try:
        message = services.complete_message(message=message)
    except MailError as exc:
        problem = f"Only the first part of this large message is shown: {exc.user_message}"
    return render(request, "chat/message_detail.html", {"message": message, "problem": problem})


@login_required
def chat_new(request: HttpRequest) -> HttpResponse:
    form = NewChatForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        chat = services.start_chat(
            user=request.user,
            account=form.cleaned_data["account"],
            address=form.cleaned_data["address"],
        )
        return redirect("chat:chat_detail", chat_id=chat.pk)
    return render(
        request,
        "chat/new_chat.html",
        {"form": form, "known": queries.known_addresses(request.user)},
    )


@login_required
def group_new(request: HttpRequest) -> HttpResponse:
    form = NewGroupForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        chat = services.create_group(
            user=request.user,
            account=form.cleaned_data["account"],
            name=form.cleaned_data["name"],
            addresses=form.cleaned_data["members"],
        )
        return redirect("chat:chat_detail", chat_id=chat.pk)
    return render(
        request,
        "chat/new_group.html",
        {"form": form, "known": queries.known_addresses(request.user)},
    )


@login_required
@require_POST
def group_rename(request: HttpRequest, chat_id: int) -> HttpResponse:
    chat = queries.get_group_for_user(request.user, chat_id)
    form = GroupNameForm(request.POST)
    if form.is_valid():
        services.rename_group(user=request.user, chat=chat, name=form.cleaned_data["name"])
    return redirect("chat:chat_detail", chat_id=chat.pk)


@login_required
@require_POST
def group_add_member(request: HttpRequest, chat_id: int) -> HttpResponse:
    chat = queries.get_group_for_user(request.user, chat_id)
    form = MemberForm(request.POST)
    if form.is_valid():
        services.add_group_member(
            user=request.user, chat=chat, address=form.cleaned_data["address"]
        )
    return redirect("chat:chat_detail", chat_id=chat.pk)


@login_required
@require_POST
def group_remove_member(request: HttpRequest, chat_id: int) -> HttpResponse:
    """Remove a member; removing our own address is leaving the group."""
    chat = queries.get_group_for_user(request.user, chat_id)
    form = MemberForm(request.POST)
    if form.is_valid():
        services.remove_group_member(
            user=request.user, chat=chat, address=form.cleaned_data["address"]
        )
    return redirect("chat:chat_detail", chat_id=chat.pk)


@login_required
@require_POST
def group_leave(request: HttpRequest, chat_id: int) -> HttpResponse:
    chat = queries.get_group_for_user(request.user, chat_id)
    services.leave_group(user=request.user, chat=chat)
    return redirect("chat:chat_detail", chat_id=chat.pk)


@login_required
@require_POST
def group_avatar_set(request: HttpRequest, chat_id: int) -> HttpResponse:
    """Set the group image from an upload, or remove it (`remove`)."""
    chat = queries.get_group_for_user(request.user, chat_id)
    form = AvatarForm(request.POST, request.FILES)
    if not form.is_valid():
        return HttpResponse(" ".join(form.errors.get("__all__", ["Not an image."])), status=422)
    services.set_group_avatar(user=request.user, chat=chat, image=form.cleaned_data["image"])
    return redirect("chat:chat_detail", chat_id=chat.pk)


@login_required
@require_GET
def group_avatar(request: HttpRequest, chat_id: int) -> HttpResponse:
    chat = queries.get_group_avatar_for_user(request.user, chat_id)
    if not chat.has_avatar or chat.avatar is None:
        return HttpResponse(status=404)
    response = HttpResponse(bytes(chat.avatar), content_type=chat.avatar_type)
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=86400"  # the URL carries its version
    return response


@login_required
@require_POST
def chat_accept(request: HttpRequest, chat_id: int) -> HttpResponse:
    chat = queries.get_chat_for_user(request.user, chat_id)
    requests.accept_chat(chat=chat)
    return redirect("chat:chat_detail", chat_id=chat.pk)


@login_required
@require_POST
def chat_block(request: HttpRequest, chat_id: int) -> HttpResponse:
    """Block the chat's peer (or who started a group request); back to the chat list."""
    chat = queries.get_chat_for_user(request.user, chat_id)
    requests.block_chat(chat=chat)
    return redirect("chat:home")


@login_required
@require_POST
def chat_delete(request: HttpRequest, chat_id: int) -> HttpResponse:
    chat = queries.get_chat_for_user(request.user, chat_id)
    requests.delete_chat(chat=chat)
    return redirect("chat:home")


@login_required
@require_POST
def chat_flag(request: HttpRequest, chat_id: int, flag: str) -> HttpResponse:
    """Mute, archive or pin a chat (`on=1`), or undo it (`on=0`); htmx gets the buttons."""
    chat = queries.get_chat_for_user(request.user, chat_id)
    form = FlagForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest("on must be 0 or 1")
    services.set_chat_flag(chat=chat, flag=flag, on=form.cleaned_data["on"])
    if request.htmx:
        return render(request, "chat/_chat_actions.html", {"chat": chat})
    return redirect("chat:chat_detail", chat_id=chat.pk)


@login_required
@require_POST
def address_unblock(request: HttpRequest, block_id: int) -> HttpResponse:
    block = queries.get_block_for_user(request.user, block_id)
    account_id = block.account_id
    requests.unblock(block=block)
    return redirect("accounts:mailbox_detail", account_id=account_id)


@login_required
@require_GET
def attachment(request: HttpRequest, attachment_id: int) -> HttpResponse:
    """A file of a message: images and audio inline, anything else as a download."""
    item = queries.get_attachment_for_user(request.user, attachment_id)
    try:
        data = files.content(item)
    except files.FileUnavailable as exc:
        return HttpResponse(exc.user_message, status=502, content_type="text/plain")
    inline = item.is_image or item.is_audio
    response = HttpResponse(
        data, content_type=item.content_type if inline else "application/octet-stream"
    )
    disposition = "inline" if inline else "attachment"
    response["Content-Disposition"] = (
        content_disposition_header(inline, item.filename) or disposition
    )
    # A file is never a page: no scripts, no sniffing it into HTML.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=86400"
    return response
