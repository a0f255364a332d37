"""A mailbox's own thread only holds IDLE: logging in and database writes happen on the
watcher's few shared setup threads, so what they leave behind is not paid per mailbox."""

from __future__ import annotations

import threading

import pytest

from accounts import crypto
from accounts.models import MailAccount
from chat import watcher
from mailcore import imap

pytestmark = pytest.mark.django_db(transaction=True)


def _recording(monkeypatch, target, name: str, seen: dict[str, str]):
    real = getattr(target, name)

    def wrapper(*args, **kwargs):
        seen.setdefault(name, threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(target, name, wrapper)


def test_a_watch_logs_in_on_a_setup_thread_and_holds_idle_on_its_own(make_person, monkeypatch):
    person = make_person("ida")
    seen: dict[str, str] = {}
    idling = threading.Event()
    for name in ("imap_session", "record_server_state"):
        _recording(monkeypatch, watcher, name, seen)
    monkeypatch.setattr(
        watcher.tasks,
        "queue_sync",
        lambda account_id: seen.setdefault("queue_sync", threading.current_thread().name),
    )
    real_wait = imap.idle_wait

    def idle_wait(client, timeout):
        seen.setdefault("idle_wait", threading.current_thread().name)
        idling.set()
        return real_wait(client, timeout)

    monkeypatch.setattr(imap, "idle_wait", idle_wait)

    watch = watcher.MailboxWatch(person.account)
    watch.start()
    try:
        assert idling.wait(20), "the watch never reached IDLE"
    finally:
        watch.stop()
        watch.join(10)
    assert not watch.is_alive()
    assert seen["idle_wait"] == watch.name
    for step in ("imap_session", "record_server_state", "queue_sync"):
        assert seen[step].startswith("watch-setup"), (step, seen[step])


def test_a_rejected_password_is_recorded_on_a_setup_thread_and_ends_the_watch(
    make_person, monkeypatch
):
    person = make_person("rex")
    MailAccount.objects.filter(pk=person.account.pk).update(
        password_encrypted=crypto.encrypt("not-the-password")
    )
    seen: dict[str, str] = {}
    _recording(monkeypatch, watcher, "record_failure", seen)

    watch = watcher.MailboxWatch(MailAccount.objects.get(pk=person.account.pk))
    watch.start()
    watch.join(30)

    assert not watch.is_alive()
    assert seen["record_failure"].startswith("watch-setup")
    account = MailAccount.objects.get(pk=person.account.pk)
    assert account.is_active is False
    assert account.last_error
