"""Building blocks for the tests: controllable entries and the invariant checker."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence

import anyio

from coordinator import (
    EntrySpec,
    Event,
    ExecFn,
    HealthCheckResult,
    ProcessExited,
    ProcessSpawned,
    Transitioned,
)
from statemachines import (
    ACTIVE_STATES,
    RUNNING_STATES,
    EntryKind,
    LifecycleEvent,
    LifecycleState,
    transitions_for,
)

READY = LifecycleState.READY
ALLOWED = {
    kind: {(t.source, t.event, t.dest or t.source) for t in transitions_for(kind)}
    for kind in EntryKind
}
"""The table's rows as (source, event, dest), read once at import, so that a
test that breaks the table cannot also break the checker."""


class Switch:
    """A check whose answer the test flips."""

    def __init__(self, ok: bool = True, message: str = "") -> None:
        self.ok = ok
        self.message = message
        self.calls = 0

    def __call__(self) -> HealthCheckResult:
        self.calls += 1
        if self.ok:
            return HealthCheckResult.success(self.message or None)
        return HealthCheckResult.failure(self.message or "switched off")


def forever(stop_delay: float = 0.0, *, sigterm_timeout: float = 30.0) -> ExecFn:
    """A daemon that runs until cancelled, then takes `stop_delay` to clean up."""

    async def run(_: object) -> None:
        try:
            await anyio.sleep_forever()
        finally:
            if stop_delay:
                with anyio.CancelScope(shield=True):
                    await anyio.sleep(stop_delay)

    return ExecFn(run, sigterm_timeout=sigterm_timeout)


def finishes(after: float = 0.0, *, fail_times: int = 0) -> ExecFn:
    """A task that returns after `after` seconds; its first `fail_times` runs raise."""
    runs = [0]

    async def run(_: object) -> None:
        runs[0] += 1
        await anyio.sleep(after)
        if runs[0] <= fail_times:
            raise RuntimeError(f"run {runs[0]} failed")

    return ExecFn(run)


def transitions(history: Iterable[Event], entry: str | None = None) -> list[tuple[str, str, str]]:
    """(entry, event, dest) of each transition, optionally of one entry."""
    return [
        (e.entry, e.event.value, e.dest.value)
        for e in history
        if isinstance(e, Transitioned) and (entry is None or e.entry == entry)
    ]


def first_time(history: Iterable[Event], entry: str, event: LifecycleEvent) -> float:
    for e in history:
        if isinstance(e, Transitioned) and e.entry == entry and e.event is event:
            return e.at
    return math.inf


def times(history: Iterable[Event], entry: str, event: LifecycleEvent) -> list[float]:
    return [
        e.at
        for e in history
        if isinstance(e, Transitioned) and e.entry == entry and e.event is event
    ]


def spawn_times(history: Iterable[Event], entry: str) -> list[float]:
    return [e.at for e in history if isinstance(e, ProcessSpawned) and e.entry == entry]


def check_invariants(specs: Sequence[EntrySpec], history: Sequence[Event]) -> None:
    """Replay a run's history and assert invariants 1, 2, 3, 5 and 6 of SPEC section 8.

    Raises AssertionError("invariant N: ...") at the first violation.
    """
    dependencies = {s.id: s.requires for s in specs}
    dependents: dict[str, list[str]] = defaultdict(list)
    for spec in specs:
        for required in spec.requires:
            dependents[required].append(spec.id)
    allowed = ALLOWED
    kinds = {s.id: s.kind for s in specs}
    states = dict.fromkeys(dependencies, LifecycleState.WAITING)
    live = dict.fromkeys(dependencies, 0)
    step: int | None = None

    def check_step_boundary() -> None:
        for entry, state in states.items():
            if state in ACTIVE_STATES:
                lost = [d for d in dependencies[entry] if states[d] is not READY]
                assert not lost, (
                    f"invariant 6: {entry} is {state.value} while its dependencies "
                    f"{lost} are not ready (after step {step})"
                )

    for event in history:
        if isinstance(event, Transitioned):
            if event.step != step:
                check_step_boundary()
                step = event.step
            entry = event.entry
            assert states[entry] is event.source, (
                f"history out of order: {entry} was {states[entry].value}, "
                f"event says {event.source.value}"
            )
            row = (event.source, event.event, event.dest)
            assert row in allowed[kinds[entry]], (
                f"invariant 5: {entry} took {event.source.value} --{event.event.value}--> "
                f"{event.dest.value}, which the table does not allow"
            )
            if event.event is LifecycleEvent.LAUNCH:
                pending = [d for d in dependencies[entry] if states[d] is not READY]
                assert not pending, (
                    f"invariant 2: {entry} launched at {event.at:g} while {pending} not ready"
                )
            if event.event is LifecycleEvent.SIGNAL:
                running = [d for d in dependents[entry] if states[d] in RUNNING_STATES]
                assert not running, (
                    f"invariant 1: {entry} signalled at {event.at:g} while its dependents "
                    f"{running} still run"
                )
            states[entry] = event.dest
        elif isinstance(event, ProcessSpawned):
            live[event.entry] += 1
            assert live[event.entry] <= 1, (
                f"invariant 3: {event.entry} has {live[event.entry]} live processes at {event.at:g}"
            )
        elif isinstance(event, ProcessExited):
            live[event.entry] -= 1
    check_step_boundary()
