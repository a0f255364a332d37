"""Chats, their messages, and where each message lives on the IMAP server."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.functional import cached_property

from accounts.models import MailAccount


class Chat(models.Model):
    """A conversation of one linked mailbox: with one other address, or a group."""

    class Kind(models.TextChoices):
        SINGLE = "single", "One to one"
        GROUP = "group", "Group"

    account = models.ForeignKey(MailAccount, on_delete=models.CASCADE, related_name="chats")
    kind = models.CharField(max_length=6, choices=Kind.choices, default=Kind.SINGLE)
    peer_address = models.CharField(max_length=254, blank=True)  # one-to-one chats only
    # Groups: Delta Chat's / COI's group id, or for an ad-hoc group of plain mail (no id on
    # the wire) a key made of its first name and member set (mailcore.groups.adhoc_group_key).
    group_id = models.CharField(max_length=64, blank=True)
    name = models.CharField(max_length=200, blank=True)
    last_activity_at = models.DateTimeField(db_index=True)
    last_message = models.ForeignKey(
        "Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # A contact request (Delta Chat's Blocked::Request): started by someone we never wrote
    # to; it waits in the requests list, unread on the server, until accepted.
    is_request = models.BooleanField(default=False)
    requested_by = models.CharField(max_length=254, blank=True)  # who started the request
    muted = models.BooleanField(default=False)
    archived = models.BooleanField(default=False)
    pinned = models.BooleanField(default=False)
    we_left = models.BooleanField(default=False)  # groups: we left, or were removed
    avatar = models.BinaryField(null=True, blank=True, editable=False)  # group image
    avatar_type = models.CharField(max_length=40, blank=True)
    avatar_version = models.PositiveIntegerField(default=0)  # in the image URL, for caches

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "peer_address"],
                condition=Q(kind="single"),
                name="one_chat_per_peer",
            ),
            models.UniqueConstraint(
                fields=["account", "group_id"],
                condition=Q(kind="group"),
                name="one_chat_per_group",
            ),
        ]
        indexes = [models.Index(fields=["account", "-last_activity_at"])]

    def __str__(self) -> str:
        return self.title

    @property
    def is_group(self) -> bool:
        return self.kind == self.Kind.GROUP

    @property
    def current_members(self):
        return self.members.filter(is_member=True)

    @property
    def has_avatar(self) -> bool:
        return bool(self.avatar_type)

    @property
    def list_id(self) -> str:
        """The id of the chat list this chat's row belongs in."""
        if self.is_request:
            return "request-list"
        return "archived-list" if self.archived else "chat-list"

    @property
    def title(self) -> str:
        if self.is_group:
            return self.name or "Group"
        return self.name or self.peer_address


class KnownAddress(models.Model):
    """An address a mailbox knows: we wrote to it, or accepted its chat. Its mail is no
    contact request."""

    account = models.ForeignKey(MailAccount, on_delete=models.CASCADE, related_name="+")
    address = models.CharField(max_length=254)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "address"], name="one_known_address")
        ]

    def __str__(self) -> str:
        return self.address


class BlockedAddress(models.Model):
    """An address whose mail is kept but hidden (no chat row, no push, no unread count)."""

    account = models.ForeignKey(MailAccount, on_delete=models.CASCADE, related_name="blocked")
    address = models.CharField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "address"], name="one_block_per_address")
        ]
        ordering = ["address"]

    def __str__(self) -> str:
        return self.address


class ChatMember(models.Model):
    """Someone in a group chat besides the mailbox's own address."""

    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="members")
    address = models.CharField(max_length=254)
    name = models.CharField(max_length=200, blank=True)
    # Past members stay as rows: Delta Chat's membership CRDT compares, per address, the
    # time of the last add or remove (Chat-Group-Member-Timestamps, unix seconds).
    is_member = models.BooleanField(default=True)
    changed_at = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["chat", "address"], name="one_membership_per_address")
        ]
        ordering = ["address"]

    def __str__(self) -> str:
        return self.name or self.address


class MessageQuerySet(models.QuerySet):
    def update(self, **fields):
        # Every change a page shows (state, text, reactions…) moves updated_at, so a page
        # whose socket was down can ask for what changed (see queries.conversation).
        fields.setdefault("updated_at", timezone.now())
        return super().update(**fields)

    def touch(self) -> int:
        """Mark as changed for pages: e.g. a reaction to these messages came or went."""
        return self.update()


