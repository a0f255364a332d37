"""A push service on 127.0.0.1 for the tests, playing the part of FCM or Mozilla's autopush.

It checks what RFC 8292 asks of a sender (a VAPID JWT signed with the server's key, for
this origin, not expired) and, like the browser would, decrypts the aes128gcm payload of
RFC 8291 with the subscription's private key. Written from the RFCs with `cryptography`
alone, so it does not share a bug with the library that encrypts.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import secrets
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_bytes(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


@dataclass(frozen=True)
class VapidKeys:
    private: str
    public: str
    subject: str = "mailto:admin@example.org"

    @classmethod
    def generate(cls) -> VapidKeys:
        key = ec.generate_private_key(ec.SECP256R1())
        raw = key.private_numbers().private_value.to_bytes(32, "big")
        return cls(private=b64url(raw), public=b64url(public_bytes(key)))

    def as_env(self) -> dict[str, str]:
        return {
            "COIWEB_VAPID_PRIVATE_KEY": self.private,
            "COIWEB_VAPID_PUBLIC_KEY": self.public,
            "COIWEB_VAPID_SUBJECT": self.subject,
        }


@dataclass
class Device:
    """A browser's side of a subscription: the keys it made, and the endpoint it was given."""

    token: str
    endpoint: str
    key: ec.EllipticCurvePrivateKey = field(repr=False)
    auth_secret: bytes = field(repr=False)

    @property
    def p256dh(self) -> str:
        return b64url(public_bytes(self.key))

    @property
    def auth(self) -> str:
        return b64url(self.auth_secret)

    def decrypt(self, body: bytes) -> bytes:
        """RFC 8291, section 3.4, over RFC 8188's aes128gcm framing (a single record)."""
        salt, record_size, id_length = body[:16], *struct.unpack("!IB", body[16:21])
        sender_public = body[21 : 21 + id_length]
        ciphertext = body[21 + id_length :]
        assert id_length == 65 and len(ciphertext) <= record_size, "one record, keyid = as_public"
        shared = self.key.exchange(
            ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), sender_public)
        )
        key_info = b"WebPush: info\0" + public_bytes(self.key) + sender_public
        ikm = HKDF(hashes.SHA256(), 32, salt=self.auth_secret, info=key_info).derive(shared)
        cek = HKDF(hashes.SHA256(), 16, salt=salt, info=b"Content-Encoding: aes128gcm\0").derive(
            ikm
        )
        nonce = HKDF(hashes.SHA256(), 12, salt=salt, info=b"Content-Encoding: nonce\0").derive(ikm)
        padded = AESGCM(cek).decrypt(nonce, ciphertext, None)
        data = padded.rstrip(b"\0")
        assert data.endswith(b"\x02"), "the last record ends with delimiter 2"
        return data[:-1]


@dataclass
class Delivery:
    """One POST the push service received, and what it made of it."""

    token: str
    headers: dict[str, str]
    body: bytes
    status: int
    problem: str = ""  # why the request was refused (bad VAPID, undecryptable…)
    payload: dict | None = None


class PushService:
    """Answers each endpoint with the statuses queued for it, then with 201 Created."""

    def __init__(self, vapid: VapidKeys) -> None:
        self.vapid = vapid
        self.devices: dict[str, Device] = {}
        self.deliveries: queue.Queue[Delivery] = queue.Queue()
        self._answers: dict[str, list[int]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.origin = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> PushService:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def new_device(self) -> Device:
        token = secrets.token_urlsafe(16)
        device = Device(
            token=token,
            endpoint=f"{self.origin}/push/{token}",
            key=ec.generate_private_key(ec.SECP256R1()),
            auth_secret=os.urandom(16),
        )
        self.devices[token] = device
        return device

    def answer(self, device: Device, *statuses: int) -> None:
        """Answer the next POSTs to the device's endpoint with these statuses."""
        with self._lock:
            self._answers.setdefault(device.token, []).extend(statuses)

    def next_delivery(self, timeout: float = 10) -> Delivery:
        return self.deliveries.get(timeout=timeout)

    def no_more_deliveries(self, within: float = 0.5) -> bool:
        try:
            self.deliveries.get(timeout=within)
        except queue.Empty:
            return True
        return False

    def _status_for(self, token: str) -> int:
        with self._lock:
            answers = self._answers.get(token) or []
            return answers.pop(0) if answers else 201

    def receive(self, path: str, headers: dict[str, str], body: bytes) -> Delivery:
        token = path.removeprefix("/push/")
        device = self.devices.get(token)
        delivery = Delivery(token=token, headers=headers, body=body, status=201)
        try:
            if device is None:
                raise PushRefused(404, "no such subscription")
            self.check_vapid(headers.get("authorization", ""))
            if headers.get("content-encoding") != "aes128gcm":
                raise PushRefused(400, f"content-encoding {headers.get('content-encoding')}")
            if not headers.get("ttl", "").isdigit():
                raise PushRefused(400, "no TTL")
            delivery.payload = json.loads(device.decrypt(body))
        except PushRefused as refused:
            delivery.status, delivery.problem = refused.status, refused.problem
        except Exception as exc:  # anything else wrong with the request is the sender's fault
            delivery.status, delivery.problem = 400, f"{exc.__class__.__name__}: {exc}"
        else:
            delivery.status = self._status_for(token)
        self.deliveries.put(delivery)
        return delivery

    def check_vapid(self, authorization: str) -> None:
        """RFC 8292: "vapid t=<JWT>, k=<public key>", an ES256 JWT for this origin."""
        scheme, _, params = authorization.partition(" ")
        fields = dict(p.strip().split("=", 1) for p in params.split(",") if "=" in p)
        if scheme.lower() != "vapid" or {"t", "k"} - fields.keys():
            raise PushRefused(401, f"not a VAPID authorization: {authorization[:40]!r}")
        if fields["k"] != self.vapid.public:
            raise PushRefused(403, "signed with another key than the subscription's")
        header, claims, signature = fields["t"].split(".")
        raw = unb64url(signature)
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(fields["k"]))
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        try:
            key.verify(der, f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise PushRefused(403, "bad JWT signature") from None
        if json.loads(unb64url(header)) != {"typ": "JWT", "alg": "ES256"}:
            raise PushRefused(403, "not an ES256 JWT")
        claims = json.loads(unb64url(claims))
        if claims.get("aud") != self.origin:
            raise PushRefused(403, f"JWT for {claims.get('aud')!r}, not {self.origin!r}")
        if not time.time() < claims.get("exp", 0) <= time.time() + 24 * 3600:
            raise PushRefused(403, "JWT expired or valid for more than 24 hours")
        if claims.get("sub") != self.vapid.subject:
            raise PushRefused(403, f"JWT subject {claims.get('sub')!r}")

    def _handler(self):
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                delivery = service.receive(self.path, headers, body)
                self.send_response(delivery.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        return Handler


class PushRefused(Exception):
    def __init__(self, status: int, problem: str) -> None:
        super().__init__(problem)
        self.status, self.problem = status, problem
