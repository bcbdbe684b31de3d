"""What the page showed over time, recorded in the page itself: a transition
that lasts a few milliseconds is kept even if no poll of ours would see it."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Page

# Every value of an attribute (`data-state`) the element matching `selector`
# (under `root`) took, in order: a MutationObserver keeps each attribute change's old value and the
# rows or nodes replaced, so several changes in one task are all seen. With
# each state, the fill of the element's shape (a graph node's) when it was seen.
_WATCH = """
([key, root, selector, attribute]) => {
  const seen = [];
  const fills = {};
  const shapeFill = (element) => {
    const shape = element && element.querySelector("polygon, ellipse, path, rect");
    return shape ? getComputedStyle(shape).fill : null;
  };
  const note = (state, element) => {
    if (!state) return;
    if (seen[seen.length - 1] !== state) seen.push(state);
    const fill = shapeFill(element);
    if (fill && !(state in fills)) fills[state] = fill;
  };
  const current = () => document.querySelector(root)?.querySelector(selector);
  const now = () => {
    const element = current();
    if (element) note(element.getAttribute(attribute), element);
  };
  now();
  new MutationObserver((records) => {
    for (const record of records) {
      if (record.type === "attributes" && record.target.matches(selector)) {
        note(record.oldValue, null);
      }
      for (const node of record.removedNodes) {
        if (node.nodeType !== 1) continue;
        const gone = node.matches(selector) ? node : node.querySelector(selector);
        if (gone) note(gone.getAttribute(attribute), null);
      }
    }
    now();
  }).observe(document.querySelector(root), {
    subtree: true, childList: true, attributes: true,
    attributeFilter: [attribute], attributeOldValue: true,
  });
  window.__watched = window.__watched || {};
  window.__watched[key] = {seen, fills};
}
"""

_APPLIED = """
() => {
  window.__applied = [];
  document.addEventListener("healthdaemons:applied", (e) =>
    window.__applied.push({...e.detail, shown_at: Date.now() / 1000}));
}
"""


def watch_states(
    page: Page, key: str, root: str, selector: str, attribute: str = "data-state"
) -> None:
    """Record the values `attribute` of `selector` (under `root`) takes, as `key`."""
    page.evaluate(_WATCH, [key, root, selector, attribute])


def wait_for_states(page: Page, key: str, expected: list[str]) -> None:
    """Wait until the states recorded as `key` went through `expected`, in order."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(
            """([key, expected]) => {
              const seen = window.__watched[key].seen;
              let at = 0;
              for (const state of seen) if (state === expected[at]) at += 1;
              return at === expected.length;
            }""",
            arg=[key, expected],
        )
    except PlaywrightTimeout:
        raise AssertionError(
            f"{key}: the page never went through {expected}; it showed {states_seen(page, key)}"
        ) from None


def states_seen(page: Page, key: str) -> list[str]:
    seen: list[str] = page.evaluate("(key) => window.__watched[key].seen", key)
    return seen


def fills_seen(page: Page, key: str) -> dict[str, str]:
    """The computed fill of the watched element's shape in each state seen."""
    fills: dict[str, str] = page.evaluate("(key) => window.__watched[key].fills", key)
    return fills


def collect_applied(page: Page) -> None:
    """Keep every `healthdaemons:applied` event's detail from now on."""
    page.evaluate(_APPLIED)


def applied(page: Page) -> list[dict[str, Any]]:
    """The events the page showed since `collect_applied`, each with
    `shown_at`: the wall-clock second the page had it in its DOM."""
    events: list[dict[str, Any]] = page.evaluate("() => window.__applied")
    return events


def seconds_to_show(event: dict[str, Any]) -> float:
    """From an event leaving `up` to the page showing it. `at` is `up`'s
    event loop's clock, asyncio's `time.monotonic()`, the same clock in
    every process of the machine; `shown_at` is the wall clock."""
    wall_minus_monotonic = time.time() - time.monotonic()
    shown_at: float = event["shown_at"]
    at: float = event["at"]
    return shown_at - (at + wall_minus_monotonic)


def in_order(seen: list[str], expected: list[str]) -> bool:
    """Whether `expected` occurs in `seen` in this order (others may come between)."""
    rest = iter(seen)
    return all(state in rest for state in expected)


def rgb(colour: str) -> str:
    """`#fd8d3c` as a computed style gives it: `rgb(253, 141, 60)`."""
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({red}, {green}, {blue})"
