"""Run the mailbox watcher until SIGTERM/SIGINT."""

import signal

from django.core.management.base import BaseCommand

from chat.watcher import Watcher


class Command(BaseCommand):
    help = "Keep every linked mailbox live with IMAP IDLE (or polling) and queue syncs."

    def handle(self, *args, **options) -> None:
        watcher = Watcher()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: watcher.stopping.set())
        self.stdout.write("watching mailboxes; Ctrl-C to stop")
        watcher.run()
