from __future__ import annotations

import pytest

from mailcore.html import html_to_text, sanitize_html


@pytest.mark.parametrize(
    ("hostile", "forbidden"),
    [
        ("<script>alert(1)</script>hi", "alert"),
        ("<img src=x onerror=alert(1)>", "onerror"),
        ('<body onload="alert(1)">hi</body>', "onload"),
        ('<a href="javascript:alert(1)">x</a>', "javascript"),
        ('<a href=" JaVaScRiPt:alert(1)">x</a>', "javascript"),
        ('<iframe src="https://evil.example/"></iframe>', "iframe"),
        ('<form action="https://evil.example/"><input name="pw"></form>', "<input"),
        ('<form action="https://evil.example/">x</form>', "<form"),
        ('<div style="width: expression(alert(1))">x</div>', "expression"),
        ("<style>body{background:url(https://evil.example/)}</style>x", "evil.example"),
        ('<object data="https://evil.example/x.swf"></object>', "object"),
        ('<embed src="https://evil.example/x.swf">', "embed"),
        ('<svg onload="alert(1)"><circle r="1"/></svg>', "svg"),
        ('<meta http-equiv="refresh" content="0;url=https://evil.example/">', "refresh"),
        ('<base href="https://evil.example/">', "base"),
        ('<img src="data:image/svg+xml;base64,PHN2Zz4=">', "data:"),
        ('<a href="/logout">x</a>', "/logout"),
        ('<p id="csrf-token" class="btn">x</p>', "csrf-token"),
    ],
)
def test_sanitize_html_removes_active_content(hostile, forbidden):
    assert forbidden.lower() not in sanitize_html(hostile).lower()


def test_sanitize_html_keeps_ordinary_formatting():
    html = (
        "<p>Hello <b>bold</b> <i>it</i></p><ul><li>one</li></ul><table><tr><td>c</td></tr></table>"
    )
    cleaned = sanitize_html(html)
    for tag in ("<p>", "<b>", "<i>", "<ul>", "<li>", "<table>", "<td>"):
        assert tag in cleaned


def test_sanitize_html_opens_links_in_a_new_tab_without_referrer():
    cleaned = sanitize_html('<a href="https://example.org/">x</a>')
    assert 'href="https://example.org/"' in cleaned
    assert 'target="_blank"' in cleaned
    assert 'rel="noopener noreferrer nofollow"' in cleaned


def test_sanitize_html_keeps_mailto_links():
    assert 'href="mailto:carol@example.org"' in sanitize_html(
        '<a href="mailto:carol@example.org">C</a>'
    )


def test_sanitize_html_strips_remote_image_sources_but_keeps_alt_text():
    cleaned = sanitize_html('<img src="https://track.example/p.gif?u=1" alt="logo" width="1">')
    assert "track.example" not in cleaned
    assert 'alt="logo"' in cleaned


def test_sanitize_html_strips_protocol_relative_image_sources():
    assert "track.example" not in sanitize_html('<img src="//track.example/p.gif">')


def test_sanitize_html_keeps_inline_cid_images():
    assert 'src="cid:photo@example.com"' in sanitize_html(
        '<img src="cid:photo@example.com" alt="p">'
    )


def test_html_to_text_turns_blocks_and_breaks_into_lines():
    html = "<div>First</div><div>Second<br>Third</div><p>Para</p><h1>Title</h1>tail"
    assert html_to_text(html) == "First\nSecond\nThird\n\nPara\n\nTitle\n\ntail"


def test_html_to_text_decodes_entities_and_collapses_whitespace():
    assert html_to_text("<p>Fish&nbsp;&amp;   chips\n  &lt;3 &#8364;5</p>") == "Fish & chips <3 €5"


def test_html_to_text_shows_link_targets_when_they_differ_from_the_text():
    html = (
        '<a href="https://example.org/a">read more</a> '
        '<a href="https://example.org/">https://example.org/</a> '
        '<a href="mailto:carol@example.org">carol@example.org</a>'
    )
    assert html_to_text(html) == (
        "read more (https://example.org/a) https://example.org/ carol@example.org"
    )


def test_html_to_text_ignores_javascript_link_targets():
    assert html_to_text('<a href="javascript:alert(1)">Click</a>') == "Click"


def test_html_to_text_skips_scripts_styles_and_head():
    html = (
        "<html><head><title>T</title><style>p{color:red}</style></head>"
        "<body><script>alert(1)</script><p>Body</p></body></html>"
    )
    assert html_to_text(html) == "Body"


def test_html_to_text_survives_an_unclosed_head():
    assert html_to_text("<html><head><title>T</title><body><p>Body</p>") == "Body"


def test_html_to_text_renders_blockquotes_as_quote_lines():
    html = "<p>Yes.</p><blockquote><p>Lunch?</p><blockquote>Deeper</blockquote></blockquote>"
    assert html_to_text(html) == "Yes.\n\n> Lunch?\n>\n>> Deeper"


def test_html_to_text_keeps_preformatted_text():
    assert html_to_text("<pre>  a  b\n    c</pre>") == "  a  b\n    c"


def test_html_to_text_lists_and_tables_stay_readable():
    html = "<ul><li>one</li><li>two</li></ul><table><tr><td>a</td><td>b</td></tr></table>"
    assert html_to_text(html) == "- one\n- two\n\na b"


def test_html_to_text_of_broken_markup_does_not_raise():
    for html in ["<![if !mso]>x<![endif]>", "<a href='", "<<<>>>", "</p></div>text", "<!--"]:
        assert isinstance(html_to_text(html), str)
