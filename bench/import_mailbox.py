"""Importing a full mailbox when it is linked: speed against the server's ceiling.

Builds a realistic mailbox for a fresh user on the local Dovecot: chat messages
(`Chat-Version: 1.0`, `<chat$…>` Message-IDs) and plain mail (some HTML newsletters, some
multipart with a small attachment, replies quoting what they answer), from a few hundred
correspondents, dated over the last two years, oldest first. Incoming mail is injected
through LMTP (one connection, one transaction per message), our own mail is APPENDed to
Sent over IMAP (one APPEND per message, no MULTIAPPEND); all but the newest few percent
are then flagged \\Seen.

Then it measures (a) the ceiling: a bare imapclient fetch of every message of INBOX and
Sent, `BODY.PEEK[]` in batches of 200 (and, for scale, mailcore's parser alone on 1,000 of
them), and (b) coiweb's import: accounts.services.link_mailbox, then
chat.sync.sync_mailbox once more, with the Celery tasks they queue run inside this process
(--tasks worker: a worker thread on a private in-memory broker, one task after another as
on a real worker; --tasks eager: task_always_eager, every task inline where it is queued).
The time counts until every message has a row. A second thread polls
chat.queries.chat_list every 100 ms to find when the first chat shows. Peak RSS is this
process's (getrusage); peak_child_rss_mb is its largest child's (the history import's fetch
process). The coiweb person is deleted at the end; the mail user stays.

Run: ./run bench import_mailbox [--messages 10000] [--tasks worker|eager] [--profile]     Last line: JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import logging
import os
import pstats
import random
import resource
import smtplib
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coiweb.settings")

import django  # noqa: E402

django.setup()

from celery.contrib.testing.worker import start_worker  # noqa: E402
from celery.signals import worker_ready  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from imapclient import IMAPClient  # noqa: E402
from imapclient.exceptions import IMAPClientError  # noqa: E402

from accounts import services  # noqa: E402
from accounts.models import User  # noqa: E402
from chat import queries, sync  # noqa: E402
from chat.models import Message  # noqa: E402
from coiweb.celery import app as celery_app  # noqa: E402
from mailcore.parse import parse_message  # noqa: E402
from tests.mailserver import MailUser, add_mail_user, mail_server  # noqa: E402

FETCH_BATCH = 200
SPAN = timedelta(days=730)
OUTGOING_SHARE = 0.1  # our own mail, in Sent
UNREAD_SHARE = 0.03  # the newest incoming messages stay unread
# Word pools, one string each (split once below).
WORD_TEXT = """
the a to and of in is it you that for on we this be have with are not at can will
tomorrow today meeting lunch train late kids school weekend photos trip invoice draft
report review thanks sure okay great sounds good call later back home office project
deadline budget garden dinner birthday present holiday flight hotel booking doctor
appointment car repair keys bread milk coffee tea rain sunny cold warm monday friday
café naïve über größe déjà señor
"""
FIRST_NAME_TEXT = """
Anna Ben Carla David Eva Felix Greta Hugo Ines Jonas Klara Luca Mia Noah Olga Paul
Rosa Sam Tina Uwe Vera Willi Xenia Yusuf Zoë Åsa Jürgen
"""
LAST_NAME_TEXT = "Meyer Schmidt Rossi Dubois Novak Silva Jensen Kowalski Nagy Moreau Lindqvist"
WORDS = WORD_TEXT.split()
FIRST_NAMES = FIRST_NAME_TEXT.split()
LAST_NAMES = LAST_NAME_TEXT.split()
DOMAINS = ("example.com", "mail.example.net", "posteo.example", "uni.example.edu", "gmx.example")
SUBJECTS = (
    "Weekend plans",
    "Invoice {n}",
    "Photos from the trip",
    "Quick question",
    "Meeting notes {n}",
    "Booking confirmation #{n}",
    "Dinner on Friday?",
    "Project update",
    "The draft, version {n}",
    "Keys",
)
ATTACHMENTS = (
    ("application", "pdf", "invoice.pdf"),
    ("image", "jpeg", "IMG_{n}.jpg"),
    ("text", "calendar", "invite.ics"),
)


def sentence(rng: random.Random, low: int = 3, high: int = 14) -> str:
    return " ".join(rng.choices(WORDS, k=rng.randint(low, high))).capitalize() + rng.choice(".?!.")


def paragraph(rng: random.Random, sentences: int) -> str:
    return " ".join(sentence(rng) for _ in range(sentences))


@dataclass
class Correspondent:
    name: str
    address: str
    kind: str  # "chat" (a Delta Chat user), "mail" (a person), "news" (a newsletter)
    last: tuple[str, str, datetime] | None = None  # Message-ID, text, date of the last mail


class MailboxGenerator:
    """Yields (folder, raw bytes) oldest first for a person `owner` at `owner_address`."""

    def __init__(self, owner_address: str, correspondents: int, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.me = Correspondent("Robin Example", owner_address, "me")
        self.people = [self._correspondent(i) for i in range(correspondents)]
        self.weights = [1 / (rank + 1) ** 0.9 for rank in range(correspondents)]

    def _correspondent(self, i: int) -> Correspondent:
        rng = self.rng
        roll = rng.random()
        if roll < 0.05:
            return Correspondent(f"Newsletter {i}", f"news{i}@letters.example.com", "news")
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        kind = "chat" if roll < 0.35 else "mail"
        address = f"{first.lower()}.{last.lower()}{i}@{rng.choice(DOMAINS)}"
        return Correspondent(f"{first} {last}", address.encode("ascii", "ignore").decode(), kind)

    def messages(self, count: int):
        now = datetime.now(UTC)
        dates = sorted(now - SPAN * self.rng.random() for _ in range(count))
        for n, date in enumerate(dates):
            peer = self.rng.choices(self.people, weights=self.weights)[0]
            outgoing = peer.kind != "news" and self.rng.random() < OUTGOING_SHARE
            sender, recipient = (self.me, peer) if outgoing else (peer, self.me)
            if peer.kind == "chat":
                message = self._chat(sender, recipient, peer, date)
            elif peer.kind == "news":
                message = self._newsletter(peer, date, n)
            else:
                message = self._mail(sender, recipient, peer, date, n)
            yield ("Sent" if outgoing else "INBOX"), message.as_bytes()

    def _headers(self, sender, recipient, date: datetime, message_id: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = formataddr((sender.name, sender.address))
        message["To"] = formataddr((recipient.name, recipient.address))
        message["Date"] = format_datetime(date)
        message["Message-ID"] = message_id
        return message

    def _thread(self, message: EmailMessage, peer: Correspondent) -> bool:
        """Make `message` answer the peer's last one half of the time; True if it does."""
        if peer.last is None or self.rng.random() < 0.5:
            return False
        message["In-Reply-To"] = peer.last[0]
        message["References"] = peer.last[0]
        return True

    def _chat(self, sender, recipient, peer: Correspondent, date: datetime) -> EmailMessage:
        message_id = f"<chat${uuid.uuid4().hex}@{sender.address.split('@')[1]}>"
        message = self._headers(sender, recipient, date, message_id)
        message["Subject"] = f"Message from {sender.name}"
        message["Chat-Version"] = "1.0"
        self._thread(message, peer)
        text = paragraph(self.rng, self.rng.randint(1, 2))
        message.set_content(text)
        peer.last = (message_id, text, date)
        return message

    def _mail(self, sender, recipient, peer: Correspondent, date: datetime, n: int):
        rng = self.rng
        message_id = f"<{uuid.uuid4().hex}@{sender.address.split('@')[1]}>"
        message = self._headers(sender, recipient, date, message_id)
        text = "\n\n".join(paragraph(rng, rng.randint(2, 5)) for _ in range(rng.randint(1, 4)))
        if self._thread(message, peer):
            message["Subject"] = f"Re: {rng.choice(SUBJECTS).format(n=n)}"
            quoted = "\n".join(f"> {line}" for line in peer.last[1].splitlines())
            text += f"\n\nOn {format_datetime(peer.last[2])}, {peer.name} wrote:\n{quoted}"
        else:
            message["Subject"] = rng.choice(SUBJECTS).format(n=n)
        text += f"\n\n-- \n{sender.name}\n{sender.address}\n"
        message.set_content(text)
        if rng.random() < 0.12:
            maintype, subtype, filename = rng.choice(ATTACHMENTS)
            message.add_attachment(
                rng.randbytes(rng.randint(2_000, 40_000)),
                maintype=maintype,
                subtype=subtype,
                filename=filename.format(n=n),
            )
        peer.last = (message_id, text, date)
        return message

    def _newsletter(self, peer: Correspondent, date: datetime, n: int) -> EmailMessage:
        rng = self.rng
        message = self._headers(
            peer, self.me, date, f"<news.{uuid.uuid4().hex}@letters.example.com>"
        )
        message["Subject"] = f"{peer.name}: issue {n}"
        message["List-Unsubscribe"] = f"<https://letters.example.com/u/{n}>"
        sections = [paragraph(rng, rng.randint(3, 6)) for _ in range(rng.randint(3, 8))]
        html = "".join(
            f'<tr><td style="padding:12px;font-family:Arial"><h2>{s[:30]}</h2><p>{s}</p>'
            f'<a href="https://letters.example.com/a/{n}/{i}">Read more</a></td></tr>'
            for i, s in enumerate(sections)
        )
        html = f'<html><body><table width="600" align="center">{html}</table></body></html>'
        if rng.random() < 0.2:
            message.set_content(html, subtype="html")  # HTML only
        else:
            message.set_content("\n\n".join(sections))
            message.add_alternative(html, subtype="html")
        return message


