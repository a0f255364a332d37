"""The conversation in the browser: older pages, day lines, the unread line, the "New
messages" pill, quotes that jump, drafts, pasted and dropped files, the emoji picker."""

from __future__ import annotations

import base64
import re
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from chat import queries, requests
from chat.models import Chat, Message
from tests.mailserver import add_mail_user, send_plain_mail

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg=="
)
SEEDED = 150


def _wait_for(query, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := query():
            return found
        time.sleep(0.2)
    raise AssertionError("timed out")


def _long_chat(alice, outsider) -> Chat:
    """A real chat (a mail from `outsider`, accepted) with a long history before it: four
    days of messages, the last five unread, the newest a reply quoting an old one."""
    send_plain_mail(sender=outsider.email, to=alice.mail.email, subject="Hello", body="first")
    chat = _wait_for(
        lambda: Chat.objects.filter(account=alice.account, peer_address=outsider.email).first()
    )
    requests.accept_chat(chat=chat)
    Message.objects.filter(chat=chat).update(seen=True)
    now = timezone.now()
    rows = []
    for i in range(SEEDED):
        ours = i % 3 == 2
        rows.append(
            Message(
                account=alice.account,
                chat=chat,
                direction="out" if ours else "in",
                state="read" if ours else "received",
                message_id=f"<seed-{i}@example.org>",
                from_address=alice.mail.email if ours else outsider.email,
                text=f"old message {i}",
                is_chat=True,
                # runs of three a minute apart (two theirs, one ours), two hours between runs
                sort_at=now - timedelta(minutes=120 * (SEEDED // 3 - i // 3) - i % 3),
                seen=i < SEEDED - 5 or ours,
            )
        )
    rows[-1].text = "as I said"
    rows[-1].quote_text = "old message 10"
    rows[-1].in_reply_to = "<seed-10@example.org>"
    Message.objects.bulk_create(rows)
    Message.objects.filter(chat=chat, text="first").update(sort_at=now - timedelta(days=6))
    return chat


def _box(page):
    return page.locator(".messages[data-chat]")


def _top_of(page, row_id):
    return page.evaluate("(id) => document.getElementById(id).getBoundingClientRect().top", row_id)


def test_a_long_chat_opens_at_the_unread_line_scrolls_up_in_pages_and_shows_new_mail_below(
    make_person, open_page
):
    alice = make_person("alice")
    outsider = add_mail_user("long")
    chat = _long_chat(alice, outsider)
    page = open_page(alice, f"/chats/{chat.pk}/")

    unread_line = page.locator(".unread-sep")
    expect(unread_line).to_have_text("Unread messages")
    expect(unread_line).to_be_in_viewport()
    first_unread = page.locator(".msg", has_text=f"old message {SEEDED - 5}")
    assert page.evaluate("document.querySelector('.unread-sep').nextElementSibling.id") == (
        first_unread.get_attribute("id")
    )
    # Four days of history: a line per day, and one name line per run of one sender.
    # (The newest seeded message is two hours old: "Today" need not be on the first page.)
    expect(page.locator(".day-sep", has_text="Yesterday")).to_have_count(1)
    assert page.locator(".day-sep").count() >= 2
    expect(page.locator(".msg")).to_have_count(queries.PAGE_SIZE)
    assert page.locator(".msg.cont").count() > 10

    # Scrolling to the top brings the older page in above, and what was on top stays put.
    top_row = page.locator(".msg").first.get_attribute("id")
    before = _box(page).evaluate(
        "(b, id) => { b.scrollTop = 0; return document.getElementById(id).getBoundingClientRect().top; }",
        top_row,
    )
    expect(page.locator(".msg")).to_have_count(2 * queries.PAGE_SIZE)
    page.wait_for_timeout(300)
    assert abs(_top_of(page, top_row) - before) < 30
    assert _box(page).evaluate("b => b.scrollTop") > 1000
    while page.locator(".msg").count() < SEEDED + 1:  # and so on, up to the first message
        count = page.locator(".msg").count()
        _box(page).evaluate("b => { b.scrollTop = 0; }")
        expect(page.locator(".msg")).not_to_have_count(count)
    expect(page.locator(".older")).to_have_count(0)
    expect(page.locator(".msg").first).to_contain_text("first")  # the plain mail, 6 days ago
    expect(page.locator(".msg.email").first.locator(".subject")).to_have_text("Hello")
    assert page.locator(".day-sep").count() >= 4
    days = page.locator(".day-sep").all_inner_texts()
    assert len(days) == len(set(days))

    # Mail that arrives while the reader is up there: a pill, not a jump.
    send_plain_mail(sender=outsider.email, to=alice.mail.email, subject="Re: Hello", body="now!")
    expect(page.locator(".msg", has_text="now!")).to_have_count(1, timeout=15_000)
    pill = page.locator(".new-below")
    expect(pill).to_be_visible()
    assert _box(page).evaluate("b => b.scrollHeight - b.scrollTop - b.clientHeight") > 500
    pill.click()
    expect(page.locator(".msg", has_text="now!")).to_be_in_viewport()
    expect(pill).to_be_hidden()
    expect(page.locator(".msg", has_text="now!").locator(".subject")).to_have_text("Re: Hello")


def test_a_quote_jumps_to_its_message_even_when_it_is_not_loaded_yet(make_person, open_page):
    alice = make_person("alice")
    chat = _long_chat(alice, add_mail_user("quoter"))
    page = open_page(alice, f"/chats/{chat.pk}/")
    original = page.locator(".msg").filter(
        has=page.locator(".text", has_text=re.compile(r"^old message 10$"))
    )
    page.wait_for_load_state("networkidle")  # the socket's catch-up re-renders rows
    expect(original).to_have_count(0)  # beyond the first page
    page.locator(".msg", has_text="as I said").locator(".quote").click()
    expect(original).to_have_count(1)
    expect(original).to_be_in_viewport()
    expect(original).to_have_class(re.compile(r"\bhighlight\b"))


def _new_chat(make_person, open_page):
    alice, bob = make_person("alice"), make_person("bob")
    page = open_page(alice, "/chats/new/")
    page.fill("input[name=address]", bob.mail.email)
    page.click("button[type=submit]")
    expect(page.locator("#composer")).to_be_visible()
    return alice, page


def test_a_draft_survives_a_reload_and_is_gone_once_sent(make_person, open_page):
    alice, page = _new_chat(make_person, open_page)
    page.fill(".composer textarea", "half a thought")
    page.reload()
    page.wait_for_selector("#live[data-state=open]", state="attached")
    expect(page.locator(".composer textarea")).to_have_value("half a thought")
    page.locator(".composer textarea").press("End")
    page.keyboard.type(", finished")
    page.keyboard.press("Enter")
    expect(page.locator(".msg.out", has_text="half a thought, finished")).to_have_count(1)
    expect(page.locator(".day-sep")).to_have_text("Today")
    page.reload()
    page.wait_for_selector("#live[data-state=open]", state="attached")
    expect(page.locator(".composer textarea")).to_have_value("")


PASTE_OR_DROP = """([kind, name, b64]) => {
  const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
  const data = new DataTransfer();
  data.items.add(new File([bytes], name, { type: "image/png" }));
  if (kind === "paste") {
    document.querySelector(".composer textarea").dispatchEvent(
      new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
  } else {
    const target = document.querySelector(".messages");
    for (const type of ["dragenter", "dragover", "drop"]) {
      target.dispatchEvent(new DragEvent(type, { dataTransfer: data, bubbles: true, cancelable: true }));
    }
  }
}"""


def test_pasted_and_dropped_files_wait_in_the_composer_and_go_with_the_message(
    make_person, open_page
):
    alice, page = _new_chat(make_person, open_page)
    png = base64.b64encode(PNG).decode()
    page.evaluate(PASTE_OR_DROP, ["paste", "pasted.png", png])
    chips = page.locator(".composer-files .file-chip")
    expect(chips).to_have_count(1)
    expect(chips.first).to_contain_text("pasted.png")
    page.evaluate(PASTE_OR_DROP, ["drop", "dropped.png", png])
    expect(chips).to_have_count(2)
    expect(page.locator(".conversation.dropping")).to_have_count(0)
    chips.filter(has_text="pasted.png").locator(".remove-file").click()
    expect(chips).to_have_count(1)
    expect(chips.first).to_contain_text("dropped.png")
    page.fill(".composer textarea", "one picture")
    page.keyboard.press("Enter")
    sent = page.locator(".msg.out", has_text="one picture")
    expect(sent.locator("a.file.image img")).to_have_attribute("alt", "dropped.png")
    expect(page.locator(".composer-files")).to_be_hidden()
    message = Message.objects.get(account=alice.account, text="one picture")
    assert [a.filename for a in message.attachments.all()] == ["dropped.png"]


def test_the_emoji_picker_inserts_at_the_caret_from_the_keyboard(make_person, open_page):
    alice, page = _new_chat(make_person, open_page)
    textarea = page.locator(".composer textarea")
    textarea.fill("See you !")
    textarea.evaluate("t => t.setSelectionRange(8, 8)")
    page.locator(".emoji-toggle").click()
    picker = page.locator(".emoji-picker")
    expect(picker).to_be_visible()
    first = picker.locator(".emoji").first
    expect(first).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(picker.locator(".emoji").nth(1)).to_be_focused()
    page.keyboard.press("Enter")
    expect(textarea).to_have_value("See you 😃!")
    page.keyboard.press("Escape")
    expect(picker).to_be_hidden()
    expect(textarea).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator(".msg.out", has_text="See you 😃!")).to_have_count(1)
