"""Print a new VAPID key pair for Web Push as environment lines (plain Python, no Django).

    .venv/bin/python scripts/vapid_keys.py >>/etc/coiweb.env

Keep the private key secret and stable: browsers subscribe with the public key, and a new
pair means every device must enable notifications again (the page renews it on its own).
"""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def main() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_numbers().private_value.to_bytes(32, "big")
    public = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    print(f"COIWEB_VAPID_PRIVATE_KEY={b64url(private)}")
    print(f"COIWEB_VAPID_PUBLIC_KEY={b64url(public)}")


if __name__ == "__main__":
    main()
