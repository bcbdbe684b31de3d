"""Tests with real processes: real clocks on both backends, and no survivors."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from coordinator import _child_process

from . import leftovers


def adopts_orphans() -> bool:
    """Whether this process may be the subreaper: always, but in mutmut's main
    process, which waits for any child and fails on an orphan it adopted; its
    workers (forked, the mutant's name in MUTANT_UNDER_TEST) are subreapers."""
    mutant = os.environ.get("MUTANT_UNDER_TEST")
    return mutant is None or "__mutmut_" in mutant


if adopts_orphans():
    leftovers.become_subreaper()


@pytest.fixture(scope="session", autouse=True)
def subreaper_in_this_process() -> None:
    """Again per session: a forked worker does not inherit it."""
    if adopts_orphans():
        leftovers.become_subreaper()


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Both backends on real time: a mock clock would jump while a process runs."""
    return str(request.param)


@pytest.fixture(autouse=True)
def no_leftover_processes() -> Iterator[None]:
    """Fail the test if any process it started (grandchildren too) is still alive."""
    with leftovers.none_left_behind():
        yield


@pytest.fixture(params=["pidfd", "anyio"])
def process_layer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of running a child: pidfds (the default here), and anyio's
    process API, as where the kernel has no pidfds."""
    if request.param == "anyio":
        monkeypatch.setattr(_child_process, "pidfd_works", lambda: False)
    else:
        assert _child_process.pidfd_works(), "this kernel has no pidfds: only the fallback runs"
    return str(request.param)
