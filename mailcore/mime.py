"""A fast MIME splitter for well-formed mail, building the tree the email package builds.

`email.message_from_bytes` (compat32) spends most of its time in the feed parser, which
handles every line of every part in Python. Well-formed mail (the large majority, and all
of what a history import meets in bulk) needs far less: the header block line by line, and
for multipart bodies only the lines that start with "--". `split_message` does that and
returns a `Message` equal, attribute for attribute, to what the email package returns for the
same bytes; mail it is not sure about (defects, message/* parts, digests, unusual line
breaks, From_ lines) gets None, and the caller uses the email package.
"""

from __future__ import annotations

import re
from email import policy
from email.message import Message

# The feed parser's rules (email.feedparser): a header field with its continuation lines,
# and the end of a boundary line after its "--boundary".
_FIELD_RE = re.compile(r"([\041-\071\073-\176]+):([^\n]*(?:\n|\Z)(?:[ \t][^\n]*(?:\n|\Z))*)")
_BOUNDARY_END_RE = re.compile(r"(?P<end>--)?[ \t]*(?P<linesep>\r\n|\r|\n)?$")
# str.splitlines, which the feed parser uses, also breaks lines at these.
_ODD_BREAKS = (b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e")
_DASHES_RE = re.compile(r"^--", re.MULTILINE)
_SAFE_MULTIPART_CTE = {"7bit", "8bit", "binary"}


class IndexedMessage(Message):
    """A compat32 Message that looks headers up in an index and keeps parsed parameters.

    The MIME walk reads Content-Type and its parameters about ten times per part, and
    Message scans every header (lower-casing each name) on every read. The tree is only
    read once parsed; anything that changes headers drops the index and the kept values.
    """

    _index: dict[str, tuple[str, str]] | None = None
    _params: dict | None = None

    def index_headers(self) -> None:
        index: dict[str, tuple[str, str]] = {}
        for name, value in self._headers:
            index.setdefault(name.lower(), (name, value))
        self._index = index
        self._params = {}

    def get(self, name, failobj=None):
        if self._index is None:
            return super().get(name, failobj)
        found = self._index.get(name.lower())
        return failobj if found is None else self.policy.header_fetch_parse(*found)

    def get_content_type(self) -> str:
        if self._params is None:
            return super().get_content_type()
        if _CONTENT_TYPE not in self._params:
            self._params[_CONTENT_TYPE] = super().get_content_type()
        return self._params[_CONTENT_TYPE]

    def __contains__(self, name) -> bool:
        if self._index is None:
            return super().__contains__(name)
        return name.lower() in self._index

    def _get_params_preserve(self, failobj, header):
        if self._params is None:
            return super()._get_params_preserve(failobj, header)
        key = header.lower()
        if key not in self._params:
            self._params[key] = super()._get_params_preserve(_NO_PARAMS, header)
        params = self._params[key]
        return failobj if params is _NO_PARAMS else params


_NO_PARAMS = object()
_CONTENT_TYPE = object()  # the key under which IndexedMessage keeps get_content_type()


def _dropping_index(name: str):
    method = getattr(Message, name)

    def changing(self, *args, **kwargs):
        self._index = self._params = None
        return method(self, *args, **kwargs)

    changing.__name__ = name
    return changing


for _name in (
    "__setitem__", "__delitem__", "set_raw", "replace_header", "add_header",
    "set_param", "del_param", "set_type", "set_boundary", "set_default_type",
):  # fmt: skip
    setattr(IndexedMessage, _name, _dropping_index(_name))


class _Unsure(Exception):
    """The feed parser would note a defect or take a path this splitter does not copy."""


def split_message(raw: bytes) -> IndexedMessage | None:
    """Return the compat32 `Message` tree of `raw`, or None to leave it to the email package."""
    if raw.count(b"\r") != raw.count(b"\r\n") or any(c in raw for c in _ODD_BREAKS):
        return None
    text = raw.decode("ascii", "surrogateescape")  # as email.parser.BytesParser does
    if text.startswith("From "):
        return None
    try:
        return _part(text, 0, len(text), ())
    except _Unsure:
        return None


def _part(text: str, start: int, end: int, boundaries: tuple[str, ...]) -> Message:
    """The message or body part in text[start:end]."""
    msg = IndexedMessage(policy=policy.compat32)
    body = _headers(msg, text, start, end)
    msg.index_headers()
    maintype = msg.get_content_maintype()
    if maintype == "message":
        raise _Unsure  # the feed parser parses these into sub-messages
    if maintype != "multipart":
        msg._payload = text[body:end]
        return msg
    if msg.get_content_subtype() == "digest":
        raise _Unsure  # its parts default to message/rfc822
    boundary = msg.get_boundary()
    cte = str(msg.get("content-transfer-encoding", "8bit")).lower()
    if not boundary or boundary in boundaries or cte not in _SAFE_MULTIPART_CTE:
        raise _Unsure
    _multipart(msg, text, body, end, "--" + boundary, (*boundaries, boundary))
    return msg


def _headers(msg: Message, text: str, start: int, end: int) -> int:
    """Set msg's headers from the header block at `start`; return where the body starts."""
    pos = start
    match = _FIELD_RE.match
    while field := match(text, pos, end):
        # compat32's header_source_parse: the value keeps its folding, not its last line end.
        msg._headers.append((field[1], field[2].lstrip(" \t").rstrip("\r\n")))
        pos = field.end()
    if pos == end:
        return pos  # no body
    if text.startswith("\r\n", pos):
        return pos + 2
    if text.startswith("\n", pos):
        return pos + 1
    raise _Unsure  # a line that is no header where headers should be


def _multipart(
    msg: Message, text: str, start: int, end: int, separator: str, boundaries: tuple[str, ...]
) -> None:
    """Split a multipart body in text[start:end] at its boundary lines."""
    opened = False  # seen the first boundary
    part_start = start
    for match in _DASHES_RE.finditer(text, start, end):
        line_start = match.start()
        if not text.startswith(separator, line_start):
            continue
        newline = text.find("\n", line_start, end)
        line_end = end if newline < 0 else newline + 1
        mo = _BOUNDARY_END_RE.match(text[line_start:line_end], len(separator))
        if mo is None:
            continue
        if not opened:
            if line_start > start:
                msg.preamble = _without_eol(text[start:line_start])
            opened = True
        else:
            if line_start == part_start:
                raise _Unsure  # two boundary lines in a row
            msg.attach(_child(text, part_start, line_start, boundaries))
        if mo.group("end"):
            msg.epilogue = text[line_end:end]
            return
        part_start = line_end
    raise _Unsure  # no start or no close boundary


def _child(text: str, start: int, end: int, boundaries: tuple[str, ...]) -> Message:
    # RFC 2046: the line break before a boundary belongs to the boundary, not to the part.
    child = _part(text, start, end, boundaries)
    if child.get_content_maintype() == "multipart":
        if child.epilogue == "":
            child.epilogue = None
        elif child.epilogue is not None:
            child.epilogue = _without_eol(child.epilogue)
    else:
        child._payload = _without_eol(child._payload)
    return child


def _without_eol(value: str) -> str:
    if value.endswith("\r\n"):
        return value[:-2]
    return value[:-1] if value.endswith(("\n", "\r")) else value
