"""Tests that hang on purpose, for tests/processes/test_time_limits.py, which runs
them in a pytest of its own with short limits. Not collected otherwise (the
name does not start with `test_`)."""

from __future__ import annotations

import time

import anyio
import pytest

from coordinator import Command, Daemons, RunningDaemons

from .helpers import always_ready


def test_a_sleep_that_never_ends() -> None:
    time.sleep(3600)


async def test_an_await_that_never_ends() -> None:
    await anyio.sleep_forever()


async def test_a_hang_with_a_process_running() -> None:
    system = Daemons.of().add_daemon(
        "sleeper", exec=Command(["sleep", "3600"]), ready=always_ready()
    )
    async with system.build() as running:
        await running.wait_ready(timeout=30)
        await anyio.sleep_forever()


async def test_a_term_that_never_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    # A seeded bug: term() never begins the shutdown, so it waits for ever.
    monkeypatch.setattr(RunningDaemons, "_begin_term", lambda self: None)
    system = Daemons.of().add_daemon(
        "sleeper", exec=Command(["sleep", "3600"]), ready=always_ready()
    )
    async with system.build() as running:
        await running.wait_ready(timeout=30)
    # Past the bound, the seeded bug is undone so that the process can stop.


def test_after_the_hangs_tests_still_run() -> None:
    assert True
