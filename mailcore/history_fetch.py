"""Fetching and parsing history, in this process or in a child process of its own.

A history import is CPU-bound Python: fetching and parsing a batch cost about as much as
storing it, and threads share one interpreter lock. A child process with its own IMAP
session fetches and parses on another core while the importer stores. Once asked for a
folder's newest batch it goes on down the folder by itself, up to AHEAD batches ahead, so
the next answer is usually ready when it is asked for. It imports mailcore only (no
Django), gets its credentials through its stdin, never its command line or environment,
and answers with pickles on its stdout.

    python -m mailcore.history_fetch      (started by HistoryFetchProcess, not by hand)
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import subprocess
import sys
import threading
from dataclasses import dataclass

from mailcore import imap
from mailcore.endpoints import Credentials, Endpoint, tls_context
from mailcore.errors import ConnectionLost, MailError
from mailcore.parse import ParsedMessage, parse_message


@dataclass(frozen=True)
class Batch:
    """Fetched and parsed history: the newest messages of a folder below some UID."""

    uidvalidity: int
    messages: tuple[imap.FetchedMessage, ...]
    parsed: tuple[ParsedMessage, ...]
    lowest: int  # the lowest UID fetched
    remaining: int  # how many older ones are left


def fetch_batch(client, folder: str, below_uid: int, limit: int = imap.FETCH_BATCH) -> Batch:
    """Fetch and parse the newest `limit` messages below `below_uid`."""
    validity, messages, lowest, remaining = imap.fetch_history(
        client, folder, below_uid=below_uid, limit=limit
    )
    parsed = tuple(parse_message(m.raw) for m in messages)
    return Batch(validity, messages, parsed, lowest, remaining)


class HistoryFetchProcess:
    """fetch_batch in a child process: `submit` a request, then take its `result`.

    Requests are answered in order; submit the next one before storing the last result
    and both run at once. The child goes on down a folder by itself, so a request for the
    batch below the last one is usually answered from what it has fetched ahead. A child
    that fails to log in, loses its connection or dies raises MailError from `result`, as
    a fetch in this process would.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        credentials: Credentials,
        *,
        extra_ca_file: str | None,
        timeout: float,
    ) -> None:
        self._child = subprocess.Popen(
            [sys.executable, "-m", __name__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": _package_root()},
        )
        self._pending = 0
        self._send((endpoint, credentials, extra_ca_file, timeout))

    def submit(self, folder: str, below_uid: int, limit: int) -> bool:
        self._send((folder, below_uid, limit))
        self._pending += 1
        return True

    def result(self) -> Batch:
        self._pending -= 1
        try:
            answer = pickle.load(self._child.stdout)
        except (EOFError, OSError, pickle.UnpicklingError):
            raise ConnectionLost(
                "The history import lost its helper process.", detail=self._exit_text()
            ) from None
        if isinstance(answer, Exception):
            raise answer
        return answer

    def discard(self) -> None:
        """Drop the answers still to come (so the next result is the next request's)."""
        while self._pending:
            try:
                self.result()
            except MailError:
                return  # the child has stopped: nothing more will come

    def close(self) -> None:
        """Stop the child, at once: whatever it fetched ahead is not wanted."""
        if self._child.returncode is not None:
            return
        for stream in (self._child.stdin, self._child.stdout):
            with contextlib.suppress(OSError):
                stream.close()
        self._child.kill()
        self._child.wait()

    def __enter__(self) -> HistoryFetchProcess:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _send(self, request: tuple) -> None:
        try:
            pickle.dump(request, self._child.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self._child.stdin.flush()
        except OSError:
            raise ConnectionLost(
                "The history import lost its helper process.", detail=self._exit_text()
            ) from None

    def _exit_text(self) -> str:
        code = self._child.poll()
        return "the helper is still running" if code is None else f"the helper exited ({code})"


def _package_root() -> str:
    # The child must find this mailcore, however the parent was started.
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    inherited = os.environ.get("PYTHONPATH")
    return f"{root}{os.pathsep}{inherited}" if inherited else root


def _serve(requests, answers) -> None:
    """The child: log in with what the first request says, then answer fetch requests."""
    endpoint, credentials, extra_ca_file, timeout = pickle.load(requests)
    try:
        with imap.session(
            endpoint, credentials, ssl_context=tls_context(extra_ca_file), timeout=timeout
        ) as client:
            _answer_requests(client, requests, answers)
    except MailError as exc:
        _answer(answers, exc)


def _answer_requests(client, requests, answers) -> None:
    """Answer each request from a read-ahead down its folder, until the importer is done."""
    ahead: _ReadAhead | None = None
    try:
        while True:
            try:
                request = pickle.load(requests)
            except EOFError:
                return  # the importer is done
            if ahead is None or ahead.next_request != request:
                if ahead is not None:
                    ahead.stop()
                ahead = _ReadAhead(client, *request)
            answer = ahead.take()
            if not isinstance(answer, Batch | MailError):
                # Raised inside the session, a network error becomes a MailError (answered
                # by _serve); anything else ends the child: a lost helper.
                raise answer
            _answer(answers, answer)
            if isinstance(answer, MailError):
                return
    finally:
        if ahead is not None:
            ahead.stop()


# Batches the child fetches and parses before they are asked for (about 2 MB each).
AHEAD = 2


class _ReadAhead:
    """A thread fetching one folder's batches, newest first, from a first request on.

    The session is its alone while it runs; `stop` it before anything else uses it.
    """

    def __init__(self, client, folder: str, below_uid: int, limit: int) -> None:
        self.next_request: tuple | None = (folder, below_uid, limit)  # what take() answers
        self._ready: queue.Queue = queue.Queue(AHEAD)
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(client, folder, below_uid, limit), daemon=True
        )
        self._thread.start()

    def take(self) -> Batch | BaseException:
        """The answer to `next_request` (waiting for it if need be)."""
        answer = self._ready.get()
        if isinstance(answer, Batch) and answer.remaining:
            folder, _, limit = self.next_request
            self.next_request = (folder, answer.lowest, limit)
        else:
            self.next_request = None  # the folder is done, or fetching failed
        return answer

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()

    def _run(self, client, folder: str, below_uid: int, limit: int) -> None:
        try:
            while not self._stopping.is_set():
                batch = fetch_batch(client, folder, below_uid, limit)
                self._put(batch)
                if not batch.remaining:
                    return
                below_uid = batch.lowest
        except BaseException as exc:  # handed to the answering thread, which reports it
            self._put(exc)

    def _put(self, answer) -> None:
        while not self._stopping.is_set():
            try:
                self._ready.put(answer, timeout=0.1)
                return
            except queue.Full:
                continue


def _answer(answers, value) -> None:
    pickle.dump(value, answers, protocol=pickle.HIGHEST_PROTOCOL)
    answers.flush()


def main() -> None:
    # Answers go to the real stdout only; anything printed by accident goes to stderr.
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    with contextlib.suppress(BrokenPipeError, KeyboardInterrupt):
        _serve(sys.stdin.buffer, answers)


if __name__ == "__main__":
    # Run as the importable module, so the answers pickle as mailcore.history_fetch.Batch.
    from mailcore import history_fetch

    history_fetch.main()
