"""Delta Chat core (deltachat-rpc-server 2.65) as a real peer on the local mail server.

Each peer runs its own rpc-server process on a fresh temporary accounts dir, with one
account configured for a mailbox of tests/mailserver.py. It speaks classic unencrypted
email (``force_encryption=0``), since coiweb does not do end-to-end encryption yet.

    with deltachat_peer("dc", display_name="Dora") as dc:
        msg_id = dc.send_text("alice@example.org", "hi")
        answer = dc.wait_for_incoming(lambda m: m.text == "hello", timeout=20)
"""

from __future__ import annotations

import contextlib
import queue
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from deltachat_rpc_client import Rpc

from tests.mailserver import MailUser, add_mail_user, mail_server

ROOT = Path(__file__).resolve().parent.parent
LOG_DIR = ROOT / "var" / "test-logs"
DEVICE_CONTACT_ID = 5  # the core's own "Device messages" chat; never mail

# Keep the core to our mail server and plain email unless a test asks otherwise.
DEFAULT_CONFIG = {
    "force_encryption": "0",  # default 1 ignores unencrypted mail and refuses to send it
    "webxdc_realtime_enabled": "0",  # no iroh peer-to-peer networking
    "stats_sending": "0",
    "mdns_enabled": "0",  # no read receipts
}


@dataclass(frozen=True)
class DcMessage:
    """A message as Delta Chat reports it through its RPC API."""

    id: int
    chat_id: int
    text: str
    subject: str
    sender: str
    sender_name: str
    chat_name: str
    chat_type: str
    contact_request: bool
    quote: str | None
    encrypted: bool
    is_info: bool
    rfc724_mid: str
    state: int  # deltachat_rpc_client.const.MessageState, e.g. OUT_MDN_RCVD once read
    view_type: str  # "Text", "Image", "Voice", "File", …
    file_name: str | None
    file_mime: str | None
    duration_ms: int  # a voice message's or video's length, 0 when unknown


@dataclass(frozen=True)
class DcChat:
    """A chat as Delta Chat lists it."""

    id: int
    name: str
    type: str
    contact_request: bool
    encrypted: bool
    is_device: bool


