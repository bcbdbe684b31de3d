"""The invariant checker on short hand-written histories: for each invariant,
one that keeps it and one that breaks it, the break in the last step of a
history cut short (no `term()`), where nothing after it could give it away."""

from __future__ import annotations

import pytest

from coordinator import (
    Daemons,
    Event,
    ProcessExited,
    ProcessSpawned,
    Ready,
    Transitioned,
)
from coordinator.testing import InvariantViolation, check_invariants
from statemachines import LifecycleEvent, LifecycleState

from .support import Switch, forever

E = LifecycleEvent
W, S, R, F, X, D = (
    LifecycleState.WAITING,
    LifecycleState.STARTING,
    LifecycleState.READY,
    LifecycleState.FAILING,
    LifecycleState.STOPPING,
    LifecycleState.STOPPED,
)

# db <- web: web requires db.
SPECS = (
    Daemons.of()
    .add_daemon("db", exec=forever(), ready=Ready("Database", Switch()))
    .add_daemon("web", exec=forever(), ready=Ready("Web", Switch()), requires=["db"])
    .entries
)

Move = tuple[str, LifecycleEvent, LifecycleState, LifecycleState]


class History:
    """Events as the coordinator records them: each step one second after the last."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.number = 0
        self.pids = 100

    def step(self, *moves: Move) -> History:
        self.number += 1
        for entry, event, source, dest in moves:
            self.events.append(Transitioned(self.number, entry, event, source, dest, self.number))
            if event is E.LAUNCH:
                self.spawn(entry)
        return self

    def spawn(self, entry: str) -> History:
        self.pids += 1
        self.events.append(ProcessSpawned(self.number, entry, self.pids))
        return self

    def exit(self, entry: str) -> History:
        pid = [e.pid for e in self.events if isinstance(e, ProcessSpawned) and e.entry == entry][-1]
        self.events.append(ProcessExited(self.number, entry, pid, 0, True, "signal SIGTERM"))
        return self


def both_ready() -> History:
    return (
        History()
        .step(("db", E.LAUNCH, W, S))
        .step(("db", E.HEALTHY, S, R), ("web", E.LAUNCH, W, S))
        .step(("web", E.HEALTHY, S, R))
    )


def term(history: History) -> History:
    """The ordered shutdown from both ready: web, then db."""
    return (
        history.step(("web", E.TERM, R, X), ("db", E.TERM, R, X), ("web", E.SIGNAL, X, X))
        .exit("web")
        .step(("web", E.GONE, X, D), ("db", E.SIGNAL, X, X))
        .exit("db")
        .step(("db", E.GONE, X, D))
    )


def violation(history: History) -> InvariantViolation:
    with pytest.raises(InvariantViolation) as raised:
        check_invariants(SPECS, history.events)
    return raised.value


def test_histories_that_keep_every_invariant_pass() -> None:
    check_invariants(SPECS, [])
    check_invariants(SPECS, both_ready().events)
    check_invariants(SPECS, term(both_ready()).events)
    # A dependency lost: its dependent stops in the same step, then starts again.
    lost = (
        both_ready()
        .step(("db", E.UNHEALTHY, R, F), ("web", E.DEPENDENCY_LOST, R, X), ("web", E.SIGNAL, X, X))
        .exit("web")
        .step(("web", E.GONE, X, W))
        .step(("db", E.HEALTHY, F, R), ("web", E.LAUNCH, W, S))
    )
    check_invariants(SPECS, lost.events)
    check_invariants(SPECS, term(lost.step(("web", E.HEALTHY, S, R))).events)


def test_invariant_1_a_dependency_signalled_while_its_dependent_runs() -> None:
    history = both_ready().step(("web", E.TERM, R, X), ("db", E.TERM, R, X), ("db", E.SIGNAL, X, X))
    found = violation(history)
    assert found.invariant == 1
    assert str(found) == "invariant 1: db signalled at 4 while its dependents web still run"
    assert found.entries == ("db", "web")
    assert (found.at, found.events) == (4, len(history.events))


def test_invariant_2_a_launch_while_a_dependency_is_not_ready() -> None:
    history = History().step(("db", E.LAUNCH, W, S), ("web", E.LAUNCH, W, S))
    found = violation(history)
    assert found.invariant == 2
    assert str(found) == "invariant 2: web launched at 1 while db was not ready"
    assert found.entries == ("web", "db")


def test_invariant_3_a_second_live_process() -> None:
    check_invariants(SPECS, both_ready().exit("db").spawn("db").events)  # a restart
    history = both_ready().spawn("db")
    found = violation(history)
    assert found.invariant == 3
    assert str(found) == "invariant 3: db has 2 live processes at 3"
    assert found.events == len(history.events)


def test_invariant_5_a_transition_the_table_does_not_have() -> None:
    history = both_ready().step(("web", E.HEALTHY, R, S))
    found = violation(history)
    assert found.invariant == 5
    assert "web took ready --healthy--> starting, which the table does not allow" in str(found)


def test_invariant_5_stopped_is_final() -> None:
    history = term(both_ready()).step(("db", E.LAUNCH, D, S))
    assert violation(history).invariant == 5


def test_invariant_5_nothing_goes_back_to_waiting_or_starts_once_terminating() -> None:
    # Rows the table has, but only while the system is not terminating.
    back = both_ready().step(("web", E.TERM, R, X), ("db", E.TERM, R, X), ("web", E.SIGNAL, X, X))
    found = violation(back.exit("web").step(("web", E.GONE, X, W)))
    assert found.invariant == 5
    assert "web took stopping --gone--> waiting while terminating" in str(found)
    # A waiting entry is stopped by term(), never launched afterwards.
    waiting = (
        History().step(("db", E.LAUNCH, W, S)).step(("db", E.TERM, S, X), ("web", E.TERM, W, D))
    )
    check_invariants(SPECS, waiting.events)
    found = violation(History().step(("web", E.TERM, W, D)).step(("db", E.LAUNCH, W, S)))
    assert found.invariant == 5
    assert "db took waiting --launch--> starting while terminating" in str(found)


def held_and_stopped() -> History:
    """An operator's stop of db (docs/spec.md section 10): web first, then db, held."""
    return (
        both_ready()
        .step(("db", E.HOLD, R, X), ("web", E.DEPENDENCY_LOST, R, X), ("web", E.SIGNAL, X, X))
        .exit("web")
        .step(("web", E.GONE, X, W), ("db", E.SIGNAL, X, X))
        .exit("db")
        .step(("db", E.GONE, X, D))
    )


