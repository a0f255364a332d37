"""One watcher process holding IMAP IDLE on many mailboxes: memory, readiness, latency.

Creates --accounts mail users on the local Dovecot (scripts/mailserver.sh addusers) and as
many coiweb people with one linked mailbox each, written directly to the database: only
the first mailbox goes through accounts.services.link_mailbox, the others copy what its
probe found (capabilities, Sent folder). Then starts ONE watcher process and a Celery
worker (tests.stack.Stack), waits until the watcher logs "watching mailbox N with IDLE"
for every mailbox (idle_ready_s, from the start of the processes), the first sync of each
is done (first_syncs_s) and Celery's queue is empty (queue_drained_s: the start-up syncs
are a backlog that live mail would wait behind), then delivers --rate mails per second,
to mailboxes picked at random, through the local MX port for --seconds.
Latency = SMTP accept (250 after DATA) → `created_at` of the stored Message row (same
machine, same clock). Dovecot itself holds IDLE notifications back ~500 ms (see
bench/latency.py), so that is the floor. The watcher's resident memory (VmRSS) is
sampled twice a second. The coiweb people are deleted at the end; the mail users stay.

Dovecot needs one inotify instance per IDLE session to notify it at once; beyond
fs.inotify.max_user_instances (128 by default) it polls the mailbox every 30 s instead.
So the run raises that limit to --accounts + 512 if it is lower (root) and restores it
afterwards; `--inotify-instances 0` measures with the system's value. The watcher gets
the production lease time (COIWEB_LEASE_SECONDS=30), not tests.stack's 3 s.

Run: ./run bench idle_scale --accounts 1000 [--rate 10] [--seconds 30]     Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import smtplib
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coiweb.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.core.management import call_command  # noqa: E402

from accounts import crypto, services  # noqa: E402
from accounts.models import MailAccount, User  # noqa: E402
from chat.models import Message  # noqa: E402
from coiweb.redis import client as redis_client  # noqa: E402
from tests.mailserver import mail_server  # noqa: E402
from tests.stack import Stack  # noqa: E402

SCRIPT = ROOT / "scripts" / "mailserver.sh"
WATCHING_RE = re.compile(r"watching mailbox (\d+) with IDLE")
SENDERS = [f"friend{i:03d}@outside.example.net" for i in range(50)]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


# ---------------------------------------------------------------- set-up


def add_mail_users(prefix: str, count: int, password: str) -> list[str]:
    """Bulk-add PREFIX0001..PREFIXnnnn on the local mail server; return their addresses."""
    server = mail_server()
    subprocess.run([str(SCRIPT), "addusers", prefix, str(count), password], check=True)
    width = max(4, len(str(count)))
    return [f"{prefix}{i:0{width}d}@{server.domain}" for i in range(1, count + 1)]


def link_first(email: str, password: str, username: str) -> MailAccount:
    """The one real link: logs in to IMAP and SMTP and records what the server can do."""
    server = mail_server()
    user = User.objects.create_user(username=username, password=uuid.uuid4().hex)
    return services.link_mailbox(
        user=user,
        mailbox=services.MailboxSettings(
            email=email,
            password=password,
            login=email,
            display_name="",
            imap=server.imaps,
            smtp=server.submission,
        ),
    )


def bulk_link(emails: list[str], password: str, token: str, like: MailAccount) -> None:
    """People and their mailboxes for the other addresses, copying the probed settings."""
    hashed = make_password(uuid.uuid4().hex)  # one hash for all: nobody logs in
    users = User.objects.bulk_create(
        [User(username=f"idle-{token}-{i:05d}", password=hashed) for i in range(len(emails))]
    )
    secret = crypto.encrypt(password)
    MailAccount.objects.bulk_create(
        [
            MailAccount(
                user=user,
                email=email,
                login=email,
                password_encrypted=secret,
                imap_host=like.imap_host,
                imap_port=like.imap_port,
                imap_security=like.imap_security,
                smtp_host=like.smtp_host,
                smtp_port=like.smtp_port,
                smtp_security=like.smtp_security,
                capabilities=like.capabilities,
                sent_folder=like.sent_folder,
                mode=like.mode,
            )
            for user, email in zip(users, emails, strict=True)
        ],
        batch_size=500,
    )


def worker_description(stack: Stack) -> str:
    command = stack._command("worker")
    pool = command[command.index("--pool") + 1] if "--pool" in command else "prefork"
    concurrency = command[command.index("--concurrency") + 1] if "--concurrency" in command else "?"
    return f"1 celery worker, --pool {pool} --concurrency {concurrency}"


# ---------------------------------------------------------------- observing the watcher


class ProcessSampler(threading.Thread):
    """Samples a process's VmRSS and thread count twice a second; keeps the peak."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_rss_kb = 0
        self.rss_kb = 0
        self.threads = 0
        self.stop = threading.Event()

    def sample(self) -> None:
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        self.rss_kb = int(fields["VmRSS"].split()[0])
        self.threads = int(fields["Threads"])
        self.peak_rss_kb = max(self.peak_rss_kb, self.rss_kb)

    def run(self) -> None:
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(0.5)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def watching(log_file: Path, ids: set[int]) -> int:
    """How many of `ids` the watcher has logged as being under IDLE."""
    text = log_file.read_text(errors="replace") if log_file.exists() else ""
    return len({int(m) for m in WATCHING_RE.findall(text)} & ids)


