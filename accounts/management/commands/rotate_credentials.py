"""Re-encrypt stored mailbox passwords under the newest key in COIWEB_FERNET_KEYS."""

from django.core.management.base import BaseCommand

from accounts import services


class Command(BaseCommand):
    help = "Re-encrypt every stored mailbox password with the first (newest) key of COIWEB_FERNET_KEYS."

    def handle(self, *args, **options) -> None:
        count = services.rotate_credentials()
        self.stdout.write(f"re-encrypted {count} mailbox password(s)")
