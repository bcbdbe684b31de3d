"""The console with 200 entries (issue 15: "usable with 200 entries; nothing
overflows at 200 entries; keyboard-usable"): every row is there, the page
itself never scrolls (each panel scrolls inside itself), and the table is
driven with the keyboard alone."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..processes.stack import a_stack, until
from .chromium import expect
from .system import System, entries, web_up

if TYPE_CHECKING:
    from playwright.sync_api import Page

MANY = 200
# Ready as each says so (no check process per entry): 200 shells printing a line.
MANY_STACK = "".join(
    f'[services.sleeper-{number:03d}]\ncommand = "echo up; exec sleep 3600"\n'
    f'[services.sleeper-{number:03d}.ready]\nlog_line = "up"\n'
    for number in range(MANY)
)


def _selected(page: Page) -> str:
    return (page.locator("#selected").text_content() or "").strip()


def test_two_hundred_entries_fit_and_the_keyboard_drives_the_table(page: Page) -> None:
    with a_stack(MANY_STACK) as stack, web_up(stack) as console:
        until(
            lambda: sum(e["state"] == "ready" for e in entries(stack).values()) == MANY,
            timeout=120,
            what="every sleeper ready",
        )
        page.set_viewport_size({"width": 1280, "height": 800})
        page.goto(System(stack, console).url)
        expect(page.locator("#connection")).to_have_attribute("data-status", "connected")
        rows = page.locator('table#entries tbody tr[data-state="ready"]')
        expect(rows).to_have_count(MANY)
        expect(page.locator("#graph svg g.node")).to_have_count(MANY)
        page_size = page.evaluate(
            """() => {
              const root = document.documentElement;
              return [root.scrollWidth, root.clientWidth, root.scrollHeight, root.clientHeight];
            }"""
        )
        width, window_width, height, window_height = page_size
        assert width <= window_width and height <= window_height, page_size
        table_box = page.locator("table#entries").evaluate(
            "(table) => table.closest('.scroll, .panel').getBoundingClientRect().bottom"
        )
        assert table_box <= window_height

        # The keyboard alone: the table is one tab stop; arrows, End, Escape.
        first = page.locator('table#entries tbody tr[tabindex="0"]')
        first.focus()
        page.keyboard.press("Enter")
        expect(page.locator("#selected")).to_have_text("sleeper-000")
        page.keyboard.press("ArrowDown")
        expect(page.locator("#selected")).to_have_text("sleeper-001")
        page.keyboard.press("End")
        expect(page.locator("#selected")).to_have_text(f"sleeper-{MANY - 1:03d}")
        selected = page.locator('table#entries tbody tr[aria-selected="true"]')
        expect(selected).to_have_count(1)
        expect(selected).to_be_in_viewport()
        page.keyboard.press("Escape")
        expect(selected).to_have_count(0)
        assert _selected(page) != f"sleeper-{MANY - 1:03d}"
