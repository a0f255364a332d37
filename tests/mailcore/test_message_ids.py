from __future__ import annotations

import re

import pytest

from mailcore.message_ids import (
    build_references,
    new_message_id,
    normalize_message_id,
    parse_id_list,
    synthetic_message_id,
)

# RFC 5322 msg-id with a dot-atom-text left side and a dot-atom-text right side.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
MSG_ID_RE = re.compile(rf"^<{_ATEXT}+(?:\.{_ATEXT}+)*@{_ATEXT}+(?:\.{_ATEXT}+)*>$")


def test_new_message_id_is_coi_shaped_and_rfc5322_valid():
    message_id = new_message_id("Example.ORG")
    assert re.fullmatch(r"<chat\$[0-9a-f]{32}@example\.org>", message_id)
    assert MSG_ID_RE.match(message_id)


def test_new_message_ids_are_unique():
    assert len({new_message_id("example.org") for _ in range(2000)}) == 2000


def test_new_message_id_for_a_group_embeds_the_group_id():
    message_id = new_message_id("example.org", group_id="RIM93fOV0h3Fl_8RQaUtDzAy")
    assert message_id.startswith("<chat$group.RIM93fOV0h3Fl_8RQaUtDzAy.")
    assert MSG_ID_RE.match(message_id)


def test_new_message_id_punycodes_idn_domains():
    assert new_message_id("bücher.example").endswith("@xn--bcher-kva.example>")


@pytest.mark.parametrize("domain", ["", "exa mple.org", "a@b", "<x>"])
def test_new_message_id_rejects_unusable_domains(domain):
    with pytest.raises(ValueError):
        new_message_id(domain)


def test_new_message_id_rejects_a_bad_group_id():
    with pytest.raises(ValueError):
        new_message_id("example.org", group_id="no spaces allowed")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<abc@example.org>", "<abc@example.org>"),
        ("  <abc@example.org>  ", "<abc@example.org>"),
        ("<abc@example.org> (added by postmaster)", "<abc@example.org>"),
        ("(comment) <abc@example.org>", "<abc@example.org>"),
        ("<first@x> <second@x>", "<first@x>"),
        ("abc@example.org", "<abc@example.org>"),
        ("<abc@exam\r\n ple.org>", "<abc@example.org>"),
        ("<chat$Case@Example.org>", "<chat$Case@Example.org>"),
        ("", None),
        (None, None),
        ("<>", None),
        ("no id here", None),
        ("<" + "x" * 2000 + "@example.org>", None),
    ],
)
def test_normalize_message_id(raw, expected):
    assert normalize_message_id(raw) == expected


def test_parse_id_list_reads_folded_lists_in_order_without_duplicates():
    value = "<a@x>\r\n <b@x>\t<c@x> <a@x>"
    assert parse_id_list(value) == ("<a@x>", "<b@x>", "<c@x>")


def test_parse_id_list_accepts_missing_brackets_and_skips_garbage():
    value = "a@x, <b@x> (comment) garbage <> c@x"
    assert parse_id_list(value) == ("<a@x>", "<b@x>", "<c@x>")


def test_parse_id_list_of_nothing_is_empty():
    assert parse_id_list(None) == ()
    assert parse_id_list("   ") == ()


def test_synthetic_message_id_is_deterministic_per_content():
    first = synthetic_message_id(b"Subject: hi\r\n\r\nbody")
    assert first == synthetic_message_id(b"Subject: hi\r\n\r\nbody")
    assert first != synthetic_message_id(b"Subject: hi\r\n\r\nother body")
    assert re.fullmatch(r"<[0-9a-f]{32}@coiweb\.invalid>", first)


def test_build_references_starts_a_thread_with_the_parent():
    assert build_references((), "<p@x>") == ("<p@x>",)


def test_build_references_keeps_root_and_last_two_ending_with_the_parent():
    parent_refs = ("<root@x>", "<1@x>", "<2@x>", "<3@x>")
    assert build_references(parent_refs, "<p@x>") == ("<root@x>", "<3@x>", "<p@x>")


def test_build_references_short_chains_are_kept_whole():
    assert build_references(("<root@x>",), "<p@x>") == ("<root@x>", "<p@x>")
    assert build_references(("<root@x>", "<1@x>"), "<p@x>") == ("<root@x>", "<1@x>", "<p@x>")


def test_build_references_does_not_repeat_the_parent():
    assert build_references(("<root@x>", "<p@x>"), "<p@x>") == ("<root@x>", "<p@x>")
    assert build_references(("<p@x>",), "<p@x>") == ("<p@x>",)


def test_build_references_without_parent_trims_the_parent_references():
    assert build_references(("<a@x>", "<b@x>", "<c@x>", "<d@x>"), None) == (
        "<a@x>",
        "<c@x>",
        "<d@x>",
    )
    assert build_references((), None) == ()
