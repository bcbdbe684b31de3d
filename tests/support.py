"""Building blocks for the tests: controllable entries, and the invariant checker
(`coordinator.testing.check_invariants`)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import anyio

from coordinator import (
    Event,
    ExecFn,
    HealthCheckResult,
    ProcessSpawned,
    Transitioned,
)
from coordinator.testing import check_invariants as check_invariants
from statemachines import LifecycleEvent


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
