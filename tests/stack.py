"""Start the app's three long-running processes (Daphne, a Celery worker, the mailbox
watcher) against a given database, for browser tests and benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Stack:
    database_url: str
    log_dir: Path
    port: int = field(default_factory=free_port)
    extra_env: dict = field(default_factory=dict)
    processes: dict = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _closing: threading.Event = field(default_factory=threading.Event)
    _supervisor: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _env(self) -> dict:
        env = dict(os.environ)
        env.update(
            DATABASE_URL=self.database_url,
            DJANGO_SETTINGS_MODULE="coiweb.settings",
            PYTHONUNBUFFERED="1",
        )
        env.setdefault("COIWEB_POLL_SECONDS", "2")  # servers without IDLE are polled this often
        env.setdefault("COIWEB_LEASE_SECONDS", "3")  # a dead watcher's mailboxes move on quickly
        env.update(self.extra_env)
        return env

    def _command(self, name: str) -> list[str]:
        bin_dir = Path(sys.executable).parent
        return {
            "daphne": [
                str(bin_dir / "daphne"),
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "coiweb.asgi:application",
            ],
            "worker": [
                str(bin_dir / "celery"),
                "-A",
                "coiweb",
                "worker",
                "-l",
                "info",
                "--pool",
                "threads",
                "--concurrency",
                "4",
                "--without-gossip",
                "--without-mingle",
            ],
            "watcher": [sys.executable, "manage.py", "watch_mailboxes"],
        }[name.rstrip("0123456789")]  # "watcher2" is a second watcher

    def start(self, *names: str) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name in names or ("daphne", "worker", "watcher"):
            self._spawn(name)
        if "daphne" in self.processes:
            self._wait_for_port()
        self._supervise()

    def _spawn(self, name: str) -> None:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
        proc = subprocess.Popen(
            self._command(name), cwd=ROOT, env=self._env(), stdout=log, stderr=subprocess.STDOUT
        )
        with self._lock:
            self.processes[name] = (proc, log)

    def _supervise(self) -> None:
        """Restart a process that dies on its own, as systemd's Restart=always would."""
        if self._supervisor is not None:
            return

        def loop() -> None:
            while not self._closing.wait(0.5):
                # Under the lock, and not once stop() has begun: a process started while the
                # stack stops would outlive it (and keep the test database in use).
                with self._lock:
                    if self._closing.is_set():
                        return
                    dead = [n for n, (p, _log) in self.processes.items() if p.poll() is not None]
                    for name in dead:
                        self.processes.pop(name)[1].close()
                        self._spawn(name)

        self._supervisor = threading.Thread(target=loop, daemon=True)
        self._supervisor.start()

    def stop(self, *names: str) -> None:
        with self._lock:
            if not names:
                self._closing.set()
            chosen = [n for n in (names or tuple(self.processes)) if n in self.processes]
            stopping = [(n, self.processes.pop(n)) for n in chosen]
        for _name, (proc, _log) in stopping:
            proc.terminate()
        for _name, (proc, log) in stopping:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()

    def kill(self, name: str) -> None:
        """SIGKILL a process and do not start it again (a crash the supervisor is not told of
        would be restarted at once; tests that need it gone for a while use this)."""
        with self._lock:
            proc, log = self.processes.pop(name)
        proc.kill()
        proc.wait()
        log.close()

    def pid(self, name: str) -> int:
        return self.processes[name][0].pid

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.log_dir.glob("*.log"))

    def _wait_for_port(self, timeout: float = 30) -> None:
        proc = self.processes["daphne"][0]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"daphne exited early with {proc.returncode}; see {self.log_dir}"
                )
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"daphne did not listen on {self.port} within {timeout}s")