# ---------------------------------------------------------------- building the mailbox


def lmtp_port() -> int:
    if "COIWEB_LMTP_PORT" in os.environ:
        return int(os.environ["COIWEB_LMTP_PORT"])
    out = subprocess.run(
        [str(ROOT / "scripts" / "mailserver.sh"), "env"], check=True, capture_output=True, text=True
    ).stdout
    values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return int(values["COIWEB_LMTP_PORT"])


def imap_login(user: MailUser) -> IMAPClient:
    server = mail_server()
    client = IMAPClient(
        server.host, port=server.imaps_port, ssl=True, ssl_context=server.ssl_context()
    )
    client.login(user.email, user.password)
    return client


def sent_folder(client: IMAPClient) -> str:
    for flags, _delimiter, name in client.list_folders():
        if b"\\Sent" in flags:
            return name
    client.create_folder("Sent")
    return "Sent"


class Injector:
    """Puts messages into a mailbox: INBOX through LMTP, Sent through IMAP APPEND.

    Connections are reopened after a failure (the shared local mail server gets reloaded
    by other runs now and then) and the message is tried again.
    """

    RETRIES = 5

    def __init__(self, user: MailUser) -> None:
        self.user = user
        self.lmtp: smtplib.LMTP | None = None
        self.imap: IMAPClient | None = None
        self.sent = ""

    def put(self, folder: str, raw: bytes) -> None:
        for attempt in range(self.RETRIES):
            try:
                if folder == "INBOX":
                    self._lmtp().sendmail("bench@letters.example.com", [self.user.email], raw)
                else:
                    self._imap().append(self.sent, raw, flags=(b"\\Seen",))
                return
            except (OSError, smtplib.SMTPException, IMAPClientError) as exc:
                print(f"  {folder}: {exc!r}; reconnecting", flush=True)
                self.close()
                time.sleep(2**attempt)
        raise RuntimeError(f"could not inject into {folder} after {self.RETRIES} attempts")

    def _lmtp(self) -> smtplib.LMTP:
        if self.lmtp is None:
            self.lmtp = smtplib.LMTP(mail_server().host, lmtp_port())
        return self.lmtp

    def _imap(self) -> IMAPClient:
        if self.imap is None:
            self.imap = imap_login(self.user)
            self.sent = sent_folder(self.imap)
        return self.imap

    def mark_read(self, share: float) -> None:
        """Flag the oldest `share` of INBOX as \\Seen (LMTP delivers everything unread)."""
        client = self._imap()
        client.select_folder("INBOX")
        uids = client.search(["ALL"])
        read = uids[: int(len(uids) * share)]
        for start in range(0, len(read), 1000):
            client.add_flags(read[start : start + 1000], [b"\\Seen"], silent=True)

    def close(self) -> None:
        for connection_, closing in ((self.lmtp, "quit"), (self.imap, "logout")):
            if connection_ is not None:
                with contextlib.suppress(Exception):
                    getattr(connection_, closing)()
        self.lmtp = self.imap = None


