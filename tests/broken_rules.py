"""Coordinators with one rule broken on purpose, for the teeth tests: each
function breaks one piece for the rest of a test (through `monkeypatch`).

The tables are replaced, not edited: a system built afterwards runs the
broken table (`shared_machine` and `state_triggered_events` read it then)."""

from __future__ import annotations

from dataclasses import replace

import pytest

import statemachines._lifecycle as lifecycle
from coordinator._entry import Entry
from coordinator._running import RunningDaemons
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


# Operator actions (docs/spec.md section 10): each of these only shows when an
# operator stops, starts or restarts an entry.


def forget_the_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    """Invariant 5: the table forgets the guard `held`, so a held entry that
    has stopped goes back to `waiting` and is launched again once its
    dependencies are (or become) ready. (Only the `launch` row's `unless held`
    would change nothing: a held entry is never `waiting`.)"""
    broken = tuple(
        replace(t, unless=tuple(g for g in t.unless if g is not Guard.HELD))
        for t in lifecycle.TRANSITIONS
        if Guard.HELD not in t.conditions
    )
    monkeypatch.setattr(lifecycle, "TRANSITIONS", broken)


def signal_a_restarting_entry_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Invariant 1: an entry that an operator restarted is signalled without
    waiting for its dependents; any other stop still waits for them."""
    # The entries restarted, by identity (kept, so that no other takes their id).
    restarted: dict[int, Entry] = {}
    restart = RunningDaemons.restart
    no_dependent_running = Entry.no_dependent_running

    async def restart_and_remember(self: RunningDaemons, entry_id: str) -> None:
        entry = self._entry(entry_id)
        restarted[id(entry)] = entry
        await restart(self, entry_id)

    def no_dependent_running_unless_restarted(self: Entry) -> bool:
        return id(self) in restarted or no_dependent_running(self)

    monkeypatch.setattr(RunningDaemons, "restart", restart_and_remember)
    monkeypatch.setattr(Entry, "no_dependent_running", no_dependent_running_unless_restarted)


def let_a_start_through_term(monkeypatch: pytest.MonkeyPatch) -> None:
    """Invariant 5: `start()` after `term()` releases a held entry from
    `stopped`, which is final once terminating. Both layers are broken: the
    action's refusal (`SystemTerminatingError`) and the `release` row's
    `unless terminating`; either alone keeps the entry stopped."""

    def begin_even_when_terminating(
        self: RunningDaemons, action: str, entry_id: str
    ) -> tuple[Entry, int]:
        entry = self._entry(entry_id)
        entry.operator_actions += 1
        return entry, entry.operator_actions

    broken = tuple(
        replace(t, unless=tuple(g for g in t.unless if g is not Guard.TERMINATING))
        if t.event is LifecycleEvent.RELEASE
        else t
        for t in lifecycle.TRANSITIONS
    )
    monkeypatch.setattr(RunningDaemons, "_begin_action", begin_even_when_terminating)
    monkeypatch.setattr(lifecycle, "TRANSITIONS", broken)
