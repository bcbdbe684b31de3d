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
    FIRST_RETRY,
    RETRY_FRACTION,
    SLOWEST_RETRY,
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
    # Never succeeded: at once, then 5 ms apart until a quarter of the time
    # since the start is longer (at 20 ms), then that quarter.
    assert await collect(steps, 8) == [0, 0.005, 0.01, 0.015, 0.02, 0.025, 0.031, 0.039]
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


async def first_success(ready_at: float, check_takes: float = 0.0) -> tuple[int, float]:
    """Run the default trigger against a service ready `ready_at` seconds after
    the start, each check taking `check_takes`: how many checks it took, and
    how long after `ready_at` the one that saw it began."""
    last: list[HealthCheckResult | None] = [None]
    start = anyio.current_time()
    steps = default_trigger(lambda: last[0])
    checks = 0
    try:
        while True:
            await anext(steps)
            began = anyio.current_time() - start
            checks += 1
            await anyio.sleep(check_takes)
            if began >= ready_at:
                return checks, began - ready_at
            last[0] = HealthCheckResult.failure("not yet")
    finally:
        await steps.aclose()


@pytest.mark.parametrize("ready_at", [0.001, 0.004, 0.012, 0.05, 0.16, 0.8, 2.5, 3.9, 6.0, 45.0])
async def test_the_default_trigger_sees_readiness_within_a_quarter_of_the_time_to_it(
    ready_at: float,
) -> None:
    """The promise of docs/spec.md section 5: a check at most 5 ms, or a
    quarter of the time since the start, after readiness (at most 1 s)."""
    _, late = await first_success(ready_at)
    assert late <= max(FIRST_RETRY, min(SLOWEST_RETRY, RETRY_FRACTION * ready_at)) + 1e-9


async def test_the_default_trigger_checks_a_slow_start_a_few_times_per_doubling() -> None:
    """Checks, the one that sees readiness included, for a service ready after
    0.1 s, 1 s and 10 s (the schedule before: 3, 6 and 15). Past 4 s, when a
    quarter reaches 1 s, once a second."""
    assert [(await first_success(t))[0] for t in (0.1, 1.0, 10.0, 60.0)] == [13, 23, 35, 85]


async def test_the_default_trigger_waits_at_least_as_long_as_a_check_took() -> None:
    """A check that takes long (a script spawning a process) is not repeated
    sooner than it took (up to 1 s): checks take at most half of a slow start."""
    checks, late = await first_success(1.0, check_takes=0.1)
    assert checks == 6  # at 0, 0.2, 0.4, 0.625, 0.906 and 1.258 s
    # Readiness came during the check that began at 0.906 s: seen by the
    # next, a quarter of the time since the start after that one ended.
    assert late <= 0.1 + RETRY_FRACTION * (1.0 + 0.1)
    checks, _ = await first_success(10.0, check_takes=2.0)
    assert checks == 5  # at 0, 3, 6, 9 and 12 s: 2 s a check, then 1 s at most


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
