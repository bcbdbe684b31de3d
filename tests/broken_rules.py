"""Coordinators with one rule broken on purpose, for the teeth tests: each
function breaks one piece for the rest of a test (through `monkeypatch`).

The tables are replaced, not edited: a system built afterwards runs the
broken table (`new_machine` and `state_triggered_events` read it then)."""

from __future__ import annotations

from dataclasses import replace

import pytest

import statemachines._lifecycle as lifecycle
from coordinator._entry import Entry
from statemachines import Guard, LifecycleEvent, LifecycleState


def skip_the_wait_for_dependents(monkeypatch: pytest.MonkeyPatch) -> None:
    """Invariant 1: an entry may be signalled while its dependents run."""
    monkeypatch.setattr(Entry, "no_dependent_running", lambda self: True)


def skip_the_dependency_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    """Invariant 2: an entry may launch before its dependencies are ready."""
    broken = tuple(
        replace(t, conditions=tuple(g for g in t.conditions if g is not Guard.DEPENDENCIES_READY))
        if t.event is LifecycleEvent.LAUNCH
        else t
        for t in lifecycle.TRANSITIONS
    )
    monkeypatch.setattr(lifecycle, "TRANSITIONS", broken)


def add_a_row_to_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """Invariant 5: another failure while failing goes back to starting."""
    broken = tuple(
        replace(t, dest=LifecycleState.STARTING)
        if (t.source, t.event) == (LifecycleState.FAILING, LifecycleEvent.UNHEALTHY)
        else t
        for t in lifecycle.TRANSITIONS
    )
    monkeypatch.setattr(lifecycle, "TRANSITIONS", broken)


def drop_the_dependency_lost_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """Invariant 6: dependents go on running when a dependency leaves ready."""
    broken = tuple(
        rule
        for rule in lifecycle.STATE_TRIGGERS
        if rule.event is not LifecycleEvent.DEPENDENCY_LOST
    )
    monkeypatch.setattr(lifecycle, "STATE_TRIGGERS", broken)
