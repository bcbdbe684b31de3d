"""Hypothesis: on random DAGs under random faults, the invariants of docs/spec.md section 8 hold.

Each example runs a real system (in-process entries) with random stop
durations, check flaps, crashes, failing oneshots, functions that ignore
cancellation and a random moment for `term()`, on both backends, and checks
invariants 1, 2, 3, 5 and 6 on its recorded history.
"""

from __future__ import annotations

import pytest
from hypothesis import event, example, given

from coordinator import ErrorReported, ProcessExited, Transitioned
from statemachines import EntryKind

from .scenarios import EntryPlan, Scenario, run_scenario, scenarios

BACKENDS = ["asyncio", "trio"]

CHAIN_OF_TWO = Scenario(
    (
        EntryPlan(EntryKind.DAEMON, (), 1, 0, True, (), None, 0, False),
        EntryPlan(EntryKind.DAEMON, (0,), 1, 0, True, (), None, 0, False),
    ),
    term_at=5,
)


@pytest.mark.parametrize("backend", BACKENDS)
@given(scenario=scenarios())
@example(scenario=CHAIN_OF_TWO)
def test_invariants_hold_on_random_systems_under_faults(backend: str, scenario: Scenario) -> None:
    history = run_scenario(scenario, backend)
    # Labels in --hypothesis-show-statistics: proof that the faults happen.
    seen = {e.event.value for e in history if isinstance(e, Transitioned)}
    for label in ("dependency_lost", "unhealthy", "give_up", "signal"):
        event(f"{label}: {label in seen}")
    event(f"abandoned: {any(isinstance(e, ErrorReported) for e in history)}")
    event(f"crashed: {any(isinstance(e, ProcessExited) and not e.clean for e in history)}")
