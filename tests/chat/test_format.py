"""Row filters: the same output as the Django filters and tags they replace."""

from __future__ import annotations

from django.urls import reverse, set_script_prefix

from chat.templatetags.chat_format import shorten, url_with


def test_url_with_gives_what_reverse_gives():
    assert url_with("chat:chat_detail", 42) == reverse("chat:chat_detail", args=[42])
    assert url_with("chat:message_detail", 7) == reverse("chat:message_detail", args=[7])


def test_url_with_keeps_the_script_prefix_of_a_deployment_under_a_sub_path():
    try:
        set_script_prefix("/coiweb/")
        assert url_with("chat:chat_detail", 42) == "/coiweb/chats/42/"
    finally:
        set_script_prefix("/")
    assert url_with("chat:chat_detail", 42) == "/chats/42/"


def test_shorten_cuts_with_an_ellipsis_only_when_too_long():
    assert shorten("x" * 80, 80) == "x" * 80
    assert shorten("x" * 81, 80) == "x" * 79 + "…"
    assert shorten("", 80) == ""
