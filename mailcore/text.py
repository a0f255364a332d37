"""Plain-text mail bodies: folding quotes and signatures, format=flowed, subjects, links."""

from __future__ import annotations

import re
from html import escape

SIGNATURE_SEPARATOR = "-- "

_REPLY_PREFIX_RE = re.compile(
    r"^\s*(?:(?:re|aw|sv|vs|antw|fwd?|wg)(?:\s*\[\d+\]|\s*\(\d+\))?\s*[:：]\s*)+",
    re.IGNORECASE,
)
_WHITESPACE_RE = re.compile(r"\s+")

# Attribution lines end in a colon and name the verb, either last ("On <date>, <name> wrote:")
# or after a date ("Am <date> schrieb <name>:"); long ones are wrapped over two lines.
_ATTRIBUTION_VERB_RE = re.compile(
    r"\b(?:wrote|writes|schrieb|schreibt|a écrit|escribió|ha scritto|schreef|skrev|kirjoitti"
    r"|napisał|написал\w*|escreveu)\b",
    re.IGNORECASE,
)
_ATTRIBUTION_VERB_LAST_RE = re.compile(
    rf"(?:{_ATTRIBUTION_VERB_RE.pattern})\s*:\s*$", re.IGNORECASE
)
_ATTRIBUTION_START_RE = re.compile(r"^(?:On|Am|Le|El|Il|Op|Den|På|Em|W dniu)\s", re.IGNORECASE)
_ORIGINAL_MESSAGE_RE = re.compile(
    r"^\s*-{2,}\s*(?:Original Message|Ursprüngliche Nachricht|Message d'origine"
    r"|Mensaje original|Messaggio originale|Oorspronkelijk bericht)\s*-{2,}\s*$",
    re.IGNORECASE,
)
_HEADER_FROM_RE = re.compile(r"^\s*\**(?:From|Von|De|Da|Van|Från|Fra)\s*:\**\s*\S", re.IGNORECASE)
_HEADER_NEXT_RE = re.compile(
    r"^\s*\**(?:Sent|Date|Gesendet|Datum|Envoyé|Enviado|Inviato|Verzonden|Skickat|Sendt|To|An|À|Para|A|Aan|Till|Til|Subject|Betreff|Objet|Asunto|Oggetto|Onderwerp|Ämne|Emne|Cc)\s*:",
    re.IGNORECASE,
)
_OUTLOOK_RULE_RE = re.compile(r"^\s*_{10,}\s*$")
_MOBILE_FOOTER_RE = re.compile(
    r"^\s*(?:Sent from my \w[\w ]*|Sent from (?:Mail|Outlook|Yahoo Mail|Proton ?Mail)\b.*"
    r"|Get Outlook for \w+.*|Sent with (?:Proton ?Mail|Spark|BlackBerry)\b.*"
    r"|Von meinem \w[\w ]* gesendet|Gesendet von (?:meinem|Mail|Outlook|Yahoo)\b.*"
    r"|Envoyé de mon \w.*|Enviado desde mi \w.*|Inviato da(?:l mio)? \w+)\s*$",
    re.IGNORECASE,
)


# Links in plain text: http(s) URLs, "www." hosts, bare hosts in the seven original gTLDs (what
# Django's urlize linked) and e-mail addresses. Hrefs are only ever http(s) or mailto: whatever a
# text says ("javascript:..."), it can only become text or the tail of an http(s) URL. A URL
# stops at whitespace, quotes, backticks and angle brackets, and needs a word character (or an
# IPv6 "[") after the scheme, so "http://" alone stays text.
# Linear time on hostile input ("a.a.a.a..." over a megabyte): an address or a host can only
# start where a run of its characters starts (the lookbehinds), and the possessive "++" never
# rescans a run.
_URL_CHARS = r"""[^\s<>"'`]"""
_LINK_RE = re.compile(
    rf"""(?P<url>\bhttps?://[\w\[]{_URL_CHARS}*)"""
    r"""|(?P<email>(?<![\w.+-])\w[\w.+-]*+@[\w-]++(?:\.[\w-]++)+)"""
    rf"""|(?P<host>\bwww\.\w{_URL_CHARS}*"""
    r"""|(?<![\w.@-])(?:[\w-]++\.)+(?:com|edu|gov|int|mil|net|org)(?![\w-]|\.[\w-])"""
    rf"""(?:/{_URL_CHARS}*)?)""",
    re.IGNORECASE,
)
# Most chat texts hold no link at all; these substring tests are much cheaper than the scan.
_LINK_HINTS = ("://", "www.", "@", ".com", ".edu", ".gov", ".int", ".mil", ".net", ".org")
# Sentence punctuation after a link ("see https://example.org/.") is not part of it, nor is a
# closing bracket without its opening one ("(see www.example.org)").
_TRAILING_PUNCTUATION = ".,:;!?*"
_BRACKETS = {")": "(", "]": "[", "}": "{"}
_LINK_ATTRS = ' rel="noopener noreferrer nofollow" target="_blank"'


def linkify(text: str) -> str:
    """Escape plain text as HTML, with its URLs and e-mail addresses as links."""
    folded = text.lower()
    if not any(hint in folded for hint in _LINK_HINTS):
        return escape(text)
    parts = []
    done = 0
    for match in _LINK_RE.finditer(text):
        start, end = match.span()
        if match.lastgroup == "email":
            address = escape(match.group())
            link = f'<a href="mailto:{address}">{address}</a>'
        else:
            url = _trim_link(match.group())
            end = start + len(url)
            href = url if match.lastgroup == "url" else f"http://{url}"
            link = f'<a href="{escape(href)}"{_LINK_ATTRS}>{escape(url)}</a>'
        parts.append(escape(text[done:start]))
        parts.append(link)
        done = end
    parts.append(escape(text[done:]))
    return "".join(parts)


