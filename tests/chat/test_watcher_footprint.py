"""The mailbox watcher holds a thousand IDLE sessions in one process: every module it
loads is paid once per watcher, so the heavy ones it never uses must stay out."""

import os
import subprocess
import sys

from tests.stack import ROOT

HEAVY = ("twisted", "autobahn", "pywebpush", "aiohttp", "requests")


def test_the_watcher_loads_no_web_server_or_push_libraries():
    probe = (
        "import sys, django; django.setup(); import chat.watcher; "
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "coiweb.settings"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split() == []