def wait_for(what: str, progress, timeout: float, sampler: ProcessSampler, since: float):
    """Poll `progress()` → (done, text) until done or `timeout` seconds have passed;
    return the seconds since `since` when it was done, or None."""
    deadline = time.monotonic() + timeout
    last_print = time.monotonic()
    while True:
        done, text = progress()
        now = time.monotonic()
        if done or now > deadline:
            break
        if now - last_print >= 5:
            print(
                f"  {now - since:5.0f}s {what}: {text}; watcher {sampler.rss_kb / 1024:.0f} MB, "
                f"{sampler.threads} threads",
                flush=True,
            )
            last_print = now
        time.sleep(0.25)
    print(f"  {now - since:5.1f}s {what}: {text}{'' if done else ' (gave up)'}", flush=True)
    return round(now - since, 1) if done else None


def counted(count, total: int):
    """A progress function for wait_for: count() out of total."""

    def progress():
        n = count()
        return n >= total, f"{n}/{total}"

    return progress


def queue_empty():
    n = queued_tasks()
    return n == 0, f"{n} tasks queued"


# ---------------------------------------------------------------- delivering


def deliver(to: str, message_id: str) -> float:
    """Send one plain mail through the MX port; return the wall-clock time it was accepted."""
    server = mail_server()
    message = EmailMessage()
    message["From"] = random.choice(SENDERS)
    message["To"] = to
    message["Subject"] = "Are you there?"
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = message_id
    message.set_content("Just checking in. Call me back when you can.\n")
    with smtplib.SMTP(server.host, server.smtp_port, timeout=30) as smtp:
        smtp.send_message(message)
        return time.time()


def deliver_at_rate(
    emails: list[str], rate: float, seconds: float, token: str
) -> tuple[dict[str, float], dict[str, str]]:
    """Send rate*seconds mails on a fixed schedule; return Message-ID → accept time, and
    Message-ID → recipient."""
    total = int(rate * seconds)
    accepted: dict[str, float] = {}
    recipients: dict[str, str] = {}
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = {}
        for i in range(total):
            delay = started + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            message_id = f"<idle-{token}-{i}@bench.example.org>"
            recipients[message_id] = random.choice(emails)
            futures[message_id] = pool.submit(deliver, recipients[message_id], message_id)
        for message_id, future in futures.items():
            accepted[message_id] = future.result()
    print(f"  sent {total} mails in {time.monotonic() - started:.1f}s", flush=True)
    return accepted, recipients


