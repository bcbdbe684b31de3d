"""The properties have teeth: each invariant fails against a coordinator with
one piece deliberately broken, both on a hand-picked system and when
Hypothesis searches for a counterexample on its own."""

from __future__ import annotations

import anyio
import pytest
from hypothesis import HealthCheck, given, settings

from coordinator import ExecFn, ProcessSpawned
from coordinator._entry import Entry
from coordinator._options import Exec
from coordinator._process_handle import ExitStatus, FunctionProcess, ProcessHandle
from coordinator._supervisor import EntrySupervisor
from statemachines import EntryKind

from . import broken_rules
from .scenarios import EntryPlan, Scenario, run_scenario, scenarios

# `make quick` leaves these out: Hypothesis searches for counterexamples, hundreds of examples each.
pytestmark = pytest.mark.slow

D, C = EntryKind.DAEMON, EntryKind.CHECK


def plan(kind: EntryKind, requires: tuple[int, ...] = (), **changes: object) -> EntryPlan:
    fields: dict[str, object] = {
        "stop_delay": 1,
        "grace": 0,
        "healthy_at_start": True,
        "flips": (),
        "crash_after": None,
        "failing_runs": 0,
        "stubborn": False,
    }
    fields.update(changes)
    return EntryPlan(kind, requires, **fields)  # type: ignore[arg-type]


def hypothesis_finds(message: str) -> None:
    """Hypothesis, unaided, finds a system that violates the invariant."""

    @settings(
        max_examples=300,
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=False,
        suppress_health_check=list(HealthCheck),
    )
    @given(scenario=scenarios())
    def prop(scenario: Scenario) -> None:
        run_scenario(scenario, "trio")

    with pytest.raises(AssertionError, match=message):
        prop()


def test_invariant_1_needs_the_wait_for_dependents_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    broken_rules.skip_the_wait_for_dependents(monkeypatch)
    chain = Scenario((plan(D), plan(D, (0,))), term_at=5)
    with pytest.raises(AssertionError, match="invariant 1: e0 signalled"):
        run_scenario(chain, "trio")
    hypothesis_finds("invariant 1")


def test_invariant_2_needs_the_dependency_guard_on_launch(monkeypatch: pytest.MonkeyPatch) -> None:
    broken_rules.skip_the_dependency_guard(monkeypatch)
    slow_root = Scenario((plan(C, healthy_at_start=False, flips=(4,)), plan(D, (0,))), term_at=8)
    with pytest.raises(AssertionError, match="invariant 2: e1 launched"):
        run_scenario(slow_root, "trio")
    hypothesis_finds("invariant 2")


def test_invariant_3_catches_a_duplicate_process(monkeypatch: pytest.MonkeyPatch) -> None:
    run_process = EntrySupervisor._run_process

    async def run_process_with_a_leak(
        self: EntrySupervisor, entry: Entry, exec_: Exec
    ) -> tuple[ExitStatus, ProcessHandle | None]:
        # The broken piece: a second instance, started and never stopped.
        assert isinstance(exec_, ExecFn)
        FunctionProcess(exec_, None, self._tasks.group, "leak", lambda error: None)
        self._record(ProcessSpawned(anyio.current_time(), entry.spec.id, None))
        return await run_process(self, entry, exec_)

    monkeypatch.setattr(EntrySupervisor, "_run_process", run_process_with_a_leak)
    with pytest.raises(AssertionError, match="invariant 3: e0 has 2 live processes"):
        run_scenario(Scenario((plan(D),), term_at=3), "trio")
    hypothesis_finds("invariant 3")


def test_invariant_5_catches_a_row_the_table_does_not_have(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken_rules.add_a_row_to_the_table(monkeypatch)
    flapping = Scenario((plan(C, flips=(2,)),), term_at=10)
    with pytest.raises(
        AssertionError, match="invariant 5: e0 took failing --unhealthy--> starting"
    ):
        run_scenario(flapping, "trio")
    hypothesis_finds("invariant 5")


def test_invariant_6_needs_the_dependency_lost_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    broken_rules.drop_the_dependency_lost_rule(monkeypatch)
    losing_root = Scenario((plan(C, flips=(3,)), plan(D, (0,))), term_at=10)
    with pytest.raises(AssertionError, match="invariant 6: e1 is"):
        run_scenario(losing_root, "trio")
    hypothesis_finds("invariant 6")
