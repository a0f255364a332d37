"""SMTP accept → message fragment on the page's websocket, for N plain mails.

Starts Daphne, a Celery worker and the watcher on the configured database, links a
fresh mailbox on the local mail server, opens the websocket as its owner and sends N
mails through the local MX port one after another. A second IMAP connection holds IDLE
on the same INBOX to measure the server's own floor (Dovecot delays EXISTS by ~500 ms),
so the difference is what coiweb adds.

Run: ./run bench latency [--n 50]     Last line: JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import smtplib
import statistics
import sys
import threading
import time
import uuid
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coiweb.settings")

import django  # noqa: E402

django.setup()

import websockets  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from imapclient import IMAPClient  # noqa: E402

from accounts import services  # noqa: E402
from accounts.models import User  # noqa: E402
from tests.mailserver import add_mail_user, mail_server  # noqa: E402
from tests.stack import Stack  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


class IdleFloor(threading.Thread):
    """Records when the server itself announces each new message (EXISTS under IDLE)."""

    def __init__(self, mail) -> None:
        super().__init__(daemon=True)
        server = mail_server()
        self.client = IMAPClient(
            server.host, port=server.imaps_port, ssl=True, ssl_context=server.ssl_context()
        )
        self.client.login(mail.email, mail.password)
        self.client.select_folder("INBOX", readonly=True)
        self.arrivals: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        self.client.idle()
        while not self.stop.is_set():
            for response in self.client.idle_check(timeout=1):
                if len(response) > 1 and response[1] == b"EXISTS":
                    self.arrivals.append(time.perf_counter())


def send_mail(sender: str, to: str, token: str) -> float:
    server = mail_server()
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, f"bench {token}"
    message.set_content(f"latency probe {token}")
    with smtplib.SMTP(server.host, server.smtp_port, timeout=10) as smtp:
        smtp.send_message(message)
        return time.perf_counter()  # the MX accepted it (250 after DATA)


async def measure(
    stack: Stack, cookie: str, sender: str, to: str, n: int
) -> list[tuple[float, float]]:
    url = stack.url.replace("http://", "ws://") + "/ws/"
    results = []
    async with websockets.connect(
        url, additional_headers={"Cookie": f"sessionid={cookie}"}, origin=stack.url
    ) as ws:
        for _ in range(n):
            token = uuid.uuid4().hex[:12]
            accepted = await asyncio.to_thread(send_mail, sender, to, token)
            while True:
                frame = await asyncio.wait_for(ws.recv(), timeout=15)
                if token in frame and "msg in" in frame:
                    results.append((accepted, time.perf_counter()))
                    break
            await asyncio.sleep(0.2)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    mail = add_mail_user("bench")
    sender = add_mail_user("benchsender")
    user = User.objects.create_user(
        username=f"bench-{uuid.uuid4().hex[:8]}", password=uuid.uuid4().hex
    )
    server = mail_server()
    services.link_mailbox(
        user=user,
        mailbox=services.MailboxSettings(
            email=mail.email,
            password=mail.password,
            login=mail.email,
            display_name="Bench",
            imap=server.imaps,
            smtp=server.submission,
        ),
    )
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value

    db = settings.DATABASES["default"]
    database_url = (
        f"postgresql://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    )
    stack = Stack(database_url=database_url, log_dir=ROOT / "var" / "bench-logs")
    stack.start()
    floor = IdleFloor(mail)
    try:
        time.sleep(2)  # the watcher picks the mailbox up and enters IDLE
        floor.start()
        results = asyncio.run(measure(stack, cookie, sender.email, mail.email, args.n))
    finally:
        floor.stop.set()
        stack.stop()

    totals = [(done - accepted) * 1000 for accepted, done in results]
    floors = []
    for accepted, _done in results:
        later = [t for t in floor.arrivals if t >= accepted]
        if later:
            floors.append((later[0] - accepted) * 1000)
    for i, total in enumerate(totals, 1):
        print(f"{i:3d} {total:7.1f} ms")
    p50 = statistics.median(totals)
    floor_p50 = statistics.median(floors) if floors else None
    print(
        json.dumps(
            {
                "n": len(totals),
                "p50_ms": round(p50, 1),
                "p95_ms": round(percentile(totals, 95), 1),
                "max_ms": round(max(totals), 1),
                "idle_floor_p50_ms": round(floor_p50, 1) if floor_p50 is not None else None,
                "ours_p50_ms": round(p50 - floor_p50, 1) if floor_p50 is not None else None,
            }
        )
    )


if __name__ == "__main__":
    main()
