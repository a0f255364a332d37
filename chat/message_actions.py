"""What a person does to a message: react, edit or delete their own for everyone.

Each applies here at once (the page updates) and sends Delta Chat's control message to
the chat, which the outbox delivers like any other.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from accounts.models import User
from chat import delivery, events
from chat.models import Message, Reaction
from mailcore.edits import build_delete, build_edit
from mailcore.reactions import build_reaction

QUICK_REACTIONS = ("👍", "❤️", "😂", "😮", "😢", "🙏")


def react(*, user: User, message: Message, emoji: str) -> None:
    """Set our reaction to `emoji`; the same emoji again, or an empty one, takes it back."""
    own = message.account.email
    _require_message(message)
    current = Reaction.objects.filter(message=message, sender=own).first()
    if current is not None and current.emoji == emoji:
        emoji = ""
    Reaction.objects.filter(message=message, sender=own).delete()
    if emoji:
        Reaction.objects.create(message=message, sender=own, emoji=emoji)
    Message.objects.filter(pk=message.pk).touch()
    events.push_message(message)
    delivery.send_control(
        user=user,
        chat=message.chat,
        build=lambda a: build_reaction(
            a.from_,
            a.to,
            message.message_id,
            emoji,
            message_id=a.message_id,
            date=a.date,
            references=(message.message_id,),
            subject=a.subject,
            extra_headers=a.group_headers,
        ),
    )


def edit(*, user: User, message: Message, text: str) -> None:
    _require_own(message)
    text = text.strip()
    old_text = message.text
    if not text or text == old_text:
        return
    Message.objects.filter(pk=message.pk).update(text=text, is_edited=True)
    message.refresh_from_db()
    events.push_message(message)
    delivery.send_control(
        user=user,
        chat=message.chat,
        build=lambda a: build_edit(
            a.from_,
            a.to,
            message.message_id,
            text,
            message_id=a.message_id,
            date=a.date,
            references=(message.message_id,),
            subject=a.subject,
            quoted_text=old_text,
            extra_headers=a.group_headers,
        ),
    )


def delete_for_everyone(*, user: User, message: Message) -> None:
    _require_own(message)
    if message.is_deleted:
        return
    Message.objects.filter(pk=message.pk).update(
        text="", quote_text="", folded_text="", html="", is_deleted=True
    )
    message.refresh_from_db()
    events.push_message(message)
    delivery.send_control(
        user=user,
        chat=message.chat,
        build=lambda a: build_delete(
            a.from_,
            a.to,
            (message.message_id,),
            message_id=a.message_id,
            date=a.date,
            references=(message.message_id,),
            subject=a.subject,
            extra_headers=a.group_headers,
        ),
    )


def _require_message(message: Message) -> None:
    if message.is_system or message.is_control or message.is_deleted:
        raise PermissionDenied("this message cannot be changed")


def _require_own(message: Message) -> None:
    """Only the author changes a message for everyone (coi-protocol 1.9, 3.9)."""
    _require_message(message)
    if not message.is_outgoing:
        raise PermissionDenied("only your own messages can be edited or deleted")