def test_operator_actions_keep_the_invariants() -> None:
    # A held entry stopped before term() is not a shutdown: it may be released.
    stopped = held_and_stopped()
    check_invariants(SPECS, stopped.events)
    started = stopped.step(("db", E.RELEASE, D, W), ("db", E.LAUNCH, W, S))
    check_invariants(SPECS, started.events)
    # A restart: held and released in one step, then back to waiting and launched.
    restarted = (
        both_ready()
        .step(("web", E.HOLD, R, X), ("web", E.RELEASE, X, X), ("web", E.SIGNAL, X, X))
        .exit("web")
        .step(("web", E.GONE, X, W), ("web", E.LAUNCH, W, S))
    )
    check_invariants(SPECS, restarted.events)
    # term() with db held: web is stopped, db stays stopped.
    check_invariants(
        SPECS,
        stopped.step(("web", E.TERM, W, D)).events,
    )


def test_invariant_5_a_held_entry_launched() -> None:
    history = both_ready().step(("web", E.HOLD, R, X), ("web", E.SIGNAL, X, X))
    history = history.exit("web").step(("web", E.GONE, X, W), ("web", E.LAUNCH, W, S))
    found = violation(history)
    assert found.invariant == 5
    assert "web launched at 5 while an operator holds it" in str(found)


def test_invariant_5_stopped_is_final_once_terminating_even_for_a_held_entry() -> None:
    history = held_and_stopped().step(("web", E.TERM, W, D)).step(("db", E.RELEASE, D, W))
    found = violation(history)
    assert found.invariant == 5
    assert "db took stopped --release--> waiting while terminating" in str(found)


def test_invariant_6_a_dependent_left_running_in_the_last_step() -> None:
    # The step that makes db fail forgets web: nothing follows to end the step.
    history = both_ready().step(("db", E.UNHEALTHY, R, F))
    found = violation(history)
    assert found.invariant == 6
    assert str(found) == "invariant 6: web is ready while its dependencies db are not ready (at 4)"
    assert found.entries == ("web", "db")


def test_invariant_6_a_dependent_left_running_in_an_earlier_step() -> None:
    history = both_ready().step(("db", E.UNHEALTHY, R, F)).step(("db", E.HEALTHY, F, R))
    assert violation(history).invariant == 6


def test_invariant_4_a_process_never_seen_to_exit_although_everything_stopped() -> None:
    history = (
        both_ready()
        .step(("web", E.TERM, R, X), ("db", E.TERM, R, X), ("web", E.SIGNAL, X, X))
        .exit("web")
        .step(("web", E.GONE, X, D), ("db", E.SIGNAL, X, X))
        .step(("db", E.GONE, X, D))  # and db's process never exited
    )
    found = violation(history)
    assert found.invariant == 4
    assert str(found) == "invariant 4: db stopped at 6 with its process 101 still alive"
