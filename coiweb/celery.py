"""Celery application: short tasks only (sync a folder, send a message)."""

import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coiweb.settings")

app = Celery("coiweb", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def catch_up_after_start(sender, **kwargs) -> None:
    """A worker killed mid-sync leaves its task unacknowledged until the broker's visibility
    timeout; syncing every mailbox once at start catches up now (syncs are incremental)."""
    from chat import tasks

    tasks.sync_all_mailboxes.delay()
