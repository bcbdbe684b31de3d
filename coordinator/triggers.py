"""Triggers: when the next health check runs.

A trigger receives a getter of the last raw check result (`None` before the
first) and returns an async iterator; each step ends when the next check is
due. A new trigger starts with each process of a daemon, and each launch of a check.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping

import anyio

from ._defaults import FIRST_RETRY as FIRST_RETRY
from ._defaults import RETRY_FRACTION as RETRY_FRACTION
from ._defaults import SLOWEST_RETRY as SLOWEST_RETRY
from ._defaults import SUCCESS_INTERVAL as SUCCESS_INTERVAL
from ._results import HealthStatus
from ._trigger_steps import ResultGetter, Trigger, advance_steps, close_steps
from ._validation import require_option

__all__ = (
    "FIRST_RETRY",
    "RETRY_FRACTION",
    "SLOWEST_RETRY",
    "SUCCESS_INTERVAL",
    "Trigger",
    "change_on_first_success",
    "cooldown_trigger",
    "default_trigger",
    "last_status",
    "status_trigger",
    "success_failure",
)


async def default_trigger(last_result: ResultGetter) -> AsyncGenerator[None]:
    """Check at once; until the first success, again after a quarter of the
    time since the trigger started (`RETRY_FRACTION`), at least `FIRST_RETRY`
    (5 ms) and as long as the last check took, at most `SLOWEST_RETRY` (1 s);
    afterwards every 30 s while successful and every 1 s while not.

    So a service that becomes ready `t` seconds after its launch is seen by
    a check at most `max(5 ms, t / 4)` (at most 1 s) later, plus the time a
    check takes; a slow one is checked about 3 times per doubling of `t`
    (13 checks for 0.1 s, 23 for 1 s, 35 for 10 s), then once a second.
    """
    start = anyio.current_time()
    succeeded = False
    while True:
        due = anyio.current_time()
        yield
        result = last_result()
        if result is not None and result.is_success:
            succeeded = True
            await anyio.sleep(SUCCESS_INTERVAL)
        elif succeeded:
            await anyio.sleep(SLOWEST_RETRY)
        else:
            now = anyio.current_time()
            await anyio.sleep(_retry_delay(now - start, now - due))


def _retry_delay(since_start: float, check_took: float) -> float:
    """The default trigger's wait before its next check, until a first success:
    a fixed fraction of the time since it started, so that a check never comes
    much later than readiness; never shorter than the last check took (up to
    the ceiling), so that checks that last take at most half of a start-up."""
    return min(SLOWEST_RETRY, max(FIRST_RETRY, RETRY_FRACTION * since_start, check_took))


def cooldown_trigger(interval: float) -> Trigger:
    """A check every `interval` seconds, the first one after `interval` (as upstream).

    Raises `ValueError` unless `interval` is a finite number > 0."""
    require_option("interval", interval)

    async def trigger(last_result: ResultGetter) -> AsyncGenerator[None]:
        while True:
            await anyio.sleep(interval)
            yield

    return trigger


def status_trigger(default: float, intervals: Mapping[HealthStatus | str, float]) -> Trigger:
    """A cooldown whose interval depends on the last result's status.

    `status_trigger(1.0, {"success": 30.0})` checks every 30 s while
    successful and every second otherwise (and before the first result).
    Raises `ValueError` unless every interval is a finite number > 0.
    """
    by_status = {HealthStatus(k): v for k, v in intervals.items()}
    for interval in (default, *by_status.values()):
        require_option("interval", interval)

    async def trigger(last_result: ResultGetter) -> AsyncGenerator[None]:
        while True:
            result = last_result()
            await anyio.sleep(default if result is None else by_status.get(result.result, default))
            yield

    return trigger


def change_on_first_success(before_first_success: Trigger, after_first_success: Trigger) -> Trigger:
    """Check at once; follow `before_first_success` until a check succeeds,
    then `after_first_success` for good."""

    async def trigger(last_result: ResultGetter) -> AsyncGenerator[None]:
        yield
        before = before_first_success(last_result)
        try:
            while not _succeeded(last_result):
                if not await advance_steps(before):
                    return
                yield
        finally:
            await close_steps(before)
        after = after_first_success(last_result)
        try:
            while await advance_steps(after):
                yield
        finally:
            await close_steps(after)

    return trigger


def last_status(by_status: Mapping[HealthStatus | str, Trigger], default: Trigger) -> Trigger:
    """Follow the trigger chosen by the last result's status (`default` for the
    others). Checks at once while there is no result yet. Each chosen trigger
    keeps its own pace across switches."""
    chosen = {HealthStatus(k): v for k, v in by_status.items()}

    async def trigger(last_result: ResultGetter) -> AsyncGenerator[None]:
        running: dict[HealthStatus | None, AsyncIterator[None]] = {}
        try:
            while True:
                result = last_result()
                if result is None:
                    yield
                    continue
                key = result.result if result.result in chosen else None
                steps = running.get(key)
                if steps is None:
                    steps = running[key] = chosen.get(result.result, default)(last_result)
                if not await advance_steps(steps):
                    return
                yield
        finally:
            for steps in running.values():
                await close_steps(steps)

    return trigger


def success_failure(during_success: Trigger, during_error: Trigger) -> Trigger:
    """`during_success` while the last check succeeded, `during_error` otherwise."""
    return last_status({HealthStatus.SUCCESS: during_success}, during_error)


def _succeeded(last_result: ResultGetter) -> bool:
    result = last_result()
    return result is not None and result.is_success
