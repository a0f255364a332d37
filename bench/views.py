"""Chat list and conversation page: render time and SQL queries per request, large vs small.

Builds one person with 1,000 chats and 10,000 messages directly in the database (bulk
inserts: realistic texts, subjects and dates over two years, a share of them unread),
then requests the chat list (`/`) and the conversation page of the busiest chat
(`/chats/<id>/`) through Django's test Client, each --runs times, and reports the median
and the number of SQL queries per request. The same is done for a person with 10 chats
and 100 messages, to show that the query counts do not grow with the data. Everything
it created is deleted at the end.

Run: ./run bench views [--chats 1000] [--messages 10000] [--runs 20]     Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coiweb.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts import crypto  # noqa: E402
from accounts.models import MailAccount, User  # noqa: E402
from chat import queries  # noqa: E402
from chat.models import Chat, Message  # noqa: E402

# Word pools, one string each (split once below).
WORD_TEXT = """
the a to and of in is it you that for on we this be have with are not at can will
tomorrow today meeting lunch train late kids school weekend photos trip invoice draft
report review thanks sure okay great sounds good call later back home office project
deadline budget garden dinner birthday present holiday flight hotel booking doctor
appointment car repair keys bread milk coffee tea rain sunny cold warm monday friday
"""
FIRST_NAME_TEXT = """
Anna Ben Carla David Eva Felix Greta Hugo Ines Jonas Klara Luca Mia Noah Olga Paul
Rosa Sam Tina Uwe Vera Willi Xenia Yusuf Zoe
"""
LAST_NAME_TEXT = "Meyer Schmidt Rossi Dubois Novak Silva Jensen Kowalski Nagy Moreau Lindqvist"
WORDS = WORD_TEXT.split()
FIRST_NAMES = FIRST_NAME_TEXT.split()
LAST_NAMES = LAST_NAME_TEXT.split()
SUBJECTS = (
    "Weekend plans",
    "Invoice March",
    "Re: the draft",
    "Photos from the trip",
    "Quick question",
    "Meeting notes",
    "Fwd: booking confirmation",
    "Dinner on Friday?",
    "Project update",
    "Your order has shipped",
)
SPAN = timedelta(days=730)
UNREAD_CHAT_SHARE = 0.1  # chats whose latest incoming messages are unread


@dataclass
class Dataset:
    user: User
    account: MailAccount
    busiest_chat: Chat
    chats: int
    messages: int
    unread: int


def sentence(rng: random.Random, low: int = 3, high: int = 14) -> str:
    words = rng.choices(WORDS, k=rng.randint(low, high))
    return " ".join(words).capitalize() + rng.choice(".?!.")


def message_counts(rng: random.Random, chats: int, messages: int) -> list[int]:
    """Zipf-like: a few busy chats, a long tail of chats with a message or two."""
    counts = [1] * chats
    weights = [1 / (rank + 1) for rank in range(chats)]
    for index in rng.choices(range(chats), weights=weights, k=messages - chats):
        counts[index] += 1
    return counts


def make_person(prefix: str) -> tuple[User, MailAccount]:
    token = uuid.uuid4().hex[:8]
    user = User.objects.create_user(username=f"{prefix}-{token}", password=uuid.uuid4().hex)
    account = MailAccount.objects.create(
        user=user,
        email=f"{prefix}-{token}@bench.example.org",
        login=f"{prefix}-{token}@bench.example.org",
        password_encrypted=crypto.encrypt("unused"),
        imap_host="127.0.0.1",
        imap_port=1,
        imap_security=MailAccount.Security.SSL,
        smtp_host="127.0.0.1",
        smtp_port=1,
        smtp_security=MailAccount.Security.SSL,
        capabilities=["IDLE"],
        # Inactive: a watcher running on the same database must not try to log in.
        is_active=False,
    )
    return user, account


def chat_messages(
    rng: random.Random, account: MailAccount, chat: Chat, count: int, now
) -> list[Message]:
    """`count` messages of one chat, oldest first, spread over the last two years."""
    is_chat_peer = rng.random() < 0.5
    times = sorted(now - SPAN * rng.random() for _ in range(count))
    messages = []
    for when in times:
        incoming = rng.random() < 0.6
        is_mail = not is_chat_peer or rng.random() < 0.1
        quoted = is_mail and rng.random() < 0.3
        text = " ".join(sentence(rng) for _ in range(rng.randint(3, 8) if is_mail else 1))
        messages.append(
            Message(
                account=account,
                chat=chat,
                direction=Message.Direction.INCOMING if incoming else Message.Direction.OUTGOING,
                state=Message.State.RECEIVED if incoming else Message.State.SENT,
                message_id=f"<{'chat$' if not is_mail else ''}{uuid.uuid4().hex}@bench.example.org>",
                from_address=chat.peer_address if incoming else account.email,
                from_name=chat.name if incoming else "",
                to_addresses=[account.email if incoming else chat.peer_address],
                subject=rng.choice(SUBJECTS) if is_mail else "",
                text=text,
                folded_text="> " + "\n> ".join(sentence(rng) for _ in range(4)) if quoted else "",
                html=f"<p>{text}</p>" if is_mail and rng.random() < 0.3 else "",
                is_chat=not is_mail,
                sent_at=when,
                sort_at=when,
                seen=True,
            )
        )
    return messages


def mark_some_unread(rng: random.Random, messages: list[Message]) -> int:
    """The newest 1-5 incoming messages of some chats stay unread."""
    if rng.random() >= UNREAD_CHAT_SHARE:
        return 0
    incoming = [m for m in messages if m.direction == Message.Direction.INCOMING]
    newest = incoming[-rng.randint(1, 5) :] if incoming else []
    for message in newest:
        message.seen = False
    return len(newest)


def build(prefix: str, chats: int, messages: int, seed: int) -> Dataset:
    rng = random.Random(seed)
    user, account = make_person(prefix)
    now = timezone.now()
    chat_rows = Chat.objects.bulk_create(
        [
            Chat(
                account=account,
                peer_address=f"peer{i:04d}@{rng.choice(['example.com', 'mail.example.net'])}",
                name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                last_activity_at=now,
            )
            for i in range(chats)
        ]
    )
    rows: list[Message] = []
    unread = 0
    per_chat = []
    for chat, count in zip(chat_rows, message_counts(rng, chats, messages), strict=True):
        batch = chat_messages(rng, account, chat, count, now)
        unread += mark_some_unread(rng, batch)
        per_chat.append((chat, batch))
        rows.extend(batch)
    Message.objects.bulk_create(rows, batch_size=1000)  # PostgreSQL sets the pks
    for chat, batch in per_chat:
        chat.last_message = batch[-1]
        chat.last_activity_at = batch[-1].sort_at
    Chat.objects.bulk_update(chat_rows, ["last_message", "last_activity_at"], batch_size=1000)
    busiest = max(per_chat, key=lambda pair: len(pair[1]))[0]
    return Dataset(user, account, busiest, chats, messages, unread)


def timed_get(client: Client, url: str) -> tuple[float, int, int]:
    """One request: (milliseconds, SQL queries, response bytes)."""
    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        response = client.get(url)
        elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}")
    return elapsed, len(captured.captured_queries), len(response.content)


def measure_page(client: Client, url: str, runs: int) -> dict:
    timed_get(client, url)  # warm-up: templates, the pool, and marking the chat read
    results = [timed_get(client, url) for _ in range(runs)]
    return {
        "ms": round(statistics.median(r[0] for r in results), 1),
        "max_ms": round(max(r[0] for r in results), 1),
        "queries": max(r[1] for r in results),
        "kb": round(results[-1][2] / 1024, 1),
    }


def measure_chat_list_query(user: User, runs: int) -> float:
    """The chat list query alone (no template), to separate SQL from rendering."""
    list(queries.chat_list(user))
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        list(queries.chat_list(user))
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1)


def measure(data: Dataset, runs: int) -> dict:
    client = Client(HTTP_HOST="localhost")  # "testserver" is not in ALLOWED_HOSTS
    client.force_login(data.user)
    chat_list = measure_page(client, "/", runs)
    conversation = measure_page(client, f"/chats/{data.busiest_chat.pk}/", runs)
    query_ms = measure_chat_list_query(data.user, runs)
    in_chat = data.busiest_chat.messages.count()
    print(
        f"  {data.chats} chats / {data.messages} messages ({data.unread} unread):\n"
        f"    chat list     {chat_list['ms']:7.1f} ms (max {chat_list['max_ms']}) "
        f"{chat_list['queries']:2d} queries {chat_list['kb']:7.1f} KB; "
        f"its chat_list() query alone {query_ms} ms\n"
        f"    conversation  {conversation['ms']:7.1f} ms (max {conversation['max_ms']}) "
        f"{conversation['queries']:2d} queries {conversation['kb']:7.1f} KB "
        f"(a chat with {in_chat} messages)",
        flush=True,
    )
    return {"chat_list": chat_list, "conversation": conversation, "query_ms": query_ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the generated people")
    args = parser.parse_args()
    if args.messages < args.chats:
        parser.error("--messages must be at least --chats")

    call_command("migrate", verbosity=0)
    created: list[User] = []
    try:
        started = time.perf_counter()
        large = build("bench-views", args.chats, args.messages, seed=1)
        created.append(large.user)
        print(
            f"built {args.chats} chats / {args.messages} messages for {large.user.username} "
            f"in {time.perf_counter() - started:.1f}s",
            flush=True,
        )
        small = build("bench-views-small", 10, 100, seed=2)
        created.append(small.user)
        print(f"measuring {args.runs} runs per page (median)", flush=True)
        big = measure(large, args.runs)
        little = measure(small, args.runs)
    finally:
        if not args.keep:
            for user in created:
                user.delete()  # cascades to the mailbox, its chats and messages
            print(f"deleted {len(created)} generated people", flush=True)

    print(
        json.dumps(
            {
                "chat_list_ms": big["chat_list"]["ms"],
                "conversation_ms": big["conversation"]["ms"],
                "chat_list_queries": big["chat_list"]["queries"],
                "conversation_queries": big["conversation"]["queries"],
                "small_chat_list_queries": little["chat_list"]["queries"],
                "small_conversation_queries": little["conversation"]["queries"],
                "chat_list_query_ms": big["query_ms"],
                "chat_list_kb": big["chat_list"]["kb"],
                "small_chat_list_ms": little["chat_list"]["ms"],
                "small_conversation_ms": little["conversation"]["ms"],
            }
        )
    )


if __name__ == "__main__":
    main()
