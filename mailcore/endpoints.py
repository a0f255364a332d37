"""Where a mail server is and how to reach it securely."""

from __future__ import annotations

import ipaddress
import socket
import ssl
from dataclasses import dataclass, field
from typing import Literal

Security = Literal["ssl", "starttls", "plain"]


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    security: Security


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)


def is_loopback(host: str) -> bool:
    """Return True when `host` names this machine (plaintext is only allowed there)."""
    if host.lower() in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def tls_context(extra_ca_file: str | None = None) -> ssl.SSLContext:
    """Return a verifying TLS context; `extra_ca_file` adds a CA (a self-hosted server's own)."""
    context = ssl.create_default_context()
    if extra_ca_file:
        context.load_verify_locations(cafile=extra_ca_file)
    return context


def resolve(host: str, port: int) -> None:
    """Resolve `host` so an unknown name fails with socket.gaierror before any connect."""
    socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
