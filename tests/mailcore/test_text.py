from __future__ import annotations

import pytest

from mailcore.text import (
    clean_subject,
    decode_flowed,
    linkify,
    reply_subject,
    split_quote_and_signature,
    split_signature,
)


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_top_posted_reply_folds_attribution_and_quote():
    text = "Sounds good!\n\nOn Mon, 23 Nov 2026 at 10:00, Carol <carol@example.org> wrote:\n> Lunch?\n> C."
    main, folded = split_quote_and_signature(text)
    assert main == "Sounds good!"
    assert folded.startswith("On Mon, 23 Nov 2026")
    assert folded.endswith("> C.")


def test_german_attribution_is_folded_with_the_quote():
    text = "Passt!\n\nAm 23.11.2026 um 10:00 schrieb Carol:\n> Mittag?"
    assert split_quote_and_signature(text) == (
        "Passt!",
        "Am 23.11.2026 um 10:00 schrieb Carol:\n> Mittag?",
    )


def test_wrapped_attribution_line_is_folded_completely():
    text = "Yes.\n\nOn Mon, 23 Nov 2026 at 10:00, Carol Example <\ncarol@example.org> wrote:\n\n> Lunch?"
    main, folded = split_quote_and_signature(text)
    assert main == "Yes."
    assert folded.startswith("On Mon, 23 Nov 2026")


def test_quote_at_the_top_followed_by_a_reply_is_not_folded():
    text = "> Can you review the draft?\n\nYes, tomorrow morning."
    assert split_quote_and_signature(text) == (text, "")


def test_interleaved_reply_keeps_every_quote_and_answer():
    text = (
        "Carol wrote:\n> 1. Review?\n\nYes.\n\n> 2. Key?\n\nNo, ask Dave.\n\n"
        "> 3. Lunch?\n> See you."
    )
    main, folded = split_quote_and_signature(text)
    # Only the trailing, unanswered quote goes; everything the sender wrote stays.
    assert main == "Carol wrote:\n> 1. Review?\n\nYes.\n\n> 2. Key?\n\nNo, ask Dave."
    assert folded == "> 3. Lunch?\n> See you."


def test_message_that_is_only_a_quote_is_not_folded_away():
    text = "On Monday Carol wrote:\n> Lunch?"
    assert split_quote_and_signature(text) == (text, "")


def test_signature_after_the_rfc3676_separator_is_folded():
    text = "See you at 12:30.\n\n-- \nBob Example\nExample Networks"
    assert split_quote_and_signature(text) == (
        "See you at 12:30.",
        "-- \nBob Example\nExample Networks",
    )


def test_double_dash_without_trailing_space_is_not_a_signature():
    text = "Score was 3\n--\n2 at half time"
    assert split_quote_and_signature(text) == (text, "")


def test_signature_only_message_folds_to_empty_text():
    assert split_quote_and_signature("-- \nBob") == ("", "-- \nBob")


def test_signature_and_quote_below_it_are_folded_together():
    text = "Fine.\n-- \nBob\n\nOn Monday Carol wrote:\n> Ok?"
    assert split_quote_and_signature(text) == ("Fine.", "-- \nBob\n\nOn Monday Carol wrote:\n> Ok?")


def test_outlook_original_message_block_is_folded():
    text = (
        "Agreed.\n\nPeter\n\n-----Original Message-----\nFrom: Carol <carol@example.org>\n"
        "Sent: Monday, November 16, 2026 6:30 PM\nTo: Peter\nSubject: Budget\n\nLooks good?"
    )
    main, folded = split_quote_and_signature(text)
    assert main == "Agreed.\n\nPeter"
    assert folded.startswith("-----Original Message-----")
    assert folded.endswith("Looks good?")


def test_outlook_header_block_with_rule_is_folded():
    text = (
        "Danke!\n\n________________________________\nVon: Carol <carol@example.org>\n"
        "Gesendet: Montag, 16. November 2026 18:30\nAn: Peter\nBetreff: Budget\n\nPasst das?"
    )
    main, folded = split_quote_and_signature(text)
    assert main == "Danke!"
    assert folded.startswith("________________________________\nVon: Carol")


def test_a_from_line_in_prose_is_not_taken_for_a_header_block():
    text = "From: the team\nThanks for coming yesterday."
    assert split_quote_and_signature(text) == (text, "")


@pytest.mark.parametrize(
    "footer",
    ["Sent from my iPhone", "Von meinem iPhone gesendet", "Get Outlook for Android"],
)
def test_mobile_footers_are_folded(footer):
    text = f"On my way.\n\n{footer}"
    assert split_quote_and_signature(text) == ("On my way.", footer)


def test_mobile_footer_above_a_trailing_quote_is_folded_with_it():
    text = "On my way.\n\nSent from my iPhone\n\n> Where are you?"
    assert split_quote_and_signature(text) == (
        "On my way.",
        "Sent from my iPhone\n\n> Where are you?",
    )


def test_folding_is_lossless():
    text = (
        "> quoted question\n\nAnswer line.\n\nSent from my iPhone\n\n"
        "On Monday Carol wrote:\n> more\n>\n> quote\n-- \nsig"
    )
    main, folded = split_quote_and_signature(text)
    assert _lines(main) + _lines(folded) == _lines(text)


def test_crlf_text_is_handled_like_lf():
    assert split_quote_and_signature("Hi\r\n-- \r\nBob") == ("Hi", "-- \nBob")


