"""Screenshots of the main screens, light and dark, desktop (1280×800) and phone (360×740).

Seeds a small, realistic world through the real stack (Daphne, a Celery worker and the
watcher on a database of its own, the local Dovecot/Postfix): Alice and Bob chat from coiweb
(Delta-Chat-style chat messages, a reply with a picture, a reaction), Carol writes plain
email, the three share a group, and a stranger's mail waits as a contact request. Then
headless Chromium saves PNGs into docs/screenshots/. Re-runnable: the database is made
anew and the demo mailboxes are emptied first.

Run: ./run screenshots
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coiweb.settings")
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _fresh_database() -> str:
    """Make (again) a database of its own next to the configured one; return its URL."""
    import psycopg

    url = urlsplit(os.environ["DATABASE_URL"])
    name = url.path.lstrip("/") + "_screens"
    with psycopg.connect(urlunsplit(url._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(url._replace(path="/" + name))


os.environ["DATABASE_URL"] = _fresh_database()

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from imapclient import IMAPClient  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from accounts import services as account_services  # noqa: E402
from accounts.models import User  # noqa: E402
from chat import services  # noqa: E402
from chat.delivery import send_message  # noqa: E402
from chat.message_actions import react  # noqa: E402
from chat.models import Chat, Message  # noqa: E402
from mailcore.attachments import OutgoingFile  # noqa: E402
from tests.mailserver import MailUser, mail_server, send_plain_mail  # noqa: E402
from tests.stack import Stack  # noqa: E402

SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 360, "height": 740}}
WEB_PASSWORD = "screens-web-pass"


def png(width: int, height: int, pixel) -> bytes:
    """A PNG from pixel(x, y) -> (r, g, b): enough for a demo picture, no image library."""
    rows = b"".join(
        b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def sunset(x: int, y: int) -> tuple[int, int, int]:
    w, h = 480, 300
    if y > h * 0.68 + 10 * ((x * 7 % 23) / 23):  # hills
        return (40 + y // 10, 70 + y // 8, 50)
    dx, dy = x - w * 0.62, y - h * 0.55
    if dx * dx + dy * dy < 38**2:  # the sun
        return (255, 214, 120)
    t = y / h
    return (int(250 - 90 * t), int(140 + 40 * t), int(90 + 120 * t))


def portrait(x: int, y: int) -> tuple[int, int, int]:
    dx, dy = x - 48, y - 40
    if dx * dx + dy * dy < 20**2 or (y > 66 and abs(dx) < 36 - (96 - y) // 3):
        return (250, 224, 196)
    return (60 + x, 120, 200 - y)


def mail_user(name: str) -> MailUser:
    """A fixed demo mailbox on the local server, emptied so a re-run starts clean."""
    server = mail_server()
    user = MailUser(f"{name}@{server.domain}", f"screens-{name}-pass")
    subprocess.run(
        [str(ROOT / "scripts" / "mailserver.sh"), "adduser", user.email, user.password],
        check=True,
        capture_output=True,
    )
    with IMAPClient(server.host, port=server.imaps_port, ssl_context=server.ssl_context()) as imap:
        imap.login(user.email, user.password)
        for flags, _sep, folder in imap.list_folders():
            if b"\\Noselect" in flags:
                continue
            imap.select_folder(folder)
            ids = imap.search("ALL")
            if ids:
                imap.delete_messages(ids)
                imap.expunge()
    return user


def person(username: str, full_name: str, mail: MailUser | None) -> User:
    user = User.objects.create_user(
        username=username, password=WEB_PASSWORD, display_name=full_name
    )
    if mail:
        server = mail_server()
        account_services.link_mailbox(
            user=user,
            mailbox=account_services.MailboxSettings(
                email=mail.email,
                password=mail.password,
                login=mail.email,
                display_name=full_name,
                imap=server.imaps,
                smtp=server.submission,
            ),
        )
    return user


def wait_for(what: str, predicate, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.3)
    raise SystemExit(f"timed out waiting for {what}")


def incoming(user: User, text: str) -> Message:
    return wait_for(
        f"{text!r} to reach {user}",
        lambda: (
            Message.objects.filter(account__user=user, direction="in", text__contains=text)
            .select_related("chat")
            .first()
        ),
    )


def seed() -> dict:
    alice_mail, bob_mail = mail_user("alice.demo"), mail_user("bob.demo")
    carol_mail, dan_mail = mail_user("carol.demo"), mail_user("dan.demo")
    alice = person("alice", "Alice Martin", alice_mail)
    account_services.update_profile(
        user=alice, display_name="Alice Martin", avatar=png(96, 96, portrait)
    )
    bob = person("bob", "Bob Keller", bob_mail)
    person("erin", "Erin", None)  # signed up, no mailbox yet: the first-run screen
    a_account = alice.mail_accounts.get()

    chat = services.start_chat(user=alice, account=a_account, address=bob_mail.email)
    send_message(user=alice, chat=chat, text="Hi Bob! Are we still on for lunch on Friday? 🍜")
    first = incoming(bob, "lunch on Friday")
    send_message(user=bob, chat=first.chat, text="Yes! 12:30 at the usual place?", reply_to=first)
    picture = OutgoingFile("sunset.png", "image/png", png(480, 300, sunset))
    send_message(
        user=bob, chat=first.chat, text="Look what I saw on the way home", files=(picture,)
    )
    yes = incoming(alice, "12:30")
    incoming(alice, "on the way home")
    react(user=alice, message=yes, emoji="👍")
    send_message(user=alice, chat=chat, text="Wow, beautiful! See you at 12:30.")

    send_plain_mail(
        sender=carol_mail.email,
        to=alice_mail.email,
        subject="Photos from the weekend",
        body=(
            "Hi Alice,\n\nthe photos from Saturday are in the shared folder now. The one of "
            "the lake is my favourite.\n\nSee you soon,\nCarol\n\n-- \nCarol Novak\n"
            "Sent from my phone"
        ),
    )
    incoming(alice, "photos from Saturday")

    group = services.create_group(
        user=alice,
        account=a_account,
        name="Climbing club",
        addresses=[bob_mail.email, carol_mail.email],
    )
    send_message(user=alice, chat=group, text="Who is in for the climbing hall on Saturday?")
    invite = incoming(bob, "climbing hall")
    send_message(user=bob, chat=invite.chat, text="Me! I'll bring the rope 🧗")
    incoming(alice, "bring the rope")

    send_plain_mail(
        sender=dan_mail.email,
        to=alice_mail.email,
        subject="Book club",
        body="Hello, is this the right address for the book club on Thursday?",
    )
    incoming(alice, "book club")
    services.set_chat_flag(chat=group, flag="pinned", on=True)
    return {
        "alice": alice,
        "erin": User.objects.get(username="erin"),
        "chat": chat,
        "group": Chat.objects.get(pk=group.pk),
    }


def signed_in(browser, stack, user, scheme: str, size: str):
    client = Client()
    client.force_login(user)
    context = browser.new_context(
        base_url=stack.url, viewport=SIZES[size], color_scheme=scheme, device_scale_factor=1
    )
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": stack.url,
            }
        ]
    )
    return context


def shoot(page, path: str, name: str) -> None:
    page.goto(path)
    if page.locator("#live").count():
        page.wait_for_selector("#live[data-state=open]", state="attached")
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)
    target = OUT / f"{name}.png"
    page.screenshot(path=str(target))
    print(f"{target.relative_to(ROOT)}  {target.stat().st_size // 1024} KB")


def main() -> None:
    call_command("migrate", verbosity=0)
    db = settings.DATABASES["default"]
    stack = Stack(
        database_url=f"postgresql://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        log_dir=ROOT / "var" / "screenshot-logs",
    )
    stack.start()
    try:
        world = seed()
        OUT.mkdir(parents=True, exist_ok=True)
        screens = {
            "desktop": [
                ("chat", f"/chats/{world['chat'].pk}/"),
                ("group", f"/chats/{world['group'].pk}/"),
                ("settings", "/accounts/settings/"),
            ],
            "phone": [
                ("list", "/"),
                ("chat", f"/chats/{world['chat'].pk}/"),
                ("settings", "/accounts/settings/"),
            ],
        }
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=os.environ.get("COIWEB_CHROMIUM", "/usr/bin/chromium"),
                args=["--no-sandbox", "--disable-gpu", "--no-first-run"],
            )
            for scheme in ("light", "dark"):
                for size, pages in screens.items():
                    context = signed_in(browser, stack, world["alice"], scheme, size)
                    page = context.new_page()
                    for name, path in pages:
                        shoot(page, path, f"{size}-{name}-{scheme}")
                    context.close()
                    context = signed_in(browser, stack, world["erin"], scheme, size)
                    shoot(context.new_page(), "/", f"{size}-first-run-{scheme}")
                    context.close()
            browser.close()
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
