"""Reads: permission-scoped getters (404 for anything not owned) and list queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import RowNumber
from django.http import Http404
from django.shortcuts import get_object_or_404

from accounts.models import MailAccount, User
from chat.models import Attachment, BlockedAddress, Chat, FolderState, KnownAddress, Message

# Messages per conversation page: 50 fill about three screens; older ones load on scrolling
# up. Rendering is the page's main cost (100 rows took about 70 ms at 10,000 messages).
PAGE_SIZE = 50

# Columns a message row never shows: wire data, and the HTML body (only whether there is
# one), which can be far larger than everything else in the row.
NOT_IN_ROWS = (
    "message_id",
    "to_addresses",
    "in_reply_to",
    "references",
    "html",
    "sent_at",
    "receipt_to",
    "raw_outgoing",
    "claimed_at",
    "created_at",
    "updated_at",
)
# A chat row's preview of its last message needs even less.
NOT_IN_PREVIEW = (*NOT_IN_ROWS, "quote_text", "folded_text", "problem", "send_error")


def _files(lookup: str) -> Prefetch:
    """A message's files for its row (`Message.files`): without their bytes, which are only
    read when one is opened."""
    return Prefetch(lookup, queryset=Attachment.objects.defer("data"), to_attr="files")


def get_account_for_user(user: User, account_id: int) -> MailAccount:
    return get_object_or_404(MailAccount, pk=account_id, user=user)


def get_group_for_user(user: User, chat_id: int) -> Chat:
    return get_object_or_404(
        Chat.objects.select_related("account").defer("avatar"),
        pk=chat_id,
        account__user=user,
        kind=Chat.Kind.GROUP,
    )


def _chats_of(user: User) -> QuerySet[Chat]:
    return (
        Chat.objects.filter(account__user=user)
        .select_related("account")
        .defer("avatar")
        .annotate(blocked=_flag(_peer_blocked()))
    )


def get_chat_for_user(user: User, chat_id: int) -> Chat:
    return get_object_or_404(_chats_of(user), pk=chat_id)


def open_chat_for_user(user: User, chat_id: int) -> Chat:
    """A chat being opened, as get_chat_for_user, with `first_unread`: the oldest shown
    incoming message not yet seen, where the "Unread messages" line goes; and `unseen`:
    whether any incoming message is left to mark read (shown or not)."""
    unseen = Message.objects.filter(chat=OuterRef("pk"), direction="in", seen=False)
    first = visible_messages(unseen.filter(is_control=False)).order_by("sort_at", "pk")
    return get_object_or_404(
        _chats_of(user).annotate(
            first_unread=Subquery(first.values("pk")[:1]), unseen=Exists(unseen)
        ),
        pk=chat_id,
    )


def get_single_chat_for_user(user: User, chat_id: int) -> Chat:
    """A one-to-one chat (its contact's page); 404 for groups and anything not owned."""
    chat = get_chat_for_user(user, chat_id)
    if chat.is_group:
        raise Http404("not a one-to-one chat")
    return chat


def get_group_avatar_for_user(user: User, chat_id: int) -> Chat:
    return get_object_or_404(
        Chat.objects.only("avatar", "avatar_type"),
        pk=chat_id,
        account__user=user,
        kind=Chat.Kind.GROUP,
    )


def get_block_for_user(user: User, block_id: int) -> BlockedAddress:
    return get_object_or_404(
        BlockedAddress.objects.select_related("account"), pk=block_id, account__user=user
    )


def blocked_addresses(account: MailAccount) -> QuerySet[BlockedAddress]:
    return account.blocked.all()


def _blocked(field: str) -> Exists:
    return Exists(
        BlockedAddress.objects.filter(account=OuterRef("account_id"), address=OuterRef(field))
    )


def _flag(condition) -> ExpressionWrapper:
    return ExpressionWrapper(condition, output_field=BooleanField())


def _peer_blocked():
    return Q(kind=Chat.Kind.SINGLE) & _blocked("peer_address")


def _visible(chats: QuerySet[Chat]) -> QuerySet[Chat]:
    """Without chats whose mail is hidden: one-to-one with a blocked address, or a request
    a blocked address started."""
    return chats.exclude(_peer_blocked()).exclude(Q(is_request=True) & _blocked("requested_by"))


def visible_messages(messages: QuerySet[Message]) -> QuerySet[Message]:
    """Without mail from blocked addresses (kept, and shown again once unblocked)."""
    return messages.exclude(_blocked("from_address"))


def get_message_for_user(user: User, message_id: int) -> Message:
    return get_object_or_404(
        Message.objects.select_related("chat", "account"), pk=message_id, account__user=user
    )


def get_attachment_for_user(user: User, attachment_id: int) -> Attachment:
    return get_object_or_404(
        Attachment.objects.select_related("message__account"),
        pk=attachment_id,
        message__account__user=user,
    )


def get_message_in_chat(chat: Chat, message_id: int) -> Message:
    return get_object_or_404(
        Message.objects.select_related("chat", "account"),
        pk=message_id,
        chat=chat,
        is_control=False,
    )


# Chat rows per page: a sidebar shows about fifteen; the next page loads when its "More
# chats" link scrolls into view.
CHAT_PAGE_SIZE = 30


def _unread() -> Subquery:
    """A chat's unread count, for its row (over the partial unread index)."""
    unread = visible_messages(
        Message.objects.filter(chat=OuterRef("pk"), direction="in", seen=False)
    )
    return Subquery(unread.values(n=Func("pk", function="COUNT")), output_field=IntegerField())


# The three lists a person's chats fall into (hidden ones are in none).
MAIN, REQUESTS, ARCHIVED = "main", "requests", "archived"
LISTS = (MAIN, REQUESTS, ARCHIVED)
# What a list shows: everything, chats (Chat-Version mail), or plain email.
ALL, CHATS, EMAIL = "all", "chats", "email"
FILTERS = (ALL, CHATS, EMAIL)


def _is_chat() -> Exists:
    """A chat is a chat (not plain email) once any of its messages carried Chat-Version."""
    return Exists(Message.objects.filter(chat=OuterRef("pk"), is_chat=True))


def _in_list(user: User, which: str, kind: str = ALL) -> QuerySet[Chat]:
    chats = _visible(Chat.objects.filter(account__user=user))
    if kind == CHATS:
        chats = chats.filter(_is_chat())
    elif kind == EMAIL:
        chats = chats.exclude(_is_chat())
    if which == REQUESTS:
        return chats.filter(is_request=True)
    return chats.filter(is_request=False, archived=which == ARCHIVED)


def _rows(chats: QuerySet[Chat]) -> QuerySet[Chat]:
    """What a chat row shows: its last message with its files, whether it is a chat, and
    its unread count."""
    return (
        chats.select_related("last_message")
        .prefetch_related(_files("last_message__attachments"))
        .defer("avatar", *(f"last_message__{name}" for name in NOT_IN_PREVIEW))
        .annotate(is_chat=_is_chat(), unread=_unread())
    )


ORDER = ("-pinned", "-last_activity_at", "-pk")


@dataclass(frozen=True)
class ChatPage:
    chats: list[Chat]
    more_offset: int | None  # where the next page starts, if there is one


def chat_page(
    user: User,
    *,
    which: str = MAIN,
    kind: str = ALL,
    offset: int = 0,
    limit: int = CHAT_PAGE_SIZE,
) -> ChatPage:
    """A page of one of the person's chat lists, pinned chats first, then by most recent
    activity, with unread counts; one row more is read to know whether another follows."""
    # The page is picked from the chats alone, and only its rows are joined to their last
    # messages: joining every chat before sorting costs more than the rest of the page.
    ids = _in_list(user, which, kind).order_by(*ORDER).values("pk")[offset : offset + limit + 1]
    rows = list(_rows(Chat.objects.filter(pk__in=ids)).order_by(*ORDER))
    more = offset + limit if len(rows) > limit else None
    return ChatPage(chats=rows[:limit], more_offset=more)


def chat_list(
    user: User,
    *,
    which: str = MAIN,
    kind: str = ALL,
    offset: int = 0,
    limit: int = CHAT_PAGE_SIZE,
) -> list[Chat]:
    return chat_page(user, which=which, kind=kind, offset=offset, limit=limit).chats


def on_first_pages(user: User, chat_ids: set[int]) -> set[int]:
    """Which of these chats are on the first page of one of the person's lists, with any
    filter: the rows a page shows until it asks for more. One pass over their chats."""
    if not chat_ids:
        return set()
    which = Case(
        When(is_request=True, then=Value(REQUESTS)),
        When(archived=True, then=Value(ARCHIVED)),
        default=Value(MAIN),
    )
    order = [F("pinned").desc(), F("last_activity_at").desc(), F("pk").desc()]
    ranked = (
        _visible(Chat.objects.filter(account__user=user))
        .annotate(
            is_chat=_is_chat(),
            rank=Window(RowNumber(), partition_by=[which], order_by=order),
        )
        .annotate(kind_rank=Window(RowNumber(), partition_by=[which, F("is_chat")], order_by=order))
        .filter(Q(rank__lte=CHAT_PAGE_SIZE) | Q(kind_rank__lte=CHAT_PAGE_SIZE))
    )
    # Not filtered on chat_ids in SQL: that would rank them among themselves only.
    return set(ranked.values_list("pk", flat=True)) & chat_ids


@dataclass(frozen=True)
class ListCounts:
    requests: int
    archived: int
    unread: int = 0  # unread messages in unmuted accepted chats: the tab title's number


def list_counts(user: User) -> ListCounts:
    """How many chats wait behind the "Contact requests" and "Archived" entries, and how
    many messages are unread in chats that are neither muted nor requests."""
    unread = visible_messages(
        Message.objects.filter(
            chat__in=_visible(
                Chat.objects.filter(account__user=user, is_request=False, muted=False)
            ),
            direction="in",
            seen=False,
        )
    ).values(n=Func("pk", function="COUNT"))
    counts = _visible(Chat.objects.filter(account__user=user)).aggregate(
        requests=Count("pk", filter=Q(is_request=True)),
        archived=Count("pk", filter=Q(is_request=False, archived=True)),
        # In the same query: PostgreSQL counts the unread messages once (an InitPlan);
        # Max only lifts the constant into the aggregate, and is None without any chat.
        unread=Max(Subquery(unread)),
    )
    return ListCounts(
        requests=counts["requests"], archived=counts["archived"], unread=counts["unread"] or 0
    )


def chat_row(chat_id: int) -> Chat | None:
    """One chat for a pushed row; `hidden` says it belongs in no list."""
    return _pushed_rows(Chat.objects.filter(pk=chat_id)).first()


def chat_rows(chat_ids: list[int]) -> list[Chat]:
    """Several chats for one push of their rows, as chat_row, with a fixed number of queries."""
    if not chat_ids:
        return []
    return list(_pushed_rows(Chat.objects.filter(pk__in=chat_ids)))


def _pushed_rows(chats: QuerySet[Chat]) -> QuerySet[Chat]:
    return _rows(chats.select_related("account")).annotate(
        hidden=_flag(_peer_blocked() | (Q(is_request=True) & _blocked("requested_by"))),
    )


KNOWN_ADDRESSES_LIMIT = 500


def known_addresses(user: User) -> list[str]:
    """Addresses the person's mailboxes wrote to or accepted, for suggestions; not blocked
    ones. Bounded."""
    rows = (
        KnownAddress.objects.filter(account__user=user)
        .exclude(_blocked("address"))
        .order_by("address")
        .values_list("address", flat=True)
        .distinct()[:KNOWN_ADDRESSES_LIMIT]
    )
    return list(rows)


SEARCH_MIN_LENGTH = 2
SEARCH_CHATS_LIMIT = 20
SEARCH_MESSAGES_LIMIT = 50


@dataclass(frozen=True)
class SearchResults:
    query: str
    chats: list[Chat]
    messages: list[Message]
    more_messages: bool  # the bound cut some off


def search(user: User, query: str) -> SearchResults:
    """Chats whose name or address, and messages whose text or subject, contain `query`:
    only in the person's own mailboxes and only what their lists would show (nothing of
    blocked addresses). Bounded; newest messages first."""
    query = query.strip()
    if len(query) < SEARCH_MIN_LENGTH:
        return SearchResults(query=query, chats=[], messages=[], more_messages=False)
    visible = _visible(Chat.objects.filter(account__user=user))
    chats = list(
        _rows(visible.filter(Q(name__icontains=query) | Q(peer_address__icontains=query))).order_by(
            *ORDER
        )[:SEARCH_CHATS_LIMIT]
    )
    messages = list(
        visible_messages(
            Message.objects.filter(
                account__user=user,
                chat__in=visible,
                is_control=False,
                is_deleted=False,
            )
        )
        .filter(Q(text__icontains=query) | Q(subject__icontains=query))
        .select_related("chat")
        .defer("chat__avatar", "html", "raw_outgoing", "folded_text")
        .order_by("-sort_at", "-pk")[: SEARCH_MESSAGES_LIMIT + 1]
    )
    return SearchResults(
        query=query,
        chats=chats,
        messages=messages[:SEARCH_MESSAGES_LIMIT],
        more_messages=len(messages) > SEARCH_MESSAGES_LIMIT,
    )


# A change is stamped before its transaction commits, so a page rendered in between can
# miss it although its cursor is later: refetches reach back this far.
CHANGE_MARGIN = timedelta(seconds=10)


def _message_rows(messages: QuerySet[Message]) -> QuerySet[Message]:
    """Messages as rows render them: reactions, files without bytes, whether there is an
    HTML body, and the pk of the message a reply quotes (when it is stored), for jumping
    to it. To a list, not a queryset per row: that costs more than the row's query."""
    quoted = Message.objects.filter(
        account_id=OuterRef("account_id"), message_id=OuterRef("in_reply_to"), is_control=False
    ).values("pk")[:1]
    return (
        messages.defer(*NOT_IN_ROWS)
        .prefetch_related(
            Prefetch("reactions", to_attr="reaction_list"),
            _files("attachments"),
        )
        .annotate(reply_pk=Subquery(quoted), has_html=_flag(~Q(html="")))
    )


def _shown(chat: Chat) -> QuerySet[Message]:
    """The chat's shown messages; each row's `chat` is `chat` itself (no join)."""
    return _message_rows(visible_messages(chat.messages.filter(is_control=False)))


def conversation(
    chat: Chat, *, after: int | None = None, changed_since: datetime | None = None
) -> list[Message]:
    """The latest page of a chat in display order; or, for a page catching up, everything
    newer than message `after` plus what changed since `changed_since`."""
    if after is None:
        return conversation_page(chat).messages
    missed = Q(pk__gt=after)
    if changed_since is not None:
        missed |= Q(updated_at__gte=changed_since - CHANGE_MARGIN)
    return list(_shown(chat).filter(missed).order_by("sort_at", "pk"))


@dataclass(frozen=True)
class ConversationPage:
    messages: list[Message]  # in display order, oldest first
    older: int | None  # the cursor (`before`) for the page above this one, if there is one


def conversation_page(
    chat: Chat, *, before: int | None = None, size: int | None = None
) -> ConversationPage:
    """The latest page of a chat, or the page just older than message `before`."""
    size = size or PAGE_SIZE
    messages = _shown(chat)
    if before is not None:
        # The cursor's own position in display order; a pk from another chat matches nothing.
        at = Subquery(chat.messages.filter(pk=before).values("sort_at")[:1])
        messages = messages.filter(Q(sort_at__lt=at) | Q(sort_at=at, pk__lt=before))
    rows = list(messages.order_by("-sort_at", "-pk")[: size + 1])
    page = rows[:size]
    page.reverse()
    return ConversationPage(messages=page, older=page[0].pk if len(rows) > size else None)


def message_for_push(message_id: int) -> Message | None:
    return (
        _message_rows(Message.objects.filter(pk=message_id))
        .select_related("chat")
        .defer("chat__avatar")
        .first()
    )


@dataclass(frozen=True)
class ImportProgress:
    account_id: int
    email: str
    done: int
    total: int
    running: bool

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, round(100 * self.done / self.total))


