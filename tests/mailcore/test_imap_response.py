"""mailcore.imap_response on crafted FETCH responses, in the shape imaplib hands them over:
a response is zero or more (text up to a literal, literal) tuples and a closing line."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from imapclient.response_parser import parse_fetch_response

from mailcore.errors import ProtocolError
from mailcore.imap_response import internal_date, parse_fetch

BODY = b"From: a@example.org\r\nSubject: hi\r\n\r\nhello \xc3\xa9\r\n"


def _typical(seq: int, uid: int, flags: bytes, body: bytes = BODY) -> list:
    head = (
        b"%d (UID %d RFC822.SIZE %d FLAGS (%s) INTERNALDATE "
        b'"06-Dec-2026 21:52:58 +0100" BODY[]<0> {%d}' % (seq, uid, len(body) + 7, flags, len(body))
    )
    return [(head, body), b")"]


def test_a_typical_response_gives_uid_flags_size_date_and_body():
    parsed = parse_fetch(_typical(1, 7, rb"\Seen $MDNSent $Chat"))
    assert parsed == {
        7: {
            b"RFC822.SIZE": len(BODY) + 7,
            b"FLAGS": ("\\Seen", "$MDNSent", "$Chat"),
            b"INTERNALDATE": datetime(2026, 12, 6, 20, 52, 58, tzinfo=UTC),
            b"BODY[]<0>": BODY,
        }
    }


def test_items_in_any_order_with_the_body_first_and_the_rest_after_it():
    data = [
        (b"3 (BODY[] {%d}" % len(BODY), BODY),
        b' uid 9 FLAGS () INTERNALDATE " 6-Dec-2026 01:02:03 -0230" RFC822.SIZE 40)',
    ]
    assert parse_fetch(data) == {
        9: {
            b"BODY[]": BODY,
            b"FLAGS": (),
            b"INTERNALDATE": datetime(2026, 12, 6, 3, 32, 3, tzinfo=UTC),
            b"RFC822.SIZE": 40,
        }
    }


def test_a_quoted_body_is_unescaped_and_a_nil_body_is_none():
    data = [
        rb'4 (UID 10 BODY[]<0> "say \"hi\" \\ bye" FLAGS (\Answered))',
        b"5 (UID 11 BODY[]<0> NIL FLAGS ())",
        b'6 (UID 12 BODY[]<0> "NIL")',
    ]
    parsed = parse_fetch(data)
    assert parsed[10][b"BODY[]<0>"] == b'say "hi" \\ bye'
    assert parsed[11][b"BODY[]<0>"] is None
    assert parsed[12][b"BODY[]<0>"] == b"NIL"


def test_unsolicited_updates_without_uid_are_left_out_and_later_flags_win():
    data = [
        rb"2 (FLAGS (\Seen))",  # another message, by sequence number only
        rb"1 (UID 7 FLAGS (\Flagged) MODSEQ (12345))",  # ours, before the answer
        *_typical(1, 7, rb"\Seen"),
        rb"1 (FLAGS (\Deleted) UID 7)",  # and after it
    ]
    parsed = parse_fetch(data)
    assert set(parsed) == {7}
    assert parsed[7][b"FLAGS"] == ("\\Deleted",)
    assert parsed[7][b"MODSEQ"] == (b"12345",)
    assert parsed[7][b"BODY[]<0>"] == BODY


def test_a_body_without_a_uid_raises_instead_of_passing_for_an_expunge():
    data = [(b"1 (FLAGS () BODY[]<0> {%d}" % len(BODY), BODY), b")"]
    with pytest.raises(ProtocolError):
        parse_fetch(data)


def test_no_fetch_response_at_all_is_empty():
    assert parse_fetch([None]) == {}
    assert parse_fetch([]) == {}


def test_sections_with_spaces_and_nested_lists_go_through_the_full_parser():
    header = b"From: a@example.org\r\n\r\n"
    data = [
        (b"8 (UID 20 BODY[HEADER.FIELDS (FROM DATE)] {%d}" % len(header), header),
        (b' X-LABELS ("\\\\Inbox" (a "b c") NIL) BODY[]<0> {%d}' % len(BODY), BODY),
        rb" FLAGS (\Seen))",
    ]
    parsed = parse_fetch(data)
    assert parsed[20] == {
        b"BODY[HEADER.FIELDS (FROM DATE)]": header,
        b"X-LABELS": (b"\\Inbox", (b"a", b"b c"), None),
        b"BODY[]<0>": BODY,
        b"FLAGS": ("\\Seen",),
    }


def test_the_full_parser_reads_the_usual_items_as_the_quick_path_does():
    usual = _typical(1, 7, rb"\Seen $Chat \Answered")
    nested = [usual[0], b" X-EXTRA ((a) NIL))"]  # a nested list needs the full parser
    quick = parse_fetch(usual)[7]
    full = parse_fetch(nested)[7]
    assert full.pop(b"X-EXTRA") == ((b"a",), None)
    assert full == quick


@pytest.mark.parametrize(
    "data",
    [
        [rb"1 (UID 7 FLAGS (\Seen)"],  # unbalanced
        [rb"1 (UID 7 FLAGS (\Seen)))"],
        [rb"1 (UID 7 FLAGS)"],  # uneven
        [rb"1 (UID seven FLAGS ())"],
        [rb"x (UID 7 FLAGS ())"],
        [rb"1 (UID 7 RFC822.SIZE big)"],
        [rb"1 (UID 7 FLAGS (\Seen (nested)))"],
        [(b"1 (UID 7 BODY[] {99}", BODY), b")"],  # literal shorter than announced
        [(b"1 (UID 7 BODY[] {%d}" % len(BODY), BODY)],  # cut off after the literal
        [rb'1 (UID 7 INTERNALDATE "open)'],
    ],
)
def test_malformed_responses_raise_protocol_error(data):
    with pytest.raises(ProtocolError):
        parse_fetch(data)


@pytest.mark.parametrize(
    "value",
    [
        b"06-Dec-2026 21:52:58 +0000",
        b" 6-Dec-2026 21:52:58 +0530",
        b"6-dec-2026 21:52:58 -0800",
        b"29-Feb-2024 00:00:00 +1400",
        b"31-Dec-1999 23:59:59 -1200",
    ],
)
def test_internaldate_is_the_instant_imapclient_reads_in_utc(value):
    expected = parse_fetch_response([b'1 (UID 1 INTERNALDATE "%s")' % value], False)[1]
    parsed = internal_date(value)
    assert parsed == expected[b"INTERNALDATE"]
    assert parsed.utcoffset().total_seconds() == 0


def test_an_unreadable_internaldate_is_none():
    assert internal_date(b"31-Feb-2026 10:00:00 +0000") is None
    assert internal_date(b"yesterday") is None
    assert internal_date(None) is None


def test_the_same_items_as_imapclient_on_varied_responses():
    big = b"x" * 5000 + b'\r\n\xff\x00 (unbalanced " in a literal {3}\r\n'
    data = [
        *_typical(1, 101, rb"\Seen \Answered $Forwarded"),
        *_typical(2, 102, b"", body=big),
        rb'3 (UID 103 RFC822.SIZE 0 FLAGS (\Draft) INTERNALDATE "01-Jan-2020 00:00:00 +0000" '
        rb'BODY[]<0> "")',
        (b"4 (FLAGS ($Chat) BODY[] {%d}" % len(BODY), BODY),
        b' INTERNALDATE "06-Dec-2026 21:52:58 -0700" UID 104 RFC822.SIZE 12)',
    ]
    ours = parse_fetch(data)
    theirs = parse_fetch_response(data, False, True)
    assert set(ours) == set(theirs) == {101, 102, 103, 104}
    for uid, items in ours.items():
        reference = dict(theirs[uid])
        del reference[b"SEQ"]
        reference[b"FLAGS"] = tuple(f.decode() for f in reference[b"FLAGS"])
        assert items == reference
