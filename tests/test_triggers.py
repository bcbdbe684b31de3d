"""Triggers: when checks run (docs/spec.md section 5).

Their cadences span minutes (the default trigger waits 30 s while healthy), so
these tests run on trio's mock clock only; the triggers themselves use nothing
but `anyio.sleep`, and every system test runs them on asyncio too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest
import trio.testing

from coordinator import HealthCheckResult
from coordinator.triggers import (
    change_on_first_success,
    cooldown_trigger,
    default_trigger,
    last_status,
    status_trigger,
    success_failure,
)


@pytest.fixture
def anyio_backend() -> object:
    return ("trio", {"clock": trio.testing.MockClock(autojump_threshold=0)})


async def collect(trigger_steps: AsyncIterator[None], count: int) -> list[float]:
    start = anyio.current_time()
    times = []
    for _ in range(count):
        await anext(trigger_steps)
        times.append(round(anyio.current_time() - start, 3))
    await trigger_steps.aclose()  # type: ignore[attr-defined]
    return times


async def test_default_trigger_cadence() -> None:
    last: list[HealthCheckResult | None] = [None]
    steps = default_trigger(lambda: last[0])
    # Never succeeded: at once, then 0.05 doubling to 1 s.
    assert await collect(steps, 8) == [0, 0.05, 0.15, 0.35, 0.75, 1.55, 2.55, 3.55]
    steps = default_trigger(lambda: last[0])
    await anext(steps)  # at once
    last[0] = HealthCheckResult.success()
    start = anyio.current_time()
    await anext(steps)
    assert anyio.current_time() - start == pytest.approx(30)
    last[0] = HealthCheckResult.failure("x")
    start = anyio.current_time()
    await anext(steps)
    assert anyio.current_time() - start == pytest.approx(1)
    await steps.aclose()


async def test_cooldown_and_status_triggers() -> None:
    assert await collect(cooldown_trigger(2)(lambda: None), 3) == [2, 4, 6]
    last: list[HealthCheckResult | None] = [None]
    steps = status_trigger(1.0, {"success": 10.0})(lambda: last[0])
    assert await collect(steps, 1) == [1]
    last[0] = HealthCheckResult.success()
    steps = status_trigger(1.0, {"success": 10.0})(lambda: last[0])
    assert await collect(steps, 2) == [10, 20]


async def test_change_on_first_success() -> None:
    last: list[HealthCheckResult | None] = [None]
    trigger = change_on_first_success(cooldown_trigger(1), cooldown_trigger(5))
    steps = trigger(lambda: last[0])
    start = anyio.current_time()
    elapsed = []
    for result in [None, None, HealthCheckResult.success(), None, None]:
        last[0] = result if result is not None else last[0]
        await anext(steps)
        elapsed.append(anyio.current_time() - start)
    await steps.aclose()  # type: ignore[attr-defined]
    # The check made at 1 s succeeded: from then on, every 5 s.
    assert elapsed == [0, 1, 6, 11, 16]


async def test_success_failure_and_last_status() -> None:
    last: list[HealthCheckResult | None] = [None]
    steps = success_failure(cooldown_trigger(10), cooldown_trigger(1))(lambda: last[0])
    start = anyio.current_time()
    await anext(steps)
    assert anyio.current_time() - start == 0  # no result yet: at once
    last[0] = HealthCheckResult.failure("x")
    await anext(steps)
    assert anyio.current_time() - start == 1
    last[0] = HealthCheckResult.success()
    await anext(steps)
    assert anyio.current_time() - start == 11
    await steps.aclose()  # type: ignore[attr-defined]
    steps = last_status({"loading": cooldown_trigger(3)}, cooldown_trigger(1))(lambda: last[0])
    last[0] = HealthCheckResult.loading("x")
    start = anyio.current_time()
    await anext(steps)
    assert anyio.current_time() - start == 3
    await steps.aclose()  # type: ignore[attr-defined]