def report_missing(missing: set[str], recipients: dict[str, str], timeout: float) -> None:
    """Name the mails that never showed up, with their mailbox ids (to grep the logs)."""
    if not missing:
        return
    by_email = dict(
        MailAccount.objects.values_list("email", "pk").filter(email__in=recipients.values())
    )
    print(f"  not stored within {timeout:g}s after the last send: {len(missing)}", flush=True)
    for message_id in sorted(missing)[:10]:
        to = recipients[message_id]
        print(f"    {message_id} to {to} (mailbox {by_email.get(to)})", flush=True)


def sync_task_seconds(worker_log: Path) -> list[float]:
    """How long each sync task of this run took, from the worker's log."""
    text = worker_log.read_text(errors="replace") if worker_log.exists() else ""
    return [float(s) for s in re.findall(r"sync_mailbox\[[^\]]+\] succeeded in ([\d.]+)s", text)]


def queued_tasks() -> int:
    """Tasks waiting in Celery's default queue on our Redis database (the worker's start
    and the watcher's first IDLE each queue a sync per mailbox: a backlog to wait out)."""
    return redis_client().llen("celery")


def inotify_instances() -> int | None:
    """Dovecot falls back to polling every 30 s for IDLE sessions beyond this (per user)."""
    try:
        return int(Path("/proc/sys/fs/inotify/max_user_instances").read_text())
    except (OSError, ValueError):
        return None


def stored_times(message_ids: list[str]) -> dict[str, float]:
    rows = Message.objects.filter(message_id__in=message_ids).values_list(
        "message_id", "created_at"
    )
    return {message_id: created.timestamp() for message_id, created in rows}


def wait_stored(message_ids: list[str], timeout: float) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while True:
        stored = stored_times(message_ids)
        if len(stored) >= len(message_ids) or time.monotonic() > deadline:
            return stored
        time.sleep(0.5)


# ---------------------------------------------------------------- main


def set_inotify_instances(value: int) -> None:
    Path("/proc/sys/fs/inotify/max_user_instances").write_text(f"{value}\n")


def report(latencies: list[float], syncs: list[float], sampler: ProcessSampler) -> None:
    print(
        f"watcher: peak {sampler.peak_rss_kb / 1024:.0f} MB, {sampler.threads} threads",
        flush=True,
    )
    if syncs:
        print(
            f"worker: {len(syncs)} sync tasks, median {statistics.median(syncs) * 1000:.0f} ms, "
            f"p90 {percentile(syncs, 90) * 1000:.0f} ms, total {sum(syncs):.1f} task-s",
            flush=True,
        )
    if latencies:
        deciles = " ".join(f"{percentile(latencies, p):.0f}" for p in range(10, 100, 10))
        print(f"latency deciles p10..p90 (ms): {deciles}; max {max(latencies):.0f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=10, help="mails per second")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument(
        "--store-timeout", type=float, default=90, help="wait this long for the last mails"
    )
    parser.add_argument(
        "--ready-timeout", type=float, default=300, help="give up waiting for IDLE after this"
    )
    parser.add_argument(
        "--inotify-instances",
        type=int,
        help="fs.inotify.max_user_instances during the run (root; restored after). Default: "
        "raised to accounts + 512 when lower; 0 leaves it alone",
    )
    parser.add_argument(
        "--lease-seconds",
        default=os.environ.get("COIWEB_LEASE_SECONDS", "30"),
        help="COIWEB_LEASE_SECONDS for the watcher (default: the production 30; "
        "tests.stack uses 3 for its fail-over tests)",
    )
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    os.environ["COIWEB_LEASE_SECONDS"] = str(args.lease_seconds)  # tests.stack keeps it
    before = inotify_instances()
    wanted = args.inotify_instances
    if wanted is None:
        wanted = args.accounts + 512 if before is not None and before < args.accounts + 512 else 0
    if wanted:
        print(f"fs.inotify.max_user_instances: {before} -> {wanted} for this run", flush=True)
        set_inotify_instances(wanted)
    try:
        result = run(args)
    finally:
        if wanted and before is not None:
            set_inotify_instances(before)
    print(json.dumps(result))


