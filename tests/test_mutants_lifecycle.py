"""The machines `new_machine` builds hold the table and nothing else: no
model of their own, no state beyond the lifecycle's, no event beyond the
table's (`transitions` adds `to_<state>` events unless told not to). Written
for the survivors of `make mutate` (docs/testing.md)."""

from __future__ import annotations

import pytest
from transitions import Machine

import statemachines._lifecycle as lifecycle
from statemachines import EntryKind, LifecycleEvent, LifecycleState, new_machine, shared_machine


@pytest.mark.parametrize("kind", list(EntryKind))
def test_a_new_machine_holds_only_the_table(kind: EntryKind) -> None:
    machine = new_machine(kind)
    assert machine.models == []
    assert machine.initial == LifecycleState.WAITING.name
    assert set(machine.states) == {state.name for state in LifecycleState}
    assert set(machine.events) <= {event.value for event in LifecycleEvent}
    assert not any(name.startswith("to_") for name in machine.events)


def _rows_of(machine: Machine) -> set[tuple[str, str, str | None]]:
    return {
        (source, name, row.dest)
        for name, event in machine.events.items()
        for source, rows in event.transitions.items()
        for row in rows
    }


@pytest.mark.parametrize("kind", list(EntryKind))
def test_a_shared_machine_is_built_once_per_table(
    kind: EntryKind, monkeypatch: pytest.MonkeyPatch
) -> None:
    machine = shared_machine(kind)
    assert shared_machine(kind) is machine
    assert machine.models == []
    assert _rows_of(machine) == _rows_of(new_machine(kind))
    # A test breaking the table replaces it: the next system gets the broken
    # rows, never the machine of the old table, and the old one once undone.
    broken = tuple(t for t in lifecycle.TRANSITIONS if t.event is not LifecycleEvent.LAUNCH)
    monkeypatch.setattr(lifecycle, "TRANSITIONS", broken)
    replaced = shared_machine(kind)
    assert replaced is not machine
    assert LifecycleEvent.LAUNCH.value not in replaced.events
    assert _rows_of(replaced) == _rows_of(new_machine(kind))
    monkeypatch.undo()
    assert LifecycleEvent.LAUNCH.value in shared_machine(kind).events
