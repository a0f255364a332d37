"""HTML mail bodies: a conservative sanitizer (nh3) and a readable plain-text rendering."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import nh3

_ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "center", "cite", "code", "col",
    "colgroup", "dd", "del", "div", "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "img", "ins", "kbd", "li", "ol", "p", "pre", "q", "s", "small", "span",
    "strike", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr",
    "tt", "u", "ul",
}  # fmt: skip
_CELL_ATTRIBUTES = {"align", "valign", "colspan", "rowspan", "width"}
# No style, class or id: inline CSS can overlay our UI and ids can clobber our DOM.
_ALLOWED_ATTRIBUTES = {
    "*": {"title", "lang", "dir"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "table": {"summary", "width", "border", "cellpadding", "cellspacing", "align"},
    "td": _CELL_ATTRIBUTES,
    "th": _CELL_ATTRIBUTES,
    "tr": {"align", "valign"},
    "col": {"span", "width"},
    "colgroup": {"span", "width"},
    "ol": {"start", "type"},
    "p": {"align"},
    "div": {"align"},
    "hr": {"width", "size", "align"},
}
_CLEAN_CONTENT_TAGS = {"script", "style", "title", "head", "noscript", "template", "textarea"}
_LINK_SCHEMES = ("http:", "https:", "mailto:")


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    # Remote images are tracking pixels until the user says otherwise; only the mail's own
    # inline parts (cid:) may keep a source, which the view rewrites to an attachment URL.
    if tag == "img" and attribute == "src":
        return value if value.strip().lower().startswith("cid:") else None
    if tag == "a" and attribute == "href":
        return value if value.strip().lower().startswith(_LINK_SCHEMES) else None
    return value


_CLEANER = nh3.Cleaner(
    tags=_ALLOWED_TAGS,
    clean_content_tags=_CLEAN_CONTENT_TAGS,
    attributes=_ALLOWED_ATTRIBUTES,
    attribute_filter=_filter_attribute,
    url_schemes={"http", "https", "mailto", "cid"},
    url_relative="deny",
    link_rel="noopener noreferrer nofollow",
    set_tag_attribute_values={"a": {"target": "_blank"}},
    strip_comments=True,
)


def sanitize_html(html: str) -> str:
    """Return mail HTML reduced to safe markup: no scripts, styles, handlers or remote loads."""
    return _CLEANER.clean(html).strip()


_BLOCK_TAGS = {
    "address", "article", "aside", "center", "dd", "div", "dl", "dt", "fieldset",
    "figcaption", "figure", "footer", "form", "header", "li", "main", "nav", "ol", "section",
    "table", "tr", "ul", "caption",
}  # fmt: skip
_PARAGRAPH_TAGS = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "hr", "table"}
_SKIP_TAGS = {"script", "style", "head", "title", "noscript", "template"}
_SPACE_RE = re.compile(r"\s+")
_TAG_RE = re.compile(r"<[^>]*>")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[tuple[int, str]] = []  # (blockquote depth, text)
        self._current: list[str] = []
        self._line_has_text = False
        self._line_depth = 0
        self._quote_depth = 0
        self._skip_depth = 0
        self._pre_depth = 0
        self._links: list[tuple[str, int, int]] = []  # href, line count and chunk count at <a>

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth += 1
            return
        if tag == "body":
            self._skip_depth = 0  # browsers close an unclosed <head> here, and so do we
        if tag == "br":
            self._end_line(keep_empty=True)
        elif tag in _PARAGRAPH_TAGS:
            self._paragraph_break()
        elif tag in _BLOCK_TAGS:
            self._end_line()
        if tag == "blockquote":
            self._quote_depth += 1
        elif tag == "pre":
            self._pre_depth += 1
        elif tag == "li":
            self._write("- ")
        elif tag == "a":
            href = (dict(attrs).get("href") or "").strip()
            self._links.append((href, len(self.lines), len(self._current)))
        elif tag == "img":
            alt = (dict(attrs).get("alt") or "").strip()
            if alt:
                self._write(f" {alt} ")
        elif tag in {"td", "th"}:
            self._write(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
            return
        if tag == "a" and self._links:
            self._close_link(*self._links.pop())
        if tag == "blockquote":
            self._end_line()
            self._quote_depth = max(0, self._quote_depth - 1)
            self._paragraph_break()
        elif tag == "pre":
            self._paragraph_break()
            self._pre_depth = max(0, self._pre_depth - 1)
        elif tag in _PARAGRAPH_TAGS:
            self._paragraph_break()
        elif tag in _BLOCK_TAGS:
            self._end_line()

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        if not self._pre_depth:
            self._write(data)
            return
        first, *rest = data.replace("\r\n", "\n").split("\n")
        self._write(first)
        for line in rest:
            self._end_line(keep_empty=True)
            self._write(line)

    def close(self) -> None:
        super().close()
        self._end_line()

    def _write(self, text: str) -> None:
        if not self._line_has_text:
            self._line_depth = self._quote_depth
            self._line_has_text = bool(text.strip())
        self._current.append(text)

    def _end_line(self, *, keep_empty: bool = False) -> None:
        raw = "".join(self._current)
        text = raw.rstrip() if self._pre_depth else _SPACE_RE.sub(" ", raw).strip()
        if text or keep_empty:
            self.lines.append((self._line_depth if text else self._quote_depth, text))
        self._current = []
        self._line_has_text = False

    def _paragraph_break(self) -> None:
        self._end_line()
        if self.lines and self.lines[-1][1]:
            self.lines.append((self._quote_depth, ""))

    def _close_link(self, href: str, line_count: int, chunk_count: int) -> None:
        if not href.lower().startswith(_LINK_SCHEMES):
            return
        if line_count == len(self.lines):
            label = "".join(self._current[chunk_count:])
        else:
            label = " ".join(text for _, text in self.lines[line_count:])
        label = _SPACE_RE.sub(" ", label).strip()
        target = href[len("mailto:") :] if href.lower().startswith("mailto:") else href
        if label and label.rstrip("/") not in {href.rstrip("/"), target}:
            self._write(f" ({target})")
        elif not label:
            self._write(target)


def html_to_text(html: str) -> str:
    """Render HTML as readable plain text; blockquotes become ``> `` lines."""
    extractor = _TextExtractor()
    try:
        extractor.feed(html)
        extractor.close()
    except Exception:
        # html.parser has raised on odd markup in some Python releases; degrade to stripping.
        return _SPACE_RE.sub(" ", _TAG_RE.sub(" ", html)).strip()
    return _render_lines(extractor.lines)


def _render_lines(lines: list[tuple[int, str]]) -> str:
    rendered: list[str] = []
    for depth, text in lines:
        if not text and rendered and not rendered[-1].lstrip(">").strip():
            continue  # collapse runs of blank lines
        prefix = ">" * depth
        rendered.append(f"{prefix} {text}" if prefix and text else prefix + text)
    while rendered and not rendered[-1].lstrip(">").strip():
        rendered.pop()
    while rendered and not rendered[0].lstrip(">").strip():
        rendered.pop(0)
    return "\n".join(rendered)