class DeltaChatPeer:
    """One Delta Chat account for `mail`, served by its own rpc-server process."""

    def __init__(
        self, mail: MailUser, *, display_name: str = "Delta", config: dict | None = None
    ) -> None:
        self.mail = mail
        self.display_name = display_name
        self.config = {**DEFAULT_CONFIG, **(config or {})}
        self.home: Path | None = None
        self.log_path = LOG_DIR / f"deltachat-{mail.email.split('@')[0]}.log"
        self._log = None
        self._rpc: Rpc | None = None
        self._aid = 0
        self._incoming: list[int] = []
        self._outcome: dict[int, str | None] = {}  # msg id -> None (delivered) or error

    @property
    def addr(self) -> str:
        """This peer's email address."""
        return self.mail.email

    # -- lifecycle

    def start(self) -> DeltaChatPeer:
        """Start the rpc-server, add and configure the account, start IO; return self."""
        try:
            self._start_server()
            self._configure()
            self._rpc.start_io(self._aid)
            self._rpc.wait_for_all_work_done(self._aid)
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Stop the rpc-server (killing it if it hangs) and remove the accounts dir."""
        rpc, self._rpc = self._rpc, None
        if rpc is not None:
            _close_rpc(rpc)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.home is not None:
            shutil.rmtree(self.home, ignore_errors=True)
            self.home = None

    def __enter__(self) -> DeltaChatPeer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def _start_server(self) -> None:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.home = Path(tempfile.mkdtemp(prefix="coiweb-dc-"))
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in close()
        # Never leave stderr as a pipe: nobody reads it, and a full pipe blocks the core.
        self._rpc = Rpc(
            accounts_dir=str(self.home / "accounts"),
            rpc_server_path=_rpc_server_path(),
            stderr=self._log,
        )
        self._rpc.start()
        self._aid = self._rpc.add_account()

    def _configure(self) -> None:
        for key, value in {**self.config, "displayname": self.display_name}.items():
            self._rpc.set_config(self._aid, key, value)
        server = mail_server()
        # Explicit servers given as an IP: no autoconfig lookups and no DNS. Never call
        # init_transports(), which looks for public chatmail relays. Delta Chat cannot be
        # told to trust our CA, so certificate checks must be off.
        self._rpc.add_or_update_transport(
            self._aid,
            {
                "addr": self.addr,
                "password": self.mail.password,
                "imapServer": server.host,
                "imapPort": server.imaps_port,
                "imapSecurity": "ssl",
                "smtpServer": server.host,
                "smtpPort": server.submission_port,
                "smtpSecurity": "starttls",
                "certificateChecks": "acceptInvalidCertificates",
            },
        )

    # -- sending

    def send_text(self, to_addr: str, text: str, *, timeout: float = 20) -> int:
        """Send `text` to a plain address in its 1:1 chat; return the message id once the
        SMTP server accepted it."""
        # Without a known key this is an address-contact, i.e. an unencrypted chat.
        contact_id = self._rpc.create_contact(self._aid, to_addr, None)
        chat_id = self._rpc.create_chat_by_contact_id(self._aid, contact_id)
        msg_id = self._rpc.send_msg(self._aid, chat_id, {"text": text})
        self.wait_sent(msg_id, timeout)
        return msg_id

    def send_file(
        self, to_addr: str, path: Path, *, viewtype: str, text: str = "", timeout: float = 20
    ) -> int:
        """Send a file (viewtype "Image", "File", "Voice"…) in the 1:1 chat with `to_addr`;
        return the message id once the SMTP server accepted it."""
        contact_id = self._rpc.create_contact(self._aid, to_addr, None)
        chat_id = self._rpc.create_chat_by_contact_id(self._aid, contact_id)
        msg_id = self._rpc.send_msg(
            self._aid, chat_id, {"text": text, "file": str(path), "viewtype": viewtype}
        )
        self.wait_sent(msg_id, timeout)
        return msg_id

    def mark_seen(self, msg_id: int) -> None:
        """The user looked at `msg_id`: Delta Chat sends a read receipt if it may."""
        self._rpc.markseen_msgs(self._aid, [msg_id])
        self._rpc.wait_for_all_work_done(self._aid)

    def reply(self, msg_id: int, text: str, *, timeout: float = 20) -> int:
        """Quote-reply to `msg_id` in its chat (accepting a contact request first); return
        the new message id once the SMTP server accepted it."""
        chat_id = self._rpc.get_message(self._aid, msg_id)["chatId"]
        if self._rpc.get_basic_chat_info(self._aid, chat_id)["isContactRequest"]:
            self._rpc.accept_chat(self._aid, chat_id)  # a request chat cannot be written to
        reply_id = self._rpc.send_msg(self._aid, chat_id, {"text": text, "quotedMessageId": msg_id})
        self.wait_sent(reply_id, timeout)
        return reply_id

    def create_group(self, name: str, addrs: list[str]) -> int:
        """Create an unencrypted group (plain addresses can only be in one); return its id.
        Members learn of it with the first message."""
        chat_id = self._rpc.create_group_chat_unencrypted(self._aid, name)
        for addr in addrs:
            self._rpc.add_contact_to_chat(
                self._aid, chat_id, self._rpc.create_contact(self._aid, addr, None)
            )
        return chat_id

    def send_to_chat(self, chat_id: int, text: str, *, timeout: float = 20) -> int:
        """Send `text` to a chat (accepting it first if it is a contact request)."""
        if self._rpc.get_basic_chat_info(self._aid, chat_id)["isContactRequest"]:
            self._rpc.accept_chat(self._aid, chat_id)
        msg_id = self._rpc.send_msg(self._aid, chat_id, {"text": text})
        self.wait_sent(msg_id, timeout)
        return msg_id

    def rename_chat(self, chat_id: int, name: str) -> None:
        self._rpc.set_chat_name(self._aid, chat_id, name)

    def remove_member(self, chat_id: int, addr: str) -> None:
        contact_id = self._rpc.lookup_contact_id_by_addr(self._aid, addr)
        self._rpc.remove_contact_from_chat(self._aid, chat_id, contact_id)

    def chat_member_addrs(self, chat_id: int) -> set[str]:
        """The chat's members as Delta Chat lists them, ourselves included."""
        ids = self._rpc.get_chat_contacts(self._aid, chat_id)
        return {self._rpc.get_contact(self._aid, cid)["address"] for cid in ids}

    def chat_name(self, chat_id: int) -> str:
        return self._rpc.get_basic_chat_info(self._aid, chat_id)["name"]

    def pump(self, seconds: float) -> None:
        """Let the core work (and record its events) for a while."""
        with contextlib.suppress(AssertionError):
            self._pump_until(lambda: False, seconds, "nothing")

    def react(self, msg_id: int, emoji: str, *, timeout: float = 20) -> None:
        """React to `msg_id` (an empty emoji takes the reaction back)."""
        self.wait_sent(
            self._rpc.send_reaction(self._aid, msg_id, [emoji] if emoji else []), timeout
        )

    def reactions(self, msg_id: int) -> dict[str, str]:
        """The reactions on `msg_id` by sender address, as Delta Chat shows them."""
        found = self._rpc.get_message_reactions(self._aid, msg_id) or {}
        by_contact = found.get("reactionsByContact", {})
        return {
            self._rpc.get_contact(self._aid, int(cid))["address"]: " ".join(emojis)
            for cid, emojis in by_contact.items()
        }

    def edit(self, msg_id: int, text: str) -> None:
        self._rpc.send_edit_request(self._aid, msg_id, text)
        self._rpc.wait_for_all_work_done(self._aid)

    def delete_for_all(self, msg_id: int) -> None:
        self._rpc.delete_messages_for_all(self._aid, [msg_id])
        self._rpc.wait_for_all_work_done(self._aid)

    def find(self, rfc724_mid: str, timeout: float = 20) -> DcMessage:
        """The message with this Message-ID (without <>) in any chat, once it arrived.
        (Delta Chat raises no IncomingMsg event for a second message in a contact request.)"""
        found: list[DcMessage] = []

        def match() -> bool:
            for chat in self.chats():
                for message in self.messages(chat.id):
                    if message.rfc724_mid == rfc724_mid:
                        found.append(message)
                        return True
            return False

        self._pump_until(match, timeout, f"message {rfc724_mid}")
        return found[0]

    def exists(self, msg_id: int) -> bool:
        return bool(self._rpc.get_existing_msg_ids(self._aid, [msg_id]))

    def wait_sent(self, msg_id: int, timeout: float = 20) -> None:
        """Wait until the SMTP server accepted `msg_id`; raise if sending failed or timed out."""
        self._pump_until(lambda: msg_id in self._outcome, timeout, f"delivery of msg {msg_id}")
        if error := self._outcome[msg_id]:
            raise AssertionError(f"Delta Chat could not send msg {msg_id}: {error}")

    # -- reading

    def wait_for_incoming(
        self, predicate: Callable[[DcMessage], bool], timeout: float = 20
    ) -> DcMessage:
        """Return the first incoming message (already received or arriving within `timeout`
        seconds) for which `predicate` is true, as Delta Chat reports it now."""
        found: list[DcMessage] = []

        def match() -> bool:
            for msg_id in self._incoming:
                snapshot = self.message(msg_id)
                if predicate(snapshot):
                    found.append(snapshot)
                    return True
            return False

        self._pump_until(
            match,
            timeout,
            "matching incoming message",
            seen=lambda: [self.message(msg_id) for msg_id in self._incoming],
        )
        return found[0]

    def message(self, msg_id: int) -> DcMessage:
        """Snapshot of one message."""
        m = self._rpc.get_message(self._aid, msg_id)
        chat = self._rpc.get_basic_chat_info(self._aid, m["chatId"])
        sender = m.get("sender") or {}
        return DcMessage(
            id=msg_id,
            chat_id=m["chatId"],
            text=m["text"],
            subject=m["subject"],
            sender=sender.get("address", ""),
            sender_name=sender.get("displayName", ""),
            chat_name=chat["name"],
            chat_type=chat["chatType"],
            contact_request=chat["isContactRequest"],
            quote=(m.get("quote") or {}).get("text"),
            encrypted=m["showPadlock"],
            is_info=m["isInfo"],
            rfc724_mid=self._rpc.get_message_info_object(self._aid, msg_id)["rfc724Mid"],
            state=m["state"],
            view_type=m["viewType"],
            file_name=m.get("fileName"),
            file_mime=m.get("fileMime"),
            duration_ms=m.get("duration") or 0,
        )

    def chats(self) -> list[DcChat]:
        """Every chat in the chat list, newest first."""
        chats = []
        for chat_id in self._rpc.get_chatlist_entries(self._aid, 0, None, None):
            c = self._rpc.get_basic_chat_info(self._aid, chat_id)
            chats.append(
                DcChat(
                    id=chat_id,
                    name=c["name"],
                    type=c["chatType"],
                    contact_request=c["isContactRequest"],
                    encrypted=c["isEncrypted"],
                    is_device=c["isDeviceChat"],
                )
            )
        return chats

    def messages(self, chat_id: int) -> list[DcMessage]:
        """The messages of a chat, oldest first."""
        ids = self._rpc.get_message_ids(self._aid, chat_id, False, False)
        return [self.message(msg_id) for msg_id in ids]

    # -- events

    def _pump_until(
        self,
        done: Callable[[], bool],
        timeout: float,
        what: str,
        seen: Callable[[], list] | None = None,
    ) -> None:
        """Consume core events, remembering incoming messages and delivery outcomes, until
        `done()` is true; raise AssertionError after `timeout` seconds."""
        events = self._rpc.get_queue(self._aid)
        deadline = time.monotonic() + timeout
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                detail = f"; received so far: {seen()}" if seen else ""
                raise AssertionError(
                    f"{self.addr}: no {what} within {timeout}s{detail} (log {self.log_path})"
                )
            with contextlib.suppress(queue.Empty):
                self._record(events.get(timeout=min(left, 0.5)))

    def _record(self, event: dict) -> None:
        kind = event["kind"]
        if kind == "IncomingMsg" and event["msgId"] not in self._incoming:
            m = self._rpc.get_message(self._aid, event["msgId"])
            if m["fromId"] != DEVICE_CONTACT_ID:
                self._incoming.append(event["msgId"])
        elif kind == "MsgDelivered":
            self._outcome[event["msgId"]] = None
        elif kind == "MsgFailed":
            error = self._rpc.get_message(self._aid, event["msgId"]).get("error")
            self._outcome[event["msgId"]] = error or "failed"
        elif kind in ("Warning", "Error") and self._log is not None:
            # Core warnings arrive as events, not on stderr: keep them next to the server log.
            self._log.write(f"[{kind} event] {event.get('msg', '')}\n".encode())
            self._log.flush()


@contextlib.contextmanager
def deltachat_peer(
    name: str = "dc", *, display_name: str | None = None, config: dict | None = None
) -> Iterator[DeltaChatPeer]:
    """A started Delta Chat peer on a fresh mailbox `<name>-<random>@<domain>`; closed
    (rpc-server stopped, temp dir removed) on exit, also when the body fails."""
    peer = DeltaChatPeer(
        add_mail_user(name), display_name=display_name or name.title(), config=config
    )
    with peer:
        yield peer


def _rpc_server_path() -> str:
    installed = Path(sys.executable).parent / "deltachat-rpc-server"
    return str(installed) if installed.exists() else "deltachat-rpc-server"


def _close_rpc(rpc: Rpc, timeout: float = 10) -> None:
    """Rpc.close() waits on the server without a time limit, and does not wait for the
    process at all: bound both, and kill a server that does not exit."""
    closer = threading.Thread(target=rpc.close, daemon=True)
    closer.start()
    closer.join(timeout)
    process = getattr(rpc, "process", None)
    if process is None:
        return
    try:
        process.wait(timeout=timeout)
    except Exception:
        process.kill()
        process.wait()
    closer.join(timeout)