def build_mailbox(user: MailUser, count: int, correspondents: int) -> dict:
    """Inject `count` messages; return how many went where and how fast."""
    generator = MailboxGenerator(user.email, correspondents)
    injector = Injector(user)
    done = {"INBOX": 0, "Sent": 0}
    spent = {"INBOX": 0.0, "Sent": 0.0}
    started = time.monotonic()
    try:
        for folder, raw in generator.messages(count):
            t0 = time.perf_counter()
            injector.put(folder, raw)
            spent[folder] += time.perf_counter() - t0
            done[folder] += 1
            if (done["INBOX"] + done["Sent"]) % 1000 == 0:
                print(f"  injected {done['INBOX'] + done['Sent']}/{count}", flush=True)
        injector.mark_read(1 - UNREAD_SHARE)
    finally:
        injector.close()
    return {
        "inbox": done["INBOX"],
        "sent": done["Sent"],
        "lmtp_per_s": round(done["INBOX"] / spent["INBOX"], 1) if spent["INBOX"] else None,
        "append_per_s": round(done["Sent"] / spent["Sent"], 1) if spent["Sent"] else None,
        "seconds": round(time.monotonic() - started, 1),
    }


# ---------------------------------------------------------------- measuring


def ceiling(user: MailUser, keep: int = 1000) -> tuple[int, float, list[bytes]]:
    """Fetch every message of INBOX and Sent as bare imapclient can: (count, seconds, and
    the first `keep` raw messages, for timing the parser on its own)."""
    client = imap_login(user)
    started = time.perf_counter()
    fetched = 0
    sample: list[bytes] = []
    for folder in ("INBOX", sent_folder(client)):
        client.select_folder(folder, readonly=True)
        uids = client.search(["ALL"])
        for start in range(0, len(uids), FETCH_BATCH):
            response = client.fetch(uids[start : start + FETCH_BATCH], ["BODY.PEEK[]"])
            raws = [data[b"BODY[]"] for data in response.values() if b"BODY[]" in data]
            fetched += len(raws)
            sample.extend(raws[: keep - len(sample)])
    seconds = time.perf_counter() - started
    client.logout()
    return fetched, seconds, sample


