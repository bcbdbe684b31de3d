"""Coordinators with one rule broken on purpose, for the teeth tests: each
function breaks one piece for the rest of a test (through `monkeypatch`)."""

from __future__ import annotations

import pytest

import statemachines._lifecycle as lifecycle
from coordinator._entry import Entry
from coordinator._running import RunningDaemons
from statemachines import LifecycleEvent, LifecycleState, Transition


def skip_the_wait_for_dependents(monkeypatch: pytest.MonkeyPatch) -> None:
    """Invariant 1: an entry may be signalled while its dependents run."""
    monkeypatch.setattr(Entry, "no_dependent_running", lambda self: True)


def skip_the_dependency_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    """Invariant 2: an entry may launch before its dependencies are ready."""
    monkeypatch.setattr(Entry, "dependencies_ready", lambda self: True)


def add_a_row_to_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """Invariant 5: another failure while failing goes back to starting."""
    broken = tuple(
        Transition(t.source, t.event, LifecycleState.STARTING, t.conditions, t.unless, t.kinds)
        if (t.source, t.event) == (LifecycleState.FAILING, LifecycleEvent.UNHEALTHY)
        else t
        for t in lifecycle.TRANSITIONS
    )
    monkeypatch.setattr(lifecycle, "TRANSITIONS", broken)


def drop_the_dependency_lost_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """Invariant 6: dependents go on running when a dependency leaves ready."""
    settle = RunningDaemons._settle

    def settle_without_cascade(self: RunningDaemons, entry: Entry) -> None:
        if entry.state is not LifecycleState.WAITING and entry.state is not LifecycleState.STOPPING:
            return
        settle(self, entry)

    monkeypatch.setattr(RunningDaemons, "_settle", settle_without_cascade)
