"""axe-core on every screen, in light and dark, on a desktop and a phone: no serious or
critical violations."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.e2e.shell_data import make_world

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

AXE = Axe()
SIZES = {"desktop": {"width": 1280, "height": 720}, "phone": {"width": 360, "height": 740}}


def _serious(page) -> list[str]:
    results = AXE.run(page)
    found = []
    for violation in results.response["violations"]:
        if violation["impact"] in ("serious", "critical"):
            targets = [" ".join(map(str, node["target"])) for node in violation["nodes"][:5]]
            found.append(
                f"{violation['id']} ({violation['impact']}): {violation['help']} at {targets}"
            )
    return found


def _check(page, screen: str, problems: dict) -> None:
    page.wait_for_load_state("networkidle")
    found = _serious(page)
    if found:
        problems[screen] = found


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_screen_has_no_serious_accessibility_violations(
    scheme, size, make_person, open_page, browser, live_stack
):
    world = make_world(make_person)
    world.bob.user.is_staff = True
    world.bob.user.save(update_fields=["is_staff"])
    problems: dict[str, list[str]] = {}

    viewport = SIZES[size]
    signed_out = browser.new_context(
        base_url=live_stack.url, color_scheme=scheme, viewport=viewport
    )
    try:
        page = signed_out.new_page()
        page.goto("/accounts/login/")
        _check(page, "sign-in", problems)
    finally:
        signed_out.close()

    alice = open_page(world.alice, "/")
    alice.emulate_media(color_scheme=scheme)
    alice.set_viewport_size(viewport)
    screens = [
        ("chat list", "/"),
        ("conversation", f"/chats/{world.chat.pk}/"),
        ("plain mail conversation", f"/chats/{world.plain.pk}/"),
        ("new chat", "/chats/new/"),
        ("new group", "/chats/new-group/"),
        ("settings", "/accounts/settings/"),
        ("mailboxes", "/accounts/mailboxes/"),
        ("mailbox page", f"/accounts/mailboxes/{world.alice.account.pk}/"),
        ("link a mailbox", "/accounts/mailboxes/new/"),
        ("contact info", f"/chats/{world.chat.pk}/contact/"),
        ("archived chats", "/chats/archived/"),
    ]
    for screen, path in screens:
        alice.goto(path)
        _check(alice, screen, problems)
    alice.goto("/")
    alice.fill("#chat-search", "photos")
    alice.locator("#search-results").get_by_text("Here are the photos").first.wait_for()
    _check(alice, "search results", problems)
    alice.goto(f"/chats/{world.group.pk}/")
    alice.locator(".group-info summary").click()
    _check(alice, "group info", problems)
    alice.keyboard.press("?")
    _check(alice, "help sheet", problems)

    bob = open_page(world.bob, "/chats/requests/")
    bob.emulate_media(color_scheme=scheme)
    bob.set_viewport_size(viewport)
    _check(bob, "contact requests", problems)
    bob.locator("#request-list .chat-row a").first.click()
    _check(bob, "a contact request", problems)
    bob.goto("/accounts/invitations/")
    _check(bob, "invitations", problems)

    newcomer = open_page(make_person("newcomer", link=False), "/")
    newcomer.emulate_media(color_scheme=scheme)
    newcomer.set_viewport_size(viewport)
    newcomer.fill("input[name=email]", "someone@gmail.com")
    _check(newcomer, "first run: link your mailbox", problems)

    assert not problems, "\n".join(f"{s}: {p}" for s, ps in problems.items() for p in ps)
