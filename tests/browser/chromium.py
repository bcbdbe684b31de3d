"""Which Chromium the browser tests drive, and how it is started.

Debian's `chromium` (/usr/bin/chromium) through Playwright's `executable_path`:
Playwright's own browser download is never used. `HEALTHDAEMONS_CHROMIUM`
names another binary.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page
    from playwright.sync_api._generated import LocatorAssertions

DEFAULT = Path("/usr/bin/chromium")
VARIABLE = "HEALTHDAEMONS_CHROMIUM"
INSTALL = (
    "install Debian's chromium (`apt-get install chromium`; .ci/run does) "
    f"or set {VARIABLE} to a Chromium binary"
)
FLAGS = [
    "--no-sandbox",  # the tests run as root
    "--disable-gpu",
    # Without these, Chromium keeps dialing Google's servers.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 30_000
"""Playwright's bound on each wait and action: generous for a loaded 2-core machine."""


def chromium() -> Path:
    return Path(os.environ.get(VARIABLE) or DEFAULT)


def missing() -> str | None:
    """Why no browser test can run here, saying what to install; None when one can."""
    if importlib.util.find_spec("playwright") is None:
        return "the Python package playwright is missing: pip install -e '.[dev]'"
    binary = chromium()
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        return f"no Chromium at {binary}: {INSTALL}"
    return None


@contextmanager
def chromium_page(
    profile: Path,
    *,
    args: tuple[str, ...] = (),
    color_scheme: Literal["light", "dark"] = "light",
) -> Iterator[Page]:
    """A page of a headless Chromium of its own, whose profile (and Crashpad's
    files) are in the fresh directory `profile`; Chromium and its children
    end when the block does."""
    from playwright.sync_api import expect as playwright_expect
    from playwright.sync_api import sync_playwright

    profile.mkdir(parents=True, exist_ok=True)
    # Crashpad keeps its reports under the config directory: the profile's, not ours.
    environment: dict[str, str | float | bool] = {
        **os.environ,
        "XDG_CONFIG_HOME": str(profile),
        "XDG_CACHE_HOME": str(profile),
    }
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile / "chromium",
            executable_path=str(chromium()),
            headless=True,
            args=[*FLAGS, *args],
            env=environment,
            color_scheme=color_scheme,
            viewport={"width": 1280, "height": 900},
            timeout=60_000,
        )
        try:
            context.set_default_timeout(TIMEOUT_MS)
            playwright_expect.set_options(timeout=TIMEOUT_MS)
            page = context.pages[0] if context.pages else context.new_page()
            yield page
        finally:
            context.close()


def expect(locator: Locator) -> LocatorAssertions:
    """Playwright's `expect`, imported only once a browser test runs (with no
    Playwright installed, the tests are skipped, not broken)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)