def parse_rate(raws: list[bytes]) -> float:
    """Messages per second mailcore's parser alone manages on this machine (one thread)."""
    started = time.perf_counter()
    for raw in raws:
        parse_message(raw)
    return len(raws) / (time.perf_counter() - started)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Progress(threading.Thread):
    """Every 100 ms: does the chat list show a chat yet, and how many messages are stored."""

    def __init__(self, user: User, expected: int, started: float) -> None:
        super().__init__(daemon=True)
        self.user, self.expected, self.started = user, expected, started
        self.first_chat_list_s: float | None = None
        self.all_stored_s: float | None = None
        self.stored = 0
        self.done = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        last_print = 0.0
        try:
            while not self.stop.is_set():
                elapsed = time.monotonic() - self.started
                if self.first_chat_list_s is None and list(queries.chat_list(self.user)[:1]):
                    self.first_chat_list_s = elapsed
                    print(f"  {elapsed:6.2f}s first chat in the chat list", flush=True)
                self.stored = Message.objects.filter(account__user=self.user).count()
                if self.stored >= self.expected:
                    self.all_stored_s = elapsed
                    self.done.set()
                    return
                if elapsed - last_print >= 5:
                    print(f"  {elapsed:6.1f}s stored {self.stored}/{self.expected}", flush=True)
                    last_print = elapsed
                time.sleep(0.1)
        finally:
            connection.close()


def link(user: User, mail: MailUser) -> None:
    server = mail_server()
    account = services.link_mailbox(
        user=user,
        mailbox=services.MailboxSettings(
            email=mail.email,
            password=mail.password,
            login=mail.email,
            display_name="Robin Example",
            imap=server.imaps,
            smtp=server.submission,
        ),
    )
    sync.sync_mailbox(account.pk)


def profiled(function, *args, top: int = 25) -> None:
    """Run function(*args) under cProfile and print where the time went."""
    profile = cProfile.Profile()
    try:
        profile.runcall(function, *args)
    finally:
        stats = pstats.Stats(profile, stream=sys.stdout)
        stats.sort_stats("cumulative").print_stats(r"/(chat|mailcore|accounts)/", top)
        stats.sort_stats("tottime").print_stats(top)


@contextlib.contextmanager
def tasks_in_process(mode: str):
    """Run the Celery tasks that linking queues inside this process.

    "worker": a Celery worker thread (solo pool) on a private in-memory broker, so tasks run
    one after another as on a real worker, and no other worker on Redis can take them.
    "eager": task_always_eager; every task runs inline where it is queued, so a task queued
    by another (the history import queued by the first sync) runs nested inside it.
    """
    if mode == "eager":
        celery_app.conf.task_always_eager = True
        yield
        return
    logging.getLogger("celery").setLevel(logging.WARNING)  # no line per task
    logging.getLogger("kombu").setLevel(logging.ERROR)
    celery_app.conf.broker_url = "memory://"
    celery_app.conf.broker_transport_options = {"polling_interval": 0.02}
    # At start a worker may queue a sync of every mailbox in the database (catching up
    # after a crash); here that would import other people's mailboxes, so no start hooks.
    hooks, worker_ready.receivers = worker_ready.receivers, []
    try:
        with start_worker(
            celery_app,
            pool="solo",
            concurrency=1,
            perform_ping_check=False,
            shutdown_timeout=120,
            loglevel="WARNING",
        ):
            yield
    finally:
        worker_ready.receivers = hooks


