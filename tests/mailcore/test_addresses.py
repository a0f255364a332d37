from __future__ import annotations

import pytest

from mailcore.addresses import (
    Address,
    domain_of,
    format_address,
    normalize_address,
    parse_address_list,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Alice@Example.ORG ", "alice@example.org"),
        ("<bob@example.org>", "bob@example.org"),
        ("jörg@Bücher.example", "jörg@xn--bcher-kva.example"),
        ("no-at-sign", "no-at-sign"),
    ],
)
def test_normalize_address_strips_lowercases_and_punycodes_the_domain(raw, expected):
    assert normalize_address(raw) == expected


def test_domain_of_returns_the_normalized_domain():
    assert domain_of("Carol@Mail.Example.ORG") == "mail.example.org"
    assert domain_of("nobody") == ""


def test_parse_address_list_decodes_encoded_word_names():
    addresses = parse_address_list(
        "=?iso-8859-1?q?J=F6rg_M=FCller?= <Joerg@Example.DE>, "
        '"=?utf-8?q?Bj=C3=B6rn?=" <bjoern@example.de>'
    )
    assert addresses == (
        Address(name="Jörg Müller", addr="joerg@example.de"),
        Address(name="Björn", addr="bjoern@example.de"),
    )


def test_parse_address_list_keeps_quoted_commas_inside_names():
    assert parse_address_list('"Schmidt, Peter" <peter@corp.example.com>, carol@example.org') == (
        Address(name="Schmidt, Peter", addr="peter@corp.example.com"),
        Address(name="", addr="carol@example.org"),
    )


def test_parse_address_list_skips_empty_groups_and_garbage():
    value = 'undisclosed-recipients:;, "hidden-recipients": ;, garbage,, <>, @@@, ok@example.org'
    assert parse_address_list(value) == (Address(name="", addr="ok@example.org"),)


def test_parse_address_list_accepts_group_members():
    assert parse_address_list("Team: a@example.org, b@example.org;") == (
        Address(name="", addr="a@example.org"),
        Address(name="", addr="b@example.org"),
    )


def test_parse_address_list_handles_folded_values_and_none():
    assert parse_address_list(None) == ()
    assert parse_address_list("") == ()
    assert parse_address_list("Alice <alice@example.org>,\r\n Bob <bob@example.org>") == (
        Address(name="Alice", addr="alice@example.org"),
        Address(name="Bob", addr="bob@example.org"),
    )


def test_parse_address_list_decodes_raw_utf8_names():
    # A header parsed from bytes carries raw 8-bit bytes as surrogate escapes.
    raw = "Zoë <zoe@example.org>".encode().decode("ascii", errors="surrogateescape")
    assert parse_address_list(raw) == (Address(name="Zoë", addr="zoe@example.org"),)


def test_parse_address_list_drops_a_name_that_repeats_the_address():
    assert parse_address_list('"carol@example.org" <Carol@example.org>') == (
        Address(name="", addr="carol@example.org"),
    )


def test_format_address_encodes_non_ascii_names_and_round_trips():
    formatted = format_address("Jörg Müller", "Joerg@Example.DE")
    assert formatted.isascii()
    assert "=?utf-8?" in formatted
    assert parse_address_list(formatted) == (Address(name="Jörg Müller", addr="joerg@example.de"),)


def test_format_address_quotes_special_characters():
    formatted = format_address("Schmidt, Peter", "peter@corp.example.com")
    assert formatted == '"Schmidt, Peter" <peter@corp.example.com>'
    assert parse_address_list(formatted)[0].name == "Schmidt, Peter"


def test_format_address_without_name_is_the_bare_address():
    assert format_address("", "Alice@Example.org") == "alice@example.org"
