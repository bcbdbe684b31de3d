"""The machines `new_machine` builds hold the table and nothing else: no
model of their own, no state beyond the lifecycle's, no event beyond the
table's (`transitions` adds `to_<state>` events unless told not to). Written
for the survivors of `make mutate` (docs/testing.md)."""

from __future__ import annotations

import pytest

from statemachines import EntryKind, LifecycleEvent, LifecycleState, new_machine


@pytest.mark.parametrize("kind", list(EntryKind))
def test_a_new_machine_holds_only_the_table(kind: EntryKind) -> None:
    machine = new_machine(kind)
    assert machine.models == []
    assert machine.initial == LifecycleState.WAITING.name
    assert set(machine.states) == {state.name for state in LifecycleState}
    assert set(machine.events) <= {event.value for event in LifecycleEvent}
    assert not any(name.startswith("to_") for name in machine.events)