class Message(models.Model):
    class Direction(models.TextChoices):
        INCOMING = "in", "Incoming"
        OUTGOING = "out", "Outgoing"

    class State(models.TextChoices):
        RECEIVED = "received", "Received"
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        READ = "read", "Read"
        FAILED = "failed", "Failed"

    # No index of their own: the unique (account, message_id) and the (chat, …) indexes
    # below lead with them, and every index costs history import time.
    account = models.ForeignKey(
        MailAccount, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    chat = models.ForeignKey(
        Chat, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    direction = models.CharField(max_length=3, choices=Direction.choices)
    state = models.CharField(max_length=10, choices=State.choices)
    message_id = models.CharField(max_length=998)
    from_address = models.CharField(max_length=254)
    from_name = models.CharField(max_length=200, blank=True)
    to_addresses = models.JSONField(default=list)
    subject = models.CharField(max_length=998, blank=True)
    text = models.TextField(blank=True)
    quote_text = models.TextField(blank=True)  # what a chat reply quoted (Delta Chat's "> ")
    is_edited = models.BooleanField(default=False)
    is_deleted = models.BooleanField(default=False)
    folded_text = models.TextField(blank=True)
    html = models.TextField(blank=True)
    is_chat = models.BooleanField(default=False)
    # A group change (rename, member added or removed): a line in the chat, not a bubble.
    is_system = models.BooleanField(default=False)
    # Ours, and only on the wire: a reaction, edit, delete or read receipt we send. Kept
    # as a row so the outbox sends it like any message; never shown.
    is_control = models.BooleanField(default=False)
    in_reply_to = models.CharField(max_length=998, blank=True)
    references = models.JSONField(default=list)
    problem = models.CharField(max_length=300, blank=True)
    # Only the first part of a large message was fetched; the rest comes when it is opened.
    is_partial = models.BooleanField(default=False)
    sent_at = models.DateTimeField(null=True, blank=True)
    sort_at = models.DateTimeField()
    seen = models.BooleanField(default=False)
    # Incoming only: where the sender asked for a read receipt (RFC 8098), and whether one
    # went out, from here or from another client of the mailbox ($MDNSent on the server).
    receipt_to = models.CharField(max_length=254, blank=True)
    receipt_sent = models.BooleanField(default=False)
    # Outgoing only: the exact bytes we send, so every retry sends the same message.
    raw_outgoing = models.BinaryField(null=True, blank=True, editable=False)
    send_attempts = models.PositiveSmallIntegerField(default=0)
    # When a worker claimed it for sending: a claim that grows old means that worker died.
    claimed_at = models.DateTimeField(null=True, blank=True)
    send_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = MessageQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "message_id"], name="one_row_per_message_id"
            ),
        ]
        indexes = [
            models.Index(fields=["chat", "sort_at", "id"]),
            models.Index(fields=["chat", "updated_at"]),
            models.Index(
                fields=["chat"], name="unread_incoming", condition=Q(direction="in", seen=False)
            ),
            # Whether a chat is a chat (chat.queries._is_chat): asked for every row of the
            # chat list, and a plain-email chat would otherwise read all its messages.
            models.Index(fields=["chat"], name="is_chat_messages", condition=Q(is_chat=True)),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} ({self.direction})"

    def save(self, *args, **kwargs):
        self.updated_at = timezone.now()
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "updated_at"}
        super().save(*args, **kwargs)

    @property
    def is_outgoing(self) -> bool:
        return self.direction == self.Direction.OUTGOING

    @property
    def can_retry(self) -> bool:
        return self.is_outgoing and self.state == self.State.FAILED

    # What a row shows. Pages set these for all their rows with one query each
    # (chat.queries: Prefetch to_attr, or an annotation); a lone message reads them here.
    @cached_property
    def files(self) -> list[Attachment]:
        return list(self.attachments.defer("data"))

    @cached_property
    def reaction_list(self) -> list[Reaction]:
        return list(self.reactions.all())

    @cached_property
    def has_html(self) -> bool:
        return bool(self.html)


class Attachment(models.Model):
    """A file in a message. Its bytes come from our own raw mail, or from the server when
    first opened (history import never downloads files), and are kept from then on."""

    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="attachments", db_index=False
    )  # one_row_per_attachment leads with it
    index = models.PositiveSmallIntegerField()  # position in ParsedMessage.attachments
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=127)
    size = models.PositiveBigIntegerField()
    is_voice = models.BooleanField(default=False)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    data = models.BinaryField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "index"], name="one_row_per_attachment")
        ]
        ordering = ["index"]

    def __str__(self) -> str:
        return self.filename

    @property
    def is_image(self) -> bool:
        # SVG can carry script: it is offered as a download, never shown inline.
        return self.content_type.startswith("image/") and self.content_type != "image/svg+xml"

    @property
    def is_audio(self) -> bool:
        return self.content_type.startswith("audio/")


class Reaction(models.Model):
    """One person's reaction to a message (RFC 9078: a new one replaces their last)."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reactions")
    sender = models.CharField(max_length=254)
    emoji = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "sender"], name="one_reaction_per_sender")
        ]

    def __str__(self) -> str:
        return f"{self.emoji} from {self.sender}"


class MessageCopy(models.Model):
    """One copy of a message in an IMAP folder; a message can have several (INBOX, Sent…)."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="copies")
    # one_copy_per_uid leads with it
    account = models.ForeignKey(
        MailAccount, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    folder = models.CharField(max_length=200)
    uidvalidity = models.BigIntegerField()
    uid = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "folder", "uidvalidity", "uid"], name="one_copy_per_uid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.folder} UID {self.uid} (validity {self.uidvalidity})"


class FolderState(models.Model):
    """How far a folder of a mailbox has been synced."""

    account = models.ForeignKey(MailAccount, on_delete=models.CASCADE, related_name="folder_states")
    folder = models.CharField(max_length=200)
    uidvalidity = models.BigIntegerField(null=True)
    last_uid = models.BigIntegerField(default=0)
    highest_modseq = models.BigIntegerField(null=True)
    # History import walks down from the UID the folder had when it was first synced.
    history_below = models.BigIntegerField(default=0)  # UIDs below this are still to import
    history_total = models.PositiveIntegerField(default=0)
    history_done = models.PositiveIntegerField(default=0)
    # UIDs of control messages (reactions, edits, receipts…) met in history: they are about
    # older mail, imported after them, so they are applied once all history is in.
    history_controls = models.JSONField(default=list, blank=True)
    synced_at = models.DateTimeField(null=True)
    flags_synced_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "folder"], name="one_state_per_folder")
        ]

    def __str__(self) -> str:
        return f"{self.folder} up to UID {self.last_uid}"

    @property
    def importing(self) -> bool:
        return self.history_below > 1
