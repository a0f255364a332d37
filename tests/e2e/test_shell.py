"""The app shell in Chromium: one pane with back navigation on a phone, two on a desktop,
the theme toggle, keyboard shortcuts and the help sheet."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.shell_data import make_world

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}


def _no_horizontal_overflow(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"page is {width}px wide"


def test_a_phone_shows_one_pane_with_back_navigation_and_nothing_overflows(make_person, open_page):
    world = make_world(make_person)
    page = open_page(world.alice, "/")
    page.set_viewport_size(PHONE)
    expect(page.locator(".sidebar")).to_be_visible()
    expect(page.locator(".conversation")).to_be_hidden()
    _no_horizontal_overflow(page)

    page.locator(f"#chat-{world.group.pk} > a").click()
    expect(page.locator(".conversation-head h2")).to_have_text("Climbing club")
    expect(page.locator(".sidebar")).to_be_hidden()
    expect(page.locator(".conversation .composer")).to_be_visible()
    _no_horizontal_overflow(page)

    page.locator(".conversation-head .back").click()
    expect(page.locator(".sidebar")).to_be_visible()
    expect(page.locator(".conversation")).to_be_hidden()
    for path in (
        "/accounts/settings/",
        f"/accounts/mailboxes/{world.alice.account.pk}/",
        "/accounts/mailboxes/new/",
        "/chats/new-group/",
    ):
        page.goto(path)
        _no_horizontal_overflow(page)
    # Settings is reachable from the phone's top bar, and leads back.
    page.goto("/")
    page.locator(".topbar .me").click()
    expect(page.locator("h1")).to_have_text("Settings")
    page.locator(".page-head .back").click()
    expect(page.locator(".sidebar")).to_be_visible()


def test_a_desktop_shows_the_list_beside_the_conversation(make_person, open_page):
    world = make_world(make_person)
    page = open_page(world.alice, f"/chats/{world.chat.pk}/")
    page.set_viewport_size(DESKTOP)
    sidebar = page.locator(".sidebar").bounding_box()
    conversation = page.locator(".conversation").bounding_box()
    assert sidebar and conversation and sidebar["x"] + sidebar["width"] <= conversation["x"] + 1
    expect(page.locator(".conversation-head .back")).to_be_hidden()
    expect(page.locator(f"#chat-{world.chat.pk} > a")).to_have_attribute("aria-current", "page")


def test_the_theme_toggle_switches_at_once_and_is_remembered(make_person, open_page):
    world = make_world(make_person)
    page = open_page(world.alice, "/")
    page.emulate_media(color_scheme="light")
    light = page.evaluate("getComputedStyle(document.body).backgroundColor")
    page.locator("#theme-toggle").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") != light
    for _ in range(50):  # the toggle's POST lands in the background
        world.alice.user.refresh_from_db()
        if world.alice.user.theme == "dark":
            break
        page.wait_for_timeout(100)
    assert world.alice.user.theme == "dark"
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    # Settings switches back to following the system.
    page.goto("/accounts/settings/")
    page.locator("input[name=theme][value=system]").check()
    page.locator("button", has_text="Save settings").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "system")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == light


def test_keyboard_moves_between_chats_searches_replies_and_opens_the_help_sheet(
    make_person, open_page
):
    world = make_world(make_person)
    page = open_page(world.alice, "/")
    page.set_viewport_size(DESKTOP)
    rows = page.locator(".chat-list .chat-row")
    first_id = rows.first.get_attribute("id")
    second_id = rows.nth(1).get_attribute("id")
    page.keyboard.press("Alt+ArrowDown")
    page.wait_for_url(f"**/chats/{first_id.split('-')[1]}/")
    page.wait_for_selector("#live[data-state=open]", state="attached")
    page.keyboard.press("Alt+ArrowDown")
    page.wait_for_url(f"**/chats/{second_id.split('-')[1]}/")
    page.wait_for_selector("#live[data-state=open]", state="attached")
    page.keyboard.press("Control+Shift+BracketLeft")
    page.wait_for_url(f"**/chats/{first_id.split('-')[1]}/")
    page.wait_for_selector("#live[data-state=open]", state="attached")

    # `/` and Ctrl+K focus the search box.
    search = page.locator("#chat-search")
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("/")
    expect(search).to_be_focused()
    page.evaluate("document.activeElement.blur()")
    expect(search).not_to_be_focused()
    page.keyboard.press("Control+k")
    expect(search).to_be_focused()

    # `?` opens the help sheet; focus stays inside; Escape closes it and focus returns.
    page.locator(".messages .msg-menu-button").last.focus()
    page.keyboard.press("?")
    sheet = page.locator("#help-sheet")
    expect(sheet).to_be_visible()
    expect(sheet).to_contain_text("Next chat")
    for _ in range(4):
        page.keyboard.press("Tab")
        assert page.evaluate("!!document.activeElement.closest('#help-sheet')")
    page.keyboard.press("Escape")
    expect(sheet).to_be_hidden()
    expect(page.locator(".messages .msg-menu-button").last).to_be_focused()

    # `r` on the focused message replies to it.
    page.keyboard.press("r")
    expect(page.locator(".composer-context")).to_be_visible()
    expect(page.locator(".composer-context")).to_contain_text("Replying to:")
    expect(page.locator(".composer textarea")).to_be_focused()
    # Typing an `r` in the composer is just a letter.
    page.keyboard.type("ready")
    expect(page.locator(".composer textarea")).to_have_value("ready")