def _trim_link(url: str) -> str:
    # Only punctuation and closing brackets are trimmed, so the opening counts stay valid.
    unmatched = {close: url.count(close) - url.count(open_) for close, open_ in _BRACKETS.items()}
    end = len(url)
    while end:
        last = url[end - 1]
        if last in _BRACKETS and unmatched[last] > 0:
            unmatched[last] -= 1
        elif last not in _TRAILING_PUNCTUATION:
            break
        end -= 1
    return url[:end]


def split_quote_and_signature(text: str) -> tuple[str, str]:
    """Split mail text into (main text, folded trailing quote/signature/footer); lossless."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cut = _signature_start(lines)
    main_end = _trailing_fold_start(lines[:cut])
    if not _has_content(lines[:main_end]):
        # Folding everything would leave an empty bubble; only the signature may go.
        main_end = cut
    return _join(lines[:main_end]), _join(lines[main_end:])


def split_signature(text: str) -> tuple[str, str]:
    """Split text at the first RFC 3676 ``-- `` line into (main text, signature block)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cut = _signature_start(lines)
    return _join(lines[:cut]), _join(lines[cut:])


def decode_flowed(text: str, delsp: bool = False) -> str:
    """Decode RFC 3676 format=flowed text into logical lines, keeping quote depth as ``> ``."""
    output: list[str] = []
    paragraph: list[str] = []
    paragraph_depth = 0
    for raw_line in text.replace("\r\n", "\n").split("\n"):
        stripped = raw_line.lstrip(">")
        depth = len(raw_line) - len(stripped)
        if stripped.startswith(" "):
            stripped = stripped[1:]  # undo space-stuffing
        if paragraph and depth != paragraph_depth:
            # A flowed line followed by a different quote depth is improperly flowed: end it.
            output.append(_quote(paragraph_depth, "".join(paragraph)))
            paragraph = []
        flowed = stripped.endswith(" ") and stripped != SIGNATURE_SEPARATOR
        if flowed and delsp:
            stripped = stripped[:-1]
        paragraph.append(stripped)
        paragraph_depth = depth
        if not flowed:
            output.append(_quote(depth, "".join(paragraph)))
            paragraph = []
    if paragraph:
        output.append(_quote(paragraph_depth, "".join(paragraph)))
    return "\n".join(output)


def clean_subject(subject: str | None) -> str:
    """Strip repeated reply/forward prefixes (Re:, AW:, SV:, Fwd:, WG: ...) and extra spaces."""
    subject = _WHITESPACE_RE.sub(" ", subject or "").strip()
    return _REPLY_PREFIX_RE.sub("", subject).strip()


def reply_subject(subject: str | None) -> str:
    """Return the subject for a reply: ``Re: <cleaned subject>``, never ``Re: Re:``."""
    return f"Re: {clean_subject(subject)}".strip()


def _signature_start(lines: list[str]) -> int:
    for index, line in enumerate(lines):
        if line == SIGNATURE_SEPARATOR:
            return index
    return len(lines)


def _trailing_fold_start(lines: list[str]) -> int:
    """Return the index where trailing quotes, forwarded originals and footers begin."""
    end = _outlook_block_start(lines)
    while True:
        end = _skip_blank_back(lines, end)
        if end == 0:
            return 0
        last = lines[end - 1]
        if last.lstrip().startswith(">"):
            end = _quote_block_start(lines, end)
            end = _attribution_start(lines, end)
        elif _MOBILE_FOOTER_RE.match(last):
            end -= 1
        else:
            return _skip_blank_back(lines, end)


def _outlook_block_start(lines: list[str]) -> int:
    for index, line in enumerate(lines):
        if _ORIGINAL_MESSAGE_RE.match(line):
            return index
        if _HEADER_FROM_RE.match(line) and _is_header_block(lines, index):
            start = index
            if index > 0 and _OUTLOOK_RULE_RE.match(lines[index - 1]):
                start -= 1
            return start
    return len(lines)


def _is_header_block(lines: list[str], index: int) -> bool:
    # "From:" alone is too common in prose; an unquoted original has two more header lines.
    following = [line for line in lines[index + 1 : index + 6] if line.strip()]
    return sum(1 for line in following[:4] if _HEADER_NEXT_RE.match(line)) >= 2


def _quote_block_start(lines: list[str], end: int) -> int:
    start = end
    index = end - 1
    while index >= 0:
        line = lines[index]
        if line.lstrip().startswith(">"):
            start = index
        elif line.strip():
            break
        index -= 1
    return start


def _attribution_start(lines: list[str], end: int) -> int:
    index = _skip_blank_back(lines, end) - 1
    if index < 0 or not lines[index].rstrip().endswith(":"):
        return end
    line = lines[index]
    if _ATTRIBUTION_START_RE.match(line) and _ATTRIBUTION_VERB_RE.search(line):
        return index
    previous = lines[index - 1] if index > 0 else ""
    if _ATTRIBUTION_START_RE.match(previous) and _ATTRIBUTION_VERB_RE.search(f"{previous} {line}"):
        return index - 1  # wrapped over two lines
    if _ATTRIBUTION_VERB_LAST_RE.search(line):
        return index  # "Carol wrote:"
    return end


def _skip_blank_back(lines: list[str], end: int) -> int:
    while end > 0 and not lines[end - 1].strip():
        end -= 1
    return end


def _has_content(lines: list[str]) -> bool:
    return any(line.strip() for line in lines)


def _quote(depth: int, line: str) -> str:
    if not depth:
        return line
    return f"{'>' * depth} {line}" if line else ">" * depth


def _join(lines: list[str]) -> str:
    return "\n".join(lines).strip("\n").rstrip()
