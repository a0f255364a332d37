"""Recognising the images we show inline (group images): by their bytes, not their name."""

from __future__ import annotations

import base64

__all__ = ["MAX_AVATAR_BYTES", "avatar_header_value", "image_type"]

# A group image travels base64 in a header (Delta Chat's Chat-Group-Avatar); Postfix keeps
# at most 100 kB of headers (header_size_limit), so the image must stay well below that.
MAX_AVATAR_BYTES = 64 * 1024

_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def image_type(data: bytes | None) -> str | None:
    """Return the MIME type of a PNG, JPEG, GIF or WebP image, or None for anything else
    (SVG included: it can carry script)."""
    if not data:
        return None
    for signature, kind in _SIGNATURES:
        if data.startswith(signature):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def avatar_header_value(data: bytes | None) -> str:
    """Return Delta Chat's ``Chat-Group-Avatar`` value: ``base64:<data>``, or ``0`` to remove.

    The base64 is split by spaces so the header folds into short lines; DC removes all
    whitespace before it looks for the ``base64:`` prefix.
    """
    if not data:
        return "0"
    encoded = base64.b64encode(data).decode("ascii")
    # Short pieces, the first after a space too: a word longer than a folded line would
    # make the email package RFC 2047-encode it, which DC would not decode.
    return "base64: " + " ".join(encoded[i : i + 64] for i in range(0, len(encoded), 64))
