"""One call of a check, as the readiness loop and the liveness watchdog make it."""

from __future__ import annotations

import inspect

import anyio

from ._command_process import CommandProcess
from ._entry import Entry
from ._ready import CheckFn
from ._results import HealthCheckResult

__all__ = ["call_check", "unless_stopped"]


async def call_check(fn: CheckFn, timeout: float, what: str) -> HealthCheckResult:
    """Run a check; an exception is a failure whose message is its text, and
    so is a call that takes longer than `timeout`."""
    deadline = anyio.move_on_after(timeout)
    try:
        with deadline:
            value = fn()
            if inspect.isawaitable(value):
                value = await value
    except Exception as error:
        if not deadline.cancel_called:  # (else it made an error of its cancellation)
            return HealthCheckResult.failure(str(error) or type(error).__name__)
    if deadline.cancel_called:
        return HealthCheckResult.failure(f"{what} timed out after {timeout:g} s")
    if not isinstance(value, HealthCheckResult):
        return HealthCheckResult.failure(
            f"check returned {type(value).__name__}, not a HealthCheckResult"
        )
    return value


def unless_stopped(entry: Entry, result: HealthCheckResult) -> HealthCheckResult:
    """A stopped process fails its check: a port it listens on still looks open."""
    process = entry.process
    if isinstance(process, CommandProcess):
        stopped = process.stopped()
        if stopped is not None:
            return HealthCheckResult.failure(stopped)
    return result