def run(args: argparse.Namespace) -> dict:
    inotify = inotify_instances()
    if inotify is not None and inotify < args.accounts + 50:
        print(
            f"WARNING: fs.inotify.max_user_instances is {inotify}: Dovecot's IDLE sessions beyond "
            "that are polled every 30 s instead of notified (see --inotify-instances)",
            flush=True,
        )
    token = uuid.uuid4().hex[:6]
    password = "pw-" + uuid.uuid4().hex[:12]
    started = time.monotonic()
    emails = add_mail_users(f"idle{token}-", args.accounts, password)
    print(f"added {len(emails)} mail users in {time.monotonic() - started:.1f}s", flush=True)

    first = link_first(emails[0], password, f"idle-{token}-first")
    bulk_link(emails[1:], password, token, first)
    accounts = MailAccount.objects.filter(email__in=emails)
    ids = set(accounts.values_list("pk", flat=True))
    print(f"linked {len(ids)} mailboxes (capabilities: {' '.join(first.capabilities)})", flush=True)

    db = settings.DATABASES["default"]
    database_url = (
        f"postgresql://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    )
    log_dir = ROOT / "var" / "bench-logs" / f"idle_scale-{token}"
    stack = Stack(database_url=database_url, log_dir=log_dir)
    worker = worker_description(stack)
    stack.start("worker", "watcher")
    started = time.monotonic()
    watcher_pid = stack.processes["watcher"][0].pid
    sampler = ProcessSampler(watcher_pid)
    sampler.start()
    print(f"started the watcher (pid {watcher_pid}) and {worker}; logs in {log_dir}", flush=True)
    try:
        idle_ready_s = wait_for(
            "mailboxes under IDLE",
            counted(lambda: watching(log_dir / "watcher.log", ids), len(ids)),
            args.ready_timeout,
            sampler,
            since=started,
        )
        synced_s = wait_for(
            "first syncs done",
            counted(lambda: accounts.filter(last_sync_at__isnull=False).count(), len(ids)),
            args.ready_timeout,
            sampler,
            since=started,
        )
        drained_s = wait_for(
            "queue drained", queue_empty, args.ready_timeout, sampler, since=started
        )
        syncs_before = len(sync_task_seconds(log_dir / "worker.log"))
        cpu_before = cpu_seconds(watcher_pid)
        print(f"delivering {args.rate:g}/s for {args.seconds:g}s", flush=True)
        accepted, recipients = deliver_at_rate(emails, args.rate, args.seconds, token)
        stored = wait_stored(list(accepted), timeout=args.store_timeout)
        report_missing(set(accepted) - set(stored), recipients, args.store_timeout)
        watcher_cpu = cpu_seconds(watcher_pid) - cpu_before
        syncs = sync_task_seconds(log_dir / "worker.log")[syncs_before:]
    finally:
        sampler.stop.set()
        stack.stop()
        users = User.objects.filter(mail_accounts__pk__in=ids)
        deleted = users.count()
        users.delete()
        print(f"stopped the stack, deleted {deleted} coiweb people", flush=True)

    latencies = [(stored[m] - accepted[m]) * 1000 for m in accepted if m in stored]
    report(latencies, syncs, sampler)
    return {
        "accounts": len(ids),
        "watcher_rss_mb": round(sampler.peak_rss_kb / 1024, 1),
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 99), 1) if latencies else None,
        "idle_ready_s": idle_ready_s,
        "delivered": len(accepted),
        "stored": len(latencies),
        "max_ms": round(max(latencies), 1) if latencies else None,
        "first_syncs_s": synced_s,
        "queue_drained_s": drained_s,
        "watcher_threads": sampler.threads,
        "watcher_cpu_s": round(watcher_cpu, 1),
        "sync_tasks": len(syncs),
        "sync_task_p50_ms": round(statistics.median(syncs) * 1000, 1) if syncs else None,
        "rate_per_s": args.rate,
        "lease_seconds": int(args.lease_seconds),
        "inotify_max_user_instances": inotify,
        "worker": worker,
    }


if __name__ == "__main__":
    main()
