"""verify and explore have teeth: for each invariant, a coordinator with one
rule deliberately broken is caught by both, with a counterexample that
names the invariant."""

from __future__ import annotations

import anyio
import pytest

from coordinator import Command, Daemons, HealthCheckResult, ProcessSpawned, Ready
from coordinator._entry import Entry
from coordinator._options import Exec
from coordinator._process_handle import ExitStatus, ProcessHandle
from coordinator._supervisor import EntrySupervisor
from coordinator.testing import ExplorationError, Faults, VerificationError, explore, verify

from . import broken_rules

# `make quick` leaves these out: verify() searches hundreds of fault schedules.
pytestmark = pytest.mark.slow


def ok() -> HealthCheckResult:
    return HealthCheckResult.success()


def pair() -> Daemons:
    """A web server that requires a database; both checked, SIGTERM timeouts of 5 s."""
    return (
        Daemons.of()
        .add_daemon("db", exec=Command(["db"], sigterm_timeout=5), ready=Ready("DB", ok))
        .add_daemon(
            "web",
            exec=Command(["web"], sigterm_timeout=5),
            ready=Ready("Web", ok),
            requires=["db"],
        )
    )


def caught_by_both(invariant: int, *, explore_too: bool = True) -> tuple[str, str]:
    with pytest.raises(VerificationError, match=f"^invariant {invariant}:") as by_verify:
        verify(pair(), max_examples=200)
    if not explore_too:
        return str(by_verify.value), ""
    with pytest.raises(ExplorationError, match=f"^invariant {invariant}:") as by_explore:
        explore(pair())
    return str(by_verify.value), str(by_explore.value)


def test_invariant_1_needs_the_wait_for_dependents(monkeypatch: pytest.MonkeyPatch) -> None:
    broken_rules.skip_the_wait_for_dependents(monkeypatch)
    verified, explored = caught_by_both(1)
    assert "db signalled at" in verified
    assert "while its dependents web still run" in verified
    # The explorer's path is a shortest one: everything up, then term().
    assert "term()" in explored.split("Timeline")[0]


def test_invariant_2_needs_the_dependency_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    broken_rules.skip_the_dependency_guard(monkeypatch)
    verified, explored = caught_by_both(2)
    assert "web launched at 0 while db was not ready" in verified
    assert "Path (the explorer's choices, in order):" in explored


def test_invariant_3_catches_a_second_process(monkeypatch: pytest.MonkeyPatch) -> None:
    run_process = EntrySupervisor._run_process

    async def run_process_with_a_leak(
        self: EntrySupervisor, entry: Entry, exec_: Exec
    ) -> tuple[ExitStatus, ProcessHandle | None]:
        # The broken piece: a second instance, started through the spawn
        # function the system was built with (the simulation's), never stopped.
        assert isinstance(exec_, Command)
        leaked = await self._spawn(exec_, self._spawn_settings(entry))
        self._record(ProcessSpawned(anyio.current_time(), entry.spec.id, leaked.pid))
        return await run_process(self, entry, exec_)

    monkeypatch.setattr(EntrySupervisor, "_run_process", run_process_with_a_leak)
    verified, explored = caught_by_both(3)
    assert "invariant 3: db has 2 live processes" in verified
    assert "invariant 3: db" in explored


def test_invariant_4_catches_a_late_sigkill(monkeypatch: pytest.MonkeyPatch) -> None:
    terminate = EntrySupervisor._terminate

    def terminate_with_a_late_kill(
        self: EntrySupervisor, entry: Entry, process: ProcessHandle
    ) -> float:
        terminate(self, entry, process)
        entry.kill_at = anyio.current_time() + 2 * process.sigterm_timeout
        return entry.kill_at

    monkeypatch.setattr(EntrySupervisor, "_terminate", terminate_with_a_late_kill)
    verified, explored = caught_by_both(4)
    assert "term() took 20 s, more than its bound of 10 s along web -> db" in verified
    assert "more than its bound of 10 s" in explored


def test_invariant_4_catches_children_left_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    run_process = EntrySupervisor._run_process

    async def run_process_forgetting_leftovers(
        self: EntrySupervisor, entry: Entry, exec_: Exec
    ) -> tuple[ExitStatus, ProcessHandle | None]:
        status, _ = await run_process(self, entry, exec_)
        return status, None

    monkeypatch.setattr(EntrySupervisor, "_run_process", run_process_forgetting_leftovers)
    # The explorer's processes have no children to leave; the simulation's do.
    with pytest.raises(VerificationError, match=r"^invariant [34]:") as caught:
        verify(pair(), max_examples=200)
    assert "leaving a child behind" in str(caught.value)


def test_invariant_5_catches_a_row_the_table_does_not_have(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken_rules.add_a_row_to_the_table(monkeypatch)
    verified, explored = caught_by_both(5)
    assert "failing --unhealthy--> starting" in verified
    assert "failing --unhealthy--> starting" in explored


def test_invariant_6_needs_the_dependency_lost_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    broken_rules.drop_the_dependency_lost_rule(monkeypatch)
    verified, explored = caught_by_both(6)
    assert "invariant 6: web is" in verified
    assert "while its dependencies db are not ready" in explored


# Operator actions (docs/spec.md section 10): each broken rule shows only
# when an operator stops, starts or restarts an entry.


def test_a_held_entry_is_not_launched_again(monkeypatch: pytest.MonkeyPatch) -> None:
    broken_rules.forget_the_hold(monkeypatch)
    verified, explored = caught_by_both(5)
    assert "launched at" in verified and "while an operator holds it" in verified
    assert "operator calls running.stop(" in verified
    assert "operator stops" in explored.split("Timeline")[0]


def test_a_restart_waits_for_the_dependents(monkeypatch: pytest.MonkeyPatch) -> None:
    broken_rules.signal_a_restarting_entry_at_once(monkeypatch)
    # Without operator actions the break is invisible: only a restart reveals it.
    verify(pair(), max_examples=200, faults=Faults(operator_actions=False))
    explore(pair(), operator_actions=0)
    verified, explored = caught_by_both(1)
    assert "db signalled at" in verified and "while its dependents web still run" in verified
    assert "operator calls running.restart('db')" in verified
    assert "operator restarts db" in explored.split("Timeline")[0]


def test_stopped_stays_final_once_terminating(monkeypatch: pytest.MonkeyPatch) -> None:
    broken_rules.let_a_start_through_term(monkeypatch)
    with pytest.raises(VerificationError, match=r"^invariant 5:") as by_verify:
        verify(pair(), max_examples=200)
    assert "stopped --release--> waiting while terminating" in str(by_verify.value)
    # A held entry, term(), then a start: two actions along one path.
    with pytest.raises(ExplorationError, match=r"^invariant 5:") as by_explore:
        explore(pair(), operator_actions=2)
    explored = str(by_explore.value)
    assert "stopped --release--> waiting while terminating" in explored
    path = explored.split("Timeline")[0]
    assert path.index("operator stops") < path.index("term()") < path.index("operator starts")
