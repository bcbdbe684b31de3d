"""Tests in a real browser: headless Chromium (tests/browser/chromium.py)
driven by Playwright against a real `healthdaemons up --web`.

With no browser, each test is skipped with a reason saying what to install,
and the end of the run says so in one line; in CI (`CI=true`, where .ci/run
installs Chromium) a missing browser fails them instead. Like tests/processes,
a test fails if it leaves a process alive: Chromium and its children, `up`
and its services.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..processes import leftovers
from ..processes.stack import a_stack
from . import chromium
from .system import BROWSER_STACK, EXPECTED_STATES, System, all_in, web_up

if TYPE_CHECKING:
    from playwright.sync_api import Page

_skipped: set[str] = set()
"""Why browser tests were skipped in this run (said again at its end)."""


@pytest.fixture(scope="session", autouse=True)
def subreaper_in_this_process() -> None:
    """Chromium's helpers and `up`'s services stay our descendants, so that
    the check below finds them (tests/processes/conftest.py does the same)."""
    leftovers.become_subreaper()


@pytest.fixture(autouse=True)
def no_leftover_processes() -> Iterator[None]:
    with leftovers.none_left_behind():
        yield


@pytest.fixture(autouse=True)
def a_browser() -> None:
    reason = chromium.missing()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests cannot run in CI: {reason}", pytrace=False)
    _skipped.add(reason)
    pytest.skip(reason)


OpenPage = Callable[..., AbstractContextManager["Page"]]


@pytest.fixture
def open_page(tmp_path: Path) -> OpenPage:
    """`with open_page(args=..., color_scheme=...) as page:` a fresh Chromium."""
    opened = 0

    def open_one(**options: Any) -> AbstractContextManager[Page]:
        nonlocal opened
        opened += 1
        return chromium.chromium_page(tmp_path / f"profile-{opened}", **options)

    return open_one


@pytest.fixture
def page(open_page: OpenPage) -> Iterator[Page]:
    with open_page() as opened:
        yield opened


@pytest.fixture
def system() -> Iterator[System]:
    """A real `up --web` of BROWSER_STACK, every entry in its expected state."""
    with a_stack(BROWSER_STACK) as stack, web_up(stack) as up:
        all_in(stack, EXPECTED_STATES)
        yield System(stack, up)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for reason in sorted(_skipped):
        terminalreporter.write_line(f"browser tests skipped: {reason}", yellow=True, bold=True)