def import_progress(account: MailAccount) -> ImportProgress:
    """How far the history import of a mailbox has come, over all its chat folders."""
    totals = FolderState.objects.filter(account=account).aggregate(
        done=Sum("history_done"),
        total=Sum("history_total"),
        running=Count("pk", filter=Q(history_below__gt=1)),
    )
    return ImportProgress(
        account_id=account.pk,
        email=account.email,
        done=totals["done"] or 0,
        total=totals["total"] or 0,
        running=bool(totals["running"]),
    )


@dataclass(frozen=True)
class MailboxNotices:
    linked: bool  # the person has linked a mailbox at all
    imports: list[ImportProgress]  # history imports still running
    troubled: list[MailAccount]  # failed to sync or paused (a rejected password)


def mailbox_notices(user: User) -> MailboxNotices:
    """What the chat list says about the person's mailboxes, from one query (plus one per
    import still running)."""
    importing = Exists(FolderState.objects.filter(account=OuterRef("pk"), history_below__gt=1))
    mailboxes = list(
        user.mail_accounts.only("user", "email", "is_active", "last_error").annotate(
            importing=importing
        )
    )
    return MailboxNotices(
        linked=bool(mailboxes),
        imports=[import_progress(a) for a in mailboxes if a.importing],
        troubled=[a for a in mailboxes if not a.is_active or a.last_error],
    )
