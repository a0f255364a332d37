"""A small world for the shell's browser tests: Alice with a one-to-one chat, a plain-mail
chat, a group and a contact request waiting for Bob."""

from __future__ import annotations

import time
from dataclasses import dataclass

from chat import services
from chat.delivery import send_message
from chat.models import Chat, Message
from tests.mailserver import add_mail_user, send_plain_mail


@dataclass
class World:
    alice: object
    bob: object
    chat: Chat
    group: Chat
    plain: Chat


def wait_for(predicate, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def make_world(make_person) -> World:
    alice, bob = make_person("alice"), make_person("bob")
    carol = add_mail_user("carol")
    chat = services.start_chat(user=alice.user, account=alice.account, address=bob.mail.email)
    send_message(user=alice.user, chat=chat, text="Hi Bob! Lunch on Friday?")
    group = services.create_group(
        user=alice.user,
        account=alice.account,
        name="Climbing club",
        addresses=[bob.mail.email, carol.email],
    )
    send_message(user=alice.user, chat=group, text="Who is in for Saturday?")
    send_plain_mail(
        sender=carol.email, to=alice.mail.email, subject="Photos", body="Here are the photos."
    )
    plain = wait_for(
        lambda: (
            Chat.objects.filter(account=alice.account, messages__text__contains="photos")
            .distinct()
            .first()
        ),
        what="Carol's mail to arrive",
    )
    # Bob has never written to Alice: her chat waits for him as a contact request.
    wait_for(
        lambda: Message.objects.filter(account=bob.account, text__contains="Lunch").exists(),
        what="Alice's message to reach Bob",
    )
    return World(alice=alice, bob=bob, chat=chat, group=group, plain=plain)
