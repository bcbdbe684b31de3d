"""Every async test runs twice: on asyncio (real time) and on trio with a mock
clock (virtual time: sleeps cost nothing and timing is deterministic)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio.testing
from hypothesis import HealthCheck, settings

from .time_limits import bound_the_exit, limit_the_call, set_timer

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=200,
    deadline=None,
    print_blob=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
# `make quick`: a glance at each property while editing; `make test` searches further.
settings.register_profile(
    "quick", max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
# `make mutate`: the same examples on every run, so that a mutant is killed or not
# by the mutation alone, never by the luck of the draw.
settings.register_profile(
    "mutate",
    derandomize=True,
    max_examples=5,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


QUICK = bool(os.environ.get("HEALTHDAEMONS_QUICK"))
"""`make quick`: no process, no long search, and each async test once, on trio's
mock clock, where sleeps take no real time (`make test` runs both backends)."""


@pytest.fixture(params=["trio"] if QUICK else ["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> object:
    if request.param == "asyncio":
        return "asyncio"
    return ("trio", {"clock": trio.testing.MockClock(autojump_threshold=0)})


@pytest.fixture(autouse=True)
def system_exits_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A `term()` that hangs fails the test fast, naming what did not stop."""
    bound_the_exit(monkeypatch)


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> bool | None:
    """An async test's time limit cancels it in its event loop (tests/time_limits.py)."""
    return set_timer(item, settings)


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Iterator[None]:
    undo = limit_the_call(pyfuncitem)
    try:
        return (yield)
    finally:
        if undo is not None:
            undo()


PROCESS_TESTS = Path(__file__).parent / "processes"
BROWSER_TESTS = Path(__file__).parent / "browser"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test of tests/processes and tests/browser starts processes (a
    browser test, Chromium and `up` too); `make quick` leaves them out."""
    for item in items:
        if PROCESS_TESTS in item.path.parents:
            item.add_marker(pytest.mark.processes)
        if BROWSER_TESTS in item.path.parents:
            item.add_marker(pytest.mark.processes)
            item.add_marker(pytest.mark.browser)


@pytest.fixture(autouse=True)
def quick_tests_start_no_process(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under `make quick`, a test not marked `processes` that starts one fails,
    so that the quick set stays what it says."""
    if QUICK and not request.node.get_closest_marker("processes"):

        def refuse(*args: object, **kwargs: object) -> None:
            raise AssertionError(
                "this test starts a process: mark it @pytest.mark.processes "
                "(`make quick` runs only the tests that start none)"
            )

        monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
