"""Lenient decoding of mail bytes and header values into clean ``str``; never raises."""

from __future__ import annotations

import codecs
import re
from email.header import decode_header

# Labels that mailers send but Python does not know, or where the sender almost always
# meant a superset (the same mapping browsers apply, see the WHATWG Encoding standard).
_CHARSET_ALIASES = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "ascii",
    "ansi_x3.4-1968": "ascii",
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "gb2312": "gbk",
    "x-gbk": "gbk",
    "ks_c_5601-1987": "cp949",
    "unicode-1-1-utf-8": "utf-8",
    "utf8mb4": "utf-8",
    "x-unknown": "",
    "unknown-8bit": "",
}

# Western single-byte labels are the ones most often declared for text that is really
# UTF-8; valid UTF-8 with non-ASCII bytes is practically never genuine Latin-1.
_WESTERN_CODECS = {"ascii", "cp1252", "iso8859-1", "iso8859-15"}

_FOLD_RE = re.compile(r"\r?\n(?=[ \t])")
_BARE_NEWLINE_RE = re.compile(r"[\r\n]+")


def codec_for(charset: str | None) -> str | None:
    """Return the Python codec name for a MIME charset label, or None when unknown."""
    if not charset:
        return None
    label = str(charset).strip().strip('"').lower().split("*", 1)[0]
    label = _CHARSET_ALIASES.get(label, label)
    if not label:
        return None
    try:
        return codecs.lookup(label).name
    except (LookupError, ValueError):
        return None


def decode_bytes(data: bytes, charset: str | None = None) -> str:
    """Decode body or header bytes leniently: declared charset, then UTF-8, then Windows-1252."""
    codec = codec_for(charset)
    if codec is None or codec in _WESTERN_CODECS:
        candidates = ["utf-8"] if codec is None or not data.isascii() else []
        candidates.append(codec or "utf-8")
    else:
        candidates = [codec, "utf-8"]
    for candidate in candidates:
        try:
            return _without_nul(data.decode(candidate))
        except (UnicodeDecodeError, LookupError):
            continue
    return _without_nul(data.decode("cp1252", errors="replace"))


def fix_surrogates(value: str) -> str:
    """Turn surrogate-escaped 8-bit bytes (raw non-ASCII headers) back into real text."""
    if value.isascii():
        return _without_nul(value)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        try:
            return decode_bytes(value.encode("utf-8", errors="surrogateescape"))
        except UnicodeEncodeError:
            return _without_nul(value.encode("utf-8", errors="replace").decode("utf-8"))
    return _without_nul(value)


def unfold(value: str) -> str:
    """Undo RFC 5322 folding; stray line breaks (bad folding) become spaces."""
    return _BARE_NEWLINE_RE.sub(" ", _FOLD_RE.sub("", value))


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded-words in an already unfolded header value."""
    if "=?" not in value:
        return value
    try:
        chunks = decode_header(value)
    except Exception:
        # Broken base64 or an exotic encoded-word: showing it raw beats losing the header.
        return value
    decoded = []
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            decoded.append(chunk)
        elif charset is None:
            # decode_header returns the unencoded runs as raw-unicode-escape bytes.
            try:
                decoded.append(chunk.decode("raw-unicode-escape"))
            except UnicodeDecodeError:
                decoded.append(chunk.decode("latin-1"))
        else:
            decoded.append(decode_bytes(chunk, charset))
    return "".join(decoded)


def decode_header_value(raw: str) -> str:
    """Decode a raw header value: 8-bit bytes, folding and encoded-words; never raises."""
    try:
        return fix_surrogates(decode_words(unfold(fix_surrogates(str(raw))))).strip()
    except Exception:
        return ""


def _without_nul(text: str) -> str:
    # NUL bytes are never meaningful in mail text and PostgreSQL refuses them in text columns.
    return text.replace("\x00", "") if "\x00" in text else text
