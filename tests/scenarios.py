"""Random systems under random faults, run for real on either backend.

A `Scenario` is a random DAG of daemons, oneshots and checks with, per entry,
a stop duration, a grace period, times at which its check flips, crashes,
failing oneshot runs and functions that ignore cancellation, plus the moment
`term()` is called. Times are in units: one virtual second on trio's mock
clock, one real millisecond on asyncio.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio
import trio.testing
from hypothesis import strategies as st

from coordinator import (
    CheckFn,
    Daemons,
    Event,
    ExecFn,
    HealthCheckResult,
    LifecycleState,
    Ready,
    RunningDaemons,
)
from coordinator.triggers import cooldown_trigger
from statemachines import EntryKind

from .support import check_invariants

UNITS = {"asyncio": 0.001, "trio": 1.0}


@dataclass(frozen=True)
class EntryPlan:
    kind: EntryKind
    requires: tuple[int, ...]
    stop_delay: int
    grace: int
    healthy_at_start: bool
    flips: tuple[int, ...]
    """Times at which the check's answer flips."""
    crash_after: int | None
    """A daemon crashes this long after each spawn; a oneshot runs this long."""
    failing_runs: int
    """A oneshot's first runs that crash."""
    stubborn: bool
    """Ignores cancellation for a while: abandoned after its sigterm timeout."""
    max_restarts: int | None = None


@dataclass(frozen=True)
class Scenario:
    entries: tuple[EntryPlan, ...]
    term_at: int

    @property
    def ids(self) -> list[str]:
        return [f"e{i}" for i in range(len(self.entries))]


@st.composite
def entry_plans(draw: st.DrawFn, index: int) -> EntryPlan:
    kind = draw(st.sampled_from(list(EntryKind)))
    requires = draw(st.sets(st.integers(0, index - 1), max_size=3)) if index else set()
    return EntryPlan(
        kind=kind,
        requires=tuple(sorted(requires)),
        stop_delay=draw(st.integers(0, 3)),
        grace=draw(st.integers(0, 3)),
        healthy_at_start=draw(st.booleans()),
        flips=tuple(sorted(draw(st.sets(st.integers(0, 30), max_size=4)))),
        crash_after=draw(st.none() | st.integers(0, 10)),
        failing_runs=draw(st.integers(0, 2)),
        stubborn=draw(st.booleans()) and draw(st.booleans()) and draw(st.booleans()),
        max_restarts=draw(st.none() | st.integers(0, 2)),
    )


@st.composite
def scenarios(draw: st.DrawFn, max_entries: int = 12) -> Scenario:
    count = draw(st.integers(1, max_entries))
    entries = tuple(draw(entry_plans(i)) for i in range(count))
    return Scenario(entries, term_at=draw(st.integers(0, 30)))


def build_system(scenario: Scenario, unit: float) -> Daemons:
    system = Daemons.of()
    ids = scenario.ids
    for i, plan in enumerate(scenario.entries):
        requires = [ids[r] for r in plan.requires]
        ready = Ready(
            display=ids[i].upper(),
            fn=_check(plan, unit),
            grace_period=plan.grace * unit,
            trigger=cooldown_trigger(unit / 2),
        )
        if plan.kind is EntryKind.DAEMON:
            system = system.add_daemon(
                ids[i],
                exec=_daemon(plan, unit),
                ready=ready,
                requires=requires,
                max_restarts=plan.max_restarts,
            )
        elif plan.kind is EntryKind.ONESHOT:
            system = system.add_oneshot(
                ids[i], exec=_oneshot(plan, unit), requires=requires, max_restarts=plan.max_restarts
            )
        else:
            system = system.add_health_check(ids[i], ready=ready, requires=requires)
    return system


def _check(plan: EntryPlan, unit: float) -> CheckFn:
    started: list[float] = []

    def check() -> HealthCheckResult:
        now = anyio.current_time()
        if not started:
            started.append(now)
        elapsed = (now - started[0]) / unit
        flips = sum(1 for t in plan.flips if t <= elapsed)
        if plan.healthy_at_start ^ (flips % 2 == 1):
            return HealthCheckResult.success()
        return HealthCheckResult.failure("flapped off")

    return check


def _stop_duration(plan: EntryPlan) -> int:
    return 10 if plan.stubborn else plan.stop_delay


def _daemon(plan: EntryPlan, unit: float) -> ExecFn:
    async def run(_: object) -> None:
        try:
            await anyio.sleep(math.inf if plan.crash_after is None else plan.crash_after * unit)
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                await anyio.sleep(_stop_duration(plan) * unit)
            raise
        raise RuntimeError("crashed")

    return ExecFn(run, sigterm_timeout=3 * unit)


def _oneshot(plan: EntryPlan, unit: float) -> ExecFn:
    runs = [0]

    async def run(_: object) -> None:
        runs[0] += 1
        try:
            await anyio.sleep((plan.crash_after or 0) * unit)
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                await anyio.sleep(_stop_duration(plan) * unit)
            raise
        if runs[0] <= plan.failing_runs:
            raise RuntimeError(f"run {runs[0]} failed")

    return ExecFn(run, sigterm_timeout=3 * unit)


def run_scenario(scenario: Scenario, backend: str) -> list[Event]:
    """Run it, then check invariants 1, 2, 3, 5 and 6 on the history.

    The invariants are checked even when the run itself failed (a broken
    coordinator may crash or hang), so a violation is reported as such.
    """
    unit = UNITS[backend]
    system = build_system(scenario, unit)
    running = system.build()

    async def main() -> None:
        with anyio.fail_after(10_000 * unit if backend == "trio" else 30):
            async with running:
                await anyio.sleep(scenario.term_at * unit)
                await running.term()

    run_and_check(main, backend, system, running)
    return running.history


def run_and_check(
    main: Callable[[], Awaitable[None]], backend: str, system: Daemons, running: RunningDaemons
) -> None:
    """Run `main` (trio on a mock clock, or asyncio), then check the run's
    invariants (even when it failed: a broken one explains the failure
    best) and that every entry ended `stopped`."""
    error: BaseException | None = None
    try:
        if backend == "trio":
            clock = trio.testing.MockClock(autojump_threshold=0)
            anyio.run(main, backend="trio", backend_options={"clock": clock})
        else:
            anyio.run(main, backend="asyncio")
    except Exception as caught:
        error = caught
    check_invariants(system.entries, running.history)
    if error is not None:
        raise error
    states = {i: running.state(i) for i in running.ids}
    assert all(s is LifecycleState.STOPPED for s in states.values()), states