def import_mailbox(mail: MailUser, args: argparse.Namespace) -> dict:
    """Link the mailbox, run its tasks here, and time until every message has a row."""
    user = User.objects.create_user(username=f"import-{uuid.uuid4().hex[:8]}", password="x" * 20)
    progress = None
    try:
        with tasks_in_process(args.tasks):
            rss_before = rss_mb()
            started = time.monotonic()
            progress = Progress(user, args.messages, started)
            progress.start()
            if args.profile:
                profiled(link, user, mail)
            else:
                link(user, mail)
            link_s = time.monotonic() - started
            print(f"  {link_s:6.1f}s link_mailbox + sync_mailbox returned", flush=True)
            progress.done.wait(args.timeout)
        return {
            "stored": progress.stored,
            "seconds": progress.all_stored_s,
            "link_returned_s": round(link_s, 1),
            "first_chat_list_s": progress.first_chat_list_s,
            "rss_before_mb": round(rss_before, 1),
        }
    finally:
        if progress is not None:
            progress.stop.set()
            progress.join()
        user.delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10000)
    parser.add_argument("--correspondents", type=int, default=400)
    parser.add_argument("--timeout", type=float, default=1800, help="give up on the import")
    parser.add_argument(
        "--tasks",
        choices=("worker", "eager"),
        default="worker",
        help="run Celery tasks in a worker thread of this process, or eagerly inline",
    )
    parser.add_argument(
        "--profile", action="store_true", help="print a cProfile of the import (use --tasks eager)"
    )
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    mail = add_mail_user("import")
    print(f"building {args.messages} messages for {mail.email}", flush=True)
    built = build_mailbox(mail, args.messages, args.correspondents)
    print(
        f"injected {built['inbox']} into INBOX by LMTP ({built['lmtp_per_s']}/s) and "
        f"{built['sent']} into Sent by IMAP APPEND ({built['append_per_s']}/s) "
        f"in {built['seconds']}s",
        flush=True,
    )
    for attempt in range(3):  # a reload of the shared mail server drops the connection
        try:
            fetched, ceiling_s, sample = ceiling(mail)
            break
        except (OSError, IMAPClientError) as exc:
            print(f"ceiling fetch failed ({exc!r}), again", flush=True)
            time.sleep(2 + attempt)
    else:
        raise RuntimeError("the ceiling fetch failed three times")
    ceiling_rate = fetched / ceiling_s
    print(f"ceiling: fetched {fetched} in {ceiling_s:.1f}s = {ceiling_rate:.0f}/s", flush=True)
    parsed_per_s = parse_rate(sample)
    del sample
    print(f"parse_message alone: {parsed_per_s:.0f}/s", flush=True)

    print(f"linking (Celery tasks in this process: {args.tasks})", flush=True)
    result = import_mailbox(mail, args)
    seconds = result["seconds"]
    rate = args.messages / seconds if seconds else None
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # The history import's fetch process (and the mail server tools the build ran): the
    # largest of them.
    child_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"imported {result['stored']}/{args.messages} in {seconds or 0:.1f}s"
        + (f" = {rate:.0f}/s, {rate / ceiling_rate:.0%} of the ceiling" if rate else ""),
        flush=True,
    )
    print(
        json.dumps(
            {
                "messages": args.messages,
                "seconds": round(seconds, 1) if seconds else None,
                "msgs_per_s": round(rate, 1) if rate else None,
                "ceiling_msgs_per_s": round(ceiling_rate, 1),
                "first_chat_list_s": (
                    round(result["first_chat_list_s"], 2)
                    if result["first_chat_list_s"] is not None
                    else None
                ),
                "peak_rss_mb": round(peak_rss_mb, 1),
                "peak_child_rss_mb": round(child_rss_mb, 1),
                "parse_only_msgs_per_s": round(parsed_per_s, 1),
                "stored": result["stored"],
                "link_returned_s": result["link_returned_s"],
                "rss_before_link_mb": result["rss_before_mb"],
                "tasks": args.tasks,
                "inject": f"LMTP {built['lmtp_per_s']}/s, APPEND {built['append_per_s']}/s",
            }
        )
    )


if __name__ == "__main__":
    main()