def test_split_signature_keeps_quotes_and_folds_only_the_signature():
    text = "> Hello group!\n\nHi all.\n-- \nSent with my Delta Chat Messenger"
    assert split_signature(text) == (
        "> Hello group!\n\nHi all.",
        "-- \nSent with my Delta Chat Messenger",
    )


def test_decode_flowed_joins_soft_broken_lines():
    assert (
        decode_flowed("This is one \nlogical line.\nNext line.")
        == "This is one logical line.\nNext line."
    )


def test_decode_flowed_with_delsp_removes_the_soft_break_space():
    assert decode_flowed("Donau\u00addampf \nschiff", delsp=True) == "Donau\u00addampfschiff"


def test_decode_flowed_undoes_space_stuffing():
    assert decode_flowed(" From here\n  indented") == "From here\n indented"


def test_decode_flowed_keeps_quote_depth_and_joins_within_a_depth():
    text = ">> deep quote \n>> continues\n> shallow\nreply"
    assert decode_flowed(text) == ">> deep quote continues\n> shallow\nreply"


def test_decode_flowed_ends_a_paragraph_when_the_quote_depth_changes():
    assert decode_flowed("> flowed but \nnot quoted") == "> flowed but \nnot quoted"


def test_decode_flowed_never_flows_the_signature_separator():
    assert decode_flowed("Bye\n-- \nBob") == "Bye\n-- \nBob"


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Re: Lunch", "Lunch"),
        ("RE: AW: Re: Lunch", "Lunch"),
        ("Aw: SV: Fwd: Fw: WG: Lunch", "Lunch"),
        ("Re[2]: Lunch", "Lunch"),
        ("re:Lunch", "Lunch"),
        ("  Re:   Lunch   plans ", "Lunch plans"),
        ("Reminder: Lunch", "Reminder: Lunch"),
        ("Lunch: Re: menu", "Lunch: Re: menu"),
        ("", ""),
        (None, ""),
    ],
)
def test_clean_subject_strips_repeated_reply_prefixes(subject, expected):
    assert clean_subject(subject) == expected


@pytest.mark.parametrize(
    ("subject", "expected"),
    [("Lunch", "Re: Lunch"), ("Re: Lunch", "Re: Lunch"), ("AW: RE: Lunch", "Re: Lunch")],
)
def test_reply_subject_never_stacks_prefixes(subject, expected):
    assert reply_subject(subject) == expected


LINK_ATTRS = ' rel="noopener noreferrer nofollow" target="_blank"'


def test_linkify_escapes_text_without_links():
    assert linkify('Lunch at 5 <b>&</b> "then" it\'s home.') == (
        "Lunch at 5 &lt;b&gt;&amp;&lt;/b&gt; &quot;then&quot; it&#x27;s home."
    )


@pytest.mark.parametrize(
    ("text", "html"),
    [
        (
            "see https://example.org/a?b=1&c=2.",
            f'see <a href="https://example.org/a?b=1&amp;c=2"{LINK_ATTRS}>'
            "https://example.org/a?b=1&amp;c=2</a>.",
        ),
        (
            "(www.example.org/x)",
            f'(<a href="http://www.example.org/x"{LINK_ATTRS}>www.example.org/x</a>)',
        ),
        ("go to example.com!", f'go to <a href="http://example.com"{LINK_ATTRS}>example.com</a>!'),
        (
            "Carol <carol.x+chat@example.org> wrote:",
            '<a href="mailto:carol.x+chat@example.org">carol.x+chat@example.org</a>',
        ),
        (
            "https://en.wikipedia.org/wiki/Foo_(bar)), ok",
            f'<a href="https://en.wikipedia.org/wiki/Foo_(bar)"{LINK_ATTRS}>',
        ),
        (
            "HTTPS://EXAMPLE.ORG",
            f'<a href="HTTPS://EXAMPLE.ORG"{LINK_ATTRS}>HTTPS://EXAMPLE.ORG</a>',
        ),
    ],
)
def test_linkify_links_urls_hosts_and_addresses(text, html):
    assert html in linkify(text)


@pytest.mark.parametrize(
    "text",
    ["http://", "example.command", "example.com.au", "@example.com", "file.txt", "a:b"],
)
def test_linkify_leaves_lookalikes_as_text(text):
    assert "<a " not in linkify(text)


@pytest.mark.parametrize(
    "text",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(document.cookie)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "<script>alert('x')</script>",
        '<a href="javascript:alert(1)">x</a>',
        "<img src=x onerror=alert(1)>",
    ],
)
def test_linkify_never_links_or_passes_markup_from_hostile_text(text):
    html = linkify(text)
    assert "<a " not in html and "<script" not in html and "<img" not in html


@pytest.mark.parametrize(
    "text",
    [
        'https://example.org/"onmouseover="alert(1)',
        "https://example.org/'onmouseover='alert(1)",
        "https://example.org/<script>alert(1)</script>",
        "https://example.org/`x`",
        "javascript:alert(1)//https://example.org/",
        'x@example.org"onclick="alert(1)',
    ],
)
def test_linkify_keeps_hostile_characters_out_of_links(text):
    html = linkify(text)
    assert html.count("<a ") == 1
    href = html.split('href="', 1)[1].split('"', 1)[0]
    assert href.startswith(("https://", "mailto:"))
    assert not any(char in href for char in "<>\"'`")
    assert "<script" not in html and 'onmouseover="' not in html and 'onclick="' not in html


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "text",
    ["a." * 300_000 + "@", "a." * 300_000 + "com", "http://x" + ")" * 300_000, "a@" * 300_000],
)
def test_linkify_takes_linear_time_on_pathological_text(text):
    linkify(text)  # a backtracking regex would take hours on these
