"""Time limits that fail a hung test, on both backends, with its fixtures run.

pytest-timeout sets every test's limit (`timeout` in pyproject.toml, or a
`timeout` mark). Its `signal` method raises from a SIGALRM handler, which is
right for a synchronous test and for code that is busy. For an async test it
is not enough: a hung test is most often idle in its event loop, the signal
then lands outside the test's task, and on trio (whose anyio test runner
drives the loop from pytest's thread) the runner then waits for ever for the
abandoned test. So an async test's limit cancels the test inside its loop
instead (from a timer thread, through the loop's thread-safe call), and the
test fails with its fixtures run; the SIGALRM comes only `LAST_RESORT`
seconds later, for a loop that is stuck in code.

Leaving a system's block is bounded too. `RunningDaemons.__aexit__` waits
for `term()` in a shielded scope (so that a cancelled block still stops
everything in order), so neither a `fail_after` around the block nor the
cancellation above can end a `term()` that hangs. After `EXIT_WITHIN` real
seconds, the wait is released from outside and the test fails naming the
entries that did not stop.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
import threading
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any

import anyio
import pytest
import pytest_timeout
import sniffio
import trio

from coordinator import LifecycleState, RunningDaemons

# Real seconds. Longer than any test's own shutdown on a loaded machine (the
# longest waits out a 30 s SIGTERM timeout only on the mock clock), far
# shorter than a test's time limit. The variable lets the self-test
# (tests/processes/test_time_limits.py) show a hang in seconds.
EXIT_WITHIN = float(os.environ.get("HEALTHDAEMONS_TEST_EXIT_WITHIN", "60"))
LAST_RESORT = 30.0


class ExitHung(Exception):
    """Leaving the system's block took longer than the bound."""


def _call_soon_from_thread() -> Callable[[Callable[[], object]], object]:
    """How another thread gets a function run in the current event loop."""
    if sniffio.current_async_library() == "trio":
        return trio.lowlevel.current_trio_token().run_sync_soon
    return asyncio.get_running_loop().call_soon_threadsafe


def _daemon_timer(seconds: float, action: Callable[[], object]) -> threading.Timer:
    timer = threading.Timer(seconds, action)
    timer.daemon = True
    timer.start()
    return timer


# -- a hung test ---------------------------------------------------------------

_LIMIT = pytest.StashKey["_InLoopLimit"]()


class _InLoopLimit:
    """One async test's limit: its timer cancels the test's scope in its loop."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._cancel: Callable[[], object] | None = None
        self._lock = threading.Lock()

    def entered(self, scope: anyio.CancelScope) -> None:
        call_soon = _call_soon_from_thread()
        with self._lock:
            self._cancel = lambda: call_soon(scope.cancel)
            if self.expired:
                self._cancel()

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            if self._cancel is not None:
                self._cancel()


def _is_async_test(item: pytest.Item) -> bool:
    """Run by anyio's plugin (Hypothesis's async tests keep pytest-timeout's way)."""
    return (
        isinstance(item, pytest.Function)
        and "anyio_backend" in item.fixturenames
        and inspect.iscoroutinefunction(item.obj)
    )


def set_timer(item: pytest.Item, settings: Any) -> bool | None:
    """pytest-timeout's `pytest_timeout_set_timer`, for async tests."""
    if not _is_async_test(item) or not settings.timeout:
        return None  # pytest-timeout's own way
    limit = _InLoopLimit(settings.timeout)
    item.stash[_LIMIT] = limit
    timer = _daemon_timer(settings.timeout, limit.expire)
    last_resort = threading.main_thread() is threading.current_thread()
    if last_resort:
        signal.signal(signal.SIGALRM, lambda *_: pytest_timeout.timeout_sigalrm(item, settings))
        signal.setitimer(signal.ITIMER_REAL, settings.timeout + LAST_RESORT)

    def cancel() -> None:
        timer.cancel()
        if last_resort:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, signal.SIG_DFL)

    item.cancel_timeout = cancel  # type: ignore[attr-defined]  # pytest-timeout's protocol
    return True


def limit_the_call(item: pytest.Function) -> Callable[[], None] | None:
    """Run an async test inside a scope its limit cancels; returns the undo."""
    limit = item.stash.get(_LIMIT, None)
    test = item.obj
    if limit is None:
        return None

    async def limited(**kwargs: Any) -> None:
        with anyio.CancelScope() as scope:
            limit.entered(scope)
            await test(**kwargs)
        if limit.expired:
            pytest.fail(
                f"Timeout: the test ran over its limit of {limit.seconds:g} s of real "
                "time and was cancelled",
                pytrace=False,
            )

    item.obj = limited

    def undo() -> None:
        item.obj = test

    return undo


# -- a hung term() -------------------------------------------------------------


def not_stopped(running: RunningDaemons) -> str:
    states = {i: running.state(i) for i in running.ids}
    left = [f"{i} ({s.value})" for i, s in states.items() if s is not LifecycleState.STOPPED]
    return ", ".join(left) or "none (term() itself did not return)"


def bound_the_exit(monkeypatch: pytest.MonkeyPatch, seconds: float = EXIT_WITHIN) -> None:
    """Make every `async with system.build()` of the test leave within `seconds`."""
    original_exit: Callable[..., Coroutine[Any, Any, bool]] = RunningDaemons.__aexit__

    async def bounded_exit(
        self: RunningDaemons,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        call_soon = _call_soon_from_thread()
        hung: list[str] = []

        def release() -> None:
            if self._all_stopped is not None and not self._all_stopped.is_set():
                hung.append(not_stopped(self))
                # What term() waits for: the shutdown is abandoned, the tasks
                # are then cancelled, and the test fails below.
                self._all_stopped.set()

        timer = _daemon_timer(seconds, lambda: call_soon(release))
        try:
            result = await original_exit(self, exc_type, exc, traceback)
        finally:
            timer.cancel()
        if hung:
            raise ExitHung(
                f"leaving `async with system.build()` took over {seconds:g} s of real "
                f"time: term() did not stop {hung[0]}"
            )
        return result

    monkeypatch.setattr(RunningDaemons, "__aexit__", bounded_exit)
