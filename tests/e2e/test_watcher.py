"""The mailbox watcher as a real process: many mailboxes, each live."""

from __future__ import annotations

import time

import pytest
from django.conf import settings

from chat.models import Message
from tests.mailserver import send_plain_mail

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _wait_for(predicate, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_more_mailboxes_than_database_connections_all_stay_live(make_person, live_stack):
    pool_size = settings.DATABASES["default"].get("OPTIONS", {}).get("pool", {}).get("max_size", 10)
    people = [make_person(f"many{i}") for i in range(pool_size + 2)]
    time.sleep(1.5)  # every watch is in IDLE now, as in a long-running deployment
    for person in (people[0], people[-1]):
        send_plain_mail(
            sender="outside@example.org", to=person.mail.email, subject="ping", body="are you live?"
        )
    for person in (people[0], people[-1]):
        assert _wait_for(
            lambda p=person: Message.objects.filter(
                account=p.account, text__contains="are you live"
            ).exists()
        ), (
            f"mail to mailbox {person.account.pk} was not synced; watcher log:\n"
            + (live_stack.log_dir / "watcher.log").read_text()[-2000:]
        )


def test_a_server_without_idle_is_polled(make_person, live_stack):
    from accounts.models import MailAccount
    from chat.watching import notify_watchers

    person = make_person("poller")
    MailAccount.objects.filter(pk=person.account.pk).update(
        capabilities=[c for c in person.account.capabilities if c != "IDLE"],
        mode=MailAccount.Mode.POLLING,
    )
    notify_watchers(person.account.pk)  # the watcher re-reads the mailbox and polls it now
    log = live_stack.log_dir / "watcher.log"
    pk = person.account.pk
    # The IDLE watch is gone (so only polling can find the mail) and polling has begun.
    assert _wait_for(lambda: f"stopped watching mailbox {pk}\n" in log.read_text())
    assert _wait_for(lambda: f"polling mailbox {pk} " in log.read_text())
    send_plain_mail(
        sender="outside@example.org", to=person.mail.email, subject="poll", body="found by polling"
    )
    assert _wait_for(
        lambda: Message.objects.filter(
            account=person.account, text__contains="found by polling"
        ).exists()
    )


def test_two_watchers_share_the_mailboxes_and_one_takes_over_when_the_other_dies(
    make_person, live_stack
):

    from chat.leases import Leases
    from chat.watching import lease_namespace
    from coiweb.redis import client as redis_client

    live_stack.start("watcher2")
    try:
        people = [make_person(f"lease{i}") for i in range(6)]
        leases = Leases(
            redis_client(), owner="observer", namespace=lease_namespace(), ttl_seconds=1
        )

        def owners() -> dict[int, str | None]:
            return {p.account.pk: leases.owner_of(p.account.pk) for p in people}

        # Every mailbox has exactly one owner (a lease), and both watchers hold a share.
        assert _wait_for(lambda: None not in owners().values() and len(set(owners().values())) == 2)
        pids = {name: live_stack.pid(name) for name in ("watcher", "watcher2")}
        victim_owner = owners()[people[0].account.pk]
        victim = next(name for name, pid in pids.items() if f":{pid}:" in victim_owner)
        survivor_pid = pids["watcher2" if victim == "watcher" else "watcher"]

        live_stack.kill(victim)  # SIGKILL: it cannot release anything
        assert _wait_for(
            lambda: all(f":{survivor_pid}:" in (o or "") for o in owners().values()), timeout=20
        )
        send_plain_mail(
            sender="outside@example.org",
            to=people[0].mail.email,
            subject="after",
            body="taken over",
        )
        assert _wait_for(
            lambda: Message.objects.filter(
                account=people[0].account, text__contains="taken over"
            ).exists()
        )
    finally:
        live_stack.stop("watcher2")
        live_stack.stop("watcher")
        live_stack.start("watcher")
