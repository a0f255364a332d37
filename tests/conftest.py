"""Shared fixtures: real mail server users, linked people, and the live stack
(Daphne, a Celery worker and the mailbox watcher as real processes) for browser tests."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

from tests.mailserver import MailUser, add_coi_user, add_mail_user, mail_server
from tests.pushservice import PushService, VapidKeys
from tests.stack import Stack

# Playwright's sync API runs an event loop in the test thread; the ORM calls in the
# tests are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parent.parent
LOG_DIR = ROOT / "var" / "test-logs"


@dataclass
class Person:
    user: object
    mail: MailUser
    account: object
    web_password: str = "web-pass-1234"


@pytest.fixture(scope="session")
def _clean_redis():
    from coiweb.redis import client

    redis = client()
    kwargs = redis.connection_pool.connection_kwargs
    if kwargs.get("db", 0) != 0 or kwargs.get("port") != 6379:
        redis.flushdb()  # the tests' own Redis; never the default one a demo may be using


@pytest.fixture(autouse=True)
def _celery_mode(request):
    """Outside browser tests, tasks run inline so services are tested end to end in-process."""
    from coiweb.celery import app

    if "django_db" not in {m.name for m in request.node.iter_markers()}:
        yield  # plain-Python tests (mailcore) need neither Django nor Celery
        return
    eager = request.node.get_closest_marker("e2e") is None
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = eager
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def make_person(django_db_blocker, _clean_redis):
    """Create a coiweb user with a fresh real mailbox linked through the real link service."""
    from accounts import services
    from accounts.models import User

    counter = iter(range(1000))

    def make(name: str = "person", *, link: bool = True, coi: bool = False) -> Person:
        mail = add_coi_user(name) if coi else add_mail_user(name)
        user = User.objects.create_user(
            username=f"{name}{next(counter)}-{mail.email.split('@')[0][-8:]}",
            password=Person.web_password,
            display_name=name.title(),
        )
        account = None
        if link:
            server = mail_server()
            account = services.link_mailbox(
                user=user,
                mailbox=services.MailboxSettings(
                    email=mail.email,
                    password=mail.password,
                    login=mail.email,
                    display_name=name.title(),
                    imap=server.imaps,
                    smtp=server.submission,
                ),
            )
        return Person(user=user, mail=mail, account=account)

    return make


@pytest.fixture(scope="session")
def vapid_keys() -> VapidKeys:
    """The server's Web Push keys: the configured ones (./run test makes some), else new."""
    if settings.COIWEB_VAPID_PRIVATE_KEY:
        return VapidKeys(
            private=settings.COIWEB_VAPID_PRIVATE_KEY,
            public=settings.COIWEB_VAPID_PUBLIC_KEY,
            subject=settings.COIWEB_VAPID_SUBJECT,
        )
    return VapidKeys.generate()


@pytest.fixture
def push_service(settings, vapid_keys):
    """Web Push on, and a push service on 127.0.0.1 that checks and decrypts what it gets."""
    settings.COIWEB_VAPID_PRIVATE_KEY = vapid_keys.private
    settings.COIWEB_VAPID_PUBLIC_KEY = vapid_keys.public
    settings.COIWEB_VAPID_SUBJECT = vapid_keys.subject
    with PushService(vapid_keys) as service:
        yield service


@pytest.fixture(scope="session")
def live_stack(django_db_setup, django_db_blocker, _clean_redis, vapid_keys):
    """Daphne, a Celery worker and the watcher as separate processes on the test database."""
    db = settings.DATABASES["default"]
    stack = Stack(
        database_url=f"postgresql://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        log_dir=LOG_DIR,
        extra_env=vapid_keys.as_env(),
    )
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    for old in LOG_DIR.glob("*.log"):
        old.unlink()
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()
        with django_db_blocker.unblock():
            _end_other_sessions()


LIVE_SUITES = ("e2e", "interop")


def pytest_collection_modifyitems(items):
    # Browser and Delta Chat tests race real processes on two shared cores (IDLE's 500 ms,
    # a peer's own loop, page timing): one that fails is run once more, and both runs are
    # reported ("rerun" in the summary), so a flaky test stays visible.
    for item in items:
        if Path(item.fspath).parent.name in LIVE_SUITES:
            item.add_marker(pytest.mark.flaky(reruns=1, reruns_delay=2))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed browser test shows what the live processes were saying."""
    report = yield
    if report.failed and "live_stack" in getattr(item, "fixturenames", ()):
        for log in sorted(LOG_DIR.glob("*.log")):
            tail = log.read_text(errors="replace").splitlines()[-40:]
            if tail:
                report.sections.append((f"live stack: {log.name}, last 40 lines", "\n".join(tail)))
    return report


def _end_other_sessions() -> None:
    """Postgres reaps a dead client's session a moment later; end them now so the test
    database can be dropped."""
    from django.db import connection

    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
    finally:
        # Back to the pool, which is closed before the database is dropped. Left open, it
        # was the one session still using the test database then (this teardown does not
        # see the same connection object as the one that closes the pool).
        connection.close()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium, never a downloaded browser; flags for a closed network as root."""
    return {
        **browser_type_launch_args,
        "executable_path": os.environ.get("COIWEB_CHROMIUM", "/usr/bin/chromium"),
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture
def open_page(browser, live_stack):
    """Return a function that opens a page of the live app signed in as a person."""
    from django.test import Client

    contexts = []

    def open_as(person: Person, path: str = "/"):
        client = Client()
        client.force_login(person.user)
        context = browser.new_context(base_url=live_stack.url)
        context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                    "url": live_stack.url,
                }
            ]
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(path)
        page.wait_for_selector("#live[data-state=open]", state="attached")
        return page

    yield open_as
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Close this process's connection pool before the test database is dropped."""
    yield
    from django.db import connections

    with django_db_blocker.unblock():
        for connection in connections.all():
            if hasattr(connection, "close_pool"):
                connection.close_pool()
