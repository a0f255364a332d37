"""Create the demo people (alice, bob) with their local mailboxes linked. Idempotent."""

import os

from django.core.management.base import BaseCommand, CommandError

from accounts import services
from accounts.models import User
from mailcore.endpoints import Endpoint
from mailcore.errors import MailError


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise CommandError(f"{name} is not set (run this through ./run demo)")
    return value


class Command(BaseCommand):
    help = "Create demo users alice and bob and link their mailboxes on the local mail server."

    def handle(self, *args, **options) -> None:
        host = _env("COIWEB_MAIL_HOST")
        domain = _env("COIWEB_MAIL_DOMAIN")
        imap = Endpoint(host, int(_env("COIWEB_IMAPS_PORT")), "ssl")
        smtp = Endpoint(host, int(_env("COIWEB_SUBMISSION_PORT")), "starttls")
        web_password = _env("DEMO_WEB_PASSWORD")
        for index, (name, display) in enumerate((("alice", "Alice"), ("bob", "Bob"))):
            user = User.objects.filter(username=name).first()
            if user is None:
                user = User.objects.create_user(
                    username=name,
                    password=web_password,
                    display_name=display,
                    is_staff=index == 0,
                    is_superuser=index == 0,
                )
            email = f"{name}@{domain}"
            if user.mail_accounts.filter(email=email).exists():
                continue
            mailbox = services.MailboxSettings(
                email=email,
                password=_env(f"DEMO_{name.upper()}_MAIL_PASSWORD"),
                login=email,
                display_name=display,
                imap=imap,
                smtp=smtp,
            )
            try:
                services.link_mailbox(user=user, mailbox=mailbox)
            except MailError as exc:
                raise CommandError(f"could not link {email}: {exc.user_message}") from None
            self.stdout.write(f"linked {email} to coiweb user {name}")
