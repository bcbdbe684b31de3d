"""What the invariant checker reports, exactly: which invariant, the message,
the entries, the moment and the count of events, on short hand-written
histories. Written for the survivors of `make mutate` (docs/testing.md): the
rest of the suite only ever sees the checker pass, or fail somewhere."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from coordinator import Daemons, ProcessExited, ProcessSpawned, Ready, Transitioned
from coordinator._options import EntrySpec
from coordinator.testing import InvariantViolation, check_invariants
from coordinator.testing._invariants import HistoryReplay
from statemachines import LifecycleEvent as E
from statemachines import LifecycleState as S

from .support import Switch, forever


def db_and_app() -> Sequence[EntrySpec]:
    """app requires db."""
    return (
        Daemons.of()
        .add_daemon("db", exec=forever(), ready=Ready("DB", Switch()))
        .add_daemon("app", exec=forever(), ready=Ready("App", Switch()), requires=["db"])
        .entries
    )


def t(at: float, entry: str, event: E, source: S, dest: S, step: int) -> Transitioned:
    return Transitioned(at=at, entry=entry, event=event, source=source, dest=dest, step=step)


def spawned(at: float, entry: str) -> ProcessSpawned:
    return ProcessSpawned(at=at, entry=entry, pid=None)


def exited(at: float, entry: str) -> ProcessExited:
    return ProcessExited(
        at=at, entry=entry, pid=None, returncode=0, clean=True, description="exited"
    )


DB_READY = [
    t(1.0, "db", E.LAUNCH, S.WAITING, S.STARTING, 1),
    t(2.0, "db", E.HEALTHY, S.STARTING, S.READY, 2),
]


def violation(
    history: list[object], specs: Sequence[EntrySpec] | None = None
) -> InvariantViolation:
    with pytest.raises(InvariantViolation) as caught:
        check_invariants(specs or db_and_app(), history)  # type: ignore[arg-type]
    return caught.value


def test_a_sound_history_passes() -> None:
    check_invariants(
        db_and_app(),
        [
            *DB_READY,
            t(3.0, "app", E.LAUNCH, S.WAITING, S.STARTING, 3),
            spawned(3.0, "app"),
            exited(4.0, "app"),
            spawned(4.5, "app"),
        ],
    )


def test_invariant_2_a_launch_before_the_dependency_is_ready() -> None:
    found = violation(
        [DB_READY[0], t(1.5, "app", E.LAUNCH, S.WAITING, S.STARTING, 2)],
    )
    assert (found.invariant, found.entries, found.at, found.events) == (
        2,
        ("app", "db"),
        1.5,
        2,
    )
    assert str(found) == "invariant 2: app launched at 1.5 while db was not ready"


def test_invariant_2_names_every_dependency_not_ready() -> None:
    specs = (
        Daemons.of()
        .add_daemon("a", exec=forever(), ready=Ready("A", Switch()))
        .add_daemon("b", exec=forever(), ready=Ready("B", Switch()))
        .add_daemon("c", exec=forever(), ready=Ready("C", Switch()), requires=["a", "b"])
        .entries
    )
    found = violation([t(0.5, "c", E.LAUNCH, S.WAITING, S.STARTING, 1)], specs)
    assert str(found) == "invariant 2: c launched at 0.5 while a, b were not ready"
    assert found.entries == ("c", "a", "b")


def test_invariant_1_a_signal_while_a_dependent_runs() -> None:
    found = violation(
        [
            *DB_READY,
            t(3.0, "app", E.LAUNCH, S.WAITING, S.STARTING, 3),
            t(4.0, "db", E.TERM, S.READY, S.STOPPING, 4),
            t(4.0, "db", E.SIGNAL, S.STOPPING, S.STOPPING, 4),
        ],
    )
    assert (found.invariant, found.entries, found.at, found.events) == (
        1,
        ("db", "app"),
        4.0,
        5,
    )
    assert str(found) == "invariant 1: db signalled at 4 while its dependents app still run"


def test_invariant_3_two_live_processes_and_the_exit_between() -> None:
    found = violation([*DB_READY, spawned(2.5, "db"), spawned(2.75, "db")])
    assert (found.invariant, found.entries, found.at, found.events) == (3, ("db",), 2.75, 4)
    assert str(found) == "invariant 3: db has 2 live processes at 2.75"
    # An exit in between makes room for exactly one more.
    check_invariants(db_and_app(), [spawned(1, "db"), exited(2, "db"), spawned(3, "db")])
    with pytest.raises(InvariantViolation, match="db has 2 live"):
        check_invariants(
            db_and_app(),
            [spawned(1, "db"), exited(2, "db"), spawned(3, "db"), spawned(4, "db")],
        )


def test_invariant_5_a_row_the_table_does_not_have() -> None:
    found = violation([t(0.25, "db", E.HEALTHY, S.WAITING, S.READY, 1)])
    assert (found.invariant, found.entries, found.at, found.events) == (5, ("db",), 0.25, 1)
    assert str(found) == (
        "invariant 5: db took waiting --healthy--> ready, which the table does not allow (at 0.25)"
    )


def test_invariant_6_is_checked_between_steps_only() -> None:
    lost = [
        *DB_READY,
        t(3.0, "app", E.LAUNCH, S.WAITING, S.STARTING, 3),
        t(4.0, "db", E.UNHEALTHY, S.READY, S.FAILING, 4),
    ]
    # Within step 4 the coordinator has yet to stop app: not a violation yet.
    replay = HistoryReplay(db_and_app())
    replay.feed(lost)
    # The step ends with the history, and app is still starting: a violation.
    with pytest.raises(InvariantViolation) as caught:
        replay.end_of_step()
    found = caught.value
    assert (found.invariant, found.entries, found.at, found.events) == (
        6,
        ("app", "db"),
        4.0,
        4,
    )
    assert str(found) == (
        "invariant 6: app is starting while its dependencies db are not ready (at 4)"
    )
    # The same, when the next step begins without app stopped.
    found = violation([*lost, t(5.0, "db", E.HEALTHY, S.FAILING, S.READY, 5)])
    assert (found.invariant, found.at, found.events) == (6, 5.0, 5)
    # And no violation when app is stopped in the same step.
    check_invariants(
        db_and_app(),
        [*lost, t(4.0, "app", E.DEPENDENCY_LOST, S.STARTING, S.STOPPING, 4)],
    )


def test_a_history_out_of_order_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="history out of order: db was waiting, event says ready"):
        check_invariants(db_and_app(), [t(1.0, "db", E.UNHEALTHY, S.READY, S.FAILING, 1)])


def test_a_fresh_replay_has_seen_nothing() -> None:
    replay = HistoryReplay(db_and_app())
    assert (replay.step, replay.now, replay.events) == (None, 0.0, 0)
    assert replay.states == {"db": S.WAITING, "app": S.WAITING}
    assert replay.live == {"db": 0, "app": 0}
    # A violation before any event is at time 0, after 0 events.
    replay.states["app"] = S.READY
    with pytest.raises(InvariantViolation) as caught:
        replay.end_of_step()
    assert (caught.value.at, caught.value.events) == (0.0, 0)


def test_invariants_1_and_6_name_every_entry_involved() -> None:
    specs = (
        Daemons.of()
        .add_daemon("a", exec=forever(), ready=Ready("A", Switch()))
        .add_daemon("b", exec=forever(), ready=Ready("B", Switch()))
        .add_daemon("c", exec=forever(), ready=Ready("C", Switch()), requires=["a", "b"])
        .add_daemon("d", exec=forever(), ready=Ready("D", Switch()), requires=["a"])
    )
    entries = specs.entries
    ready = [
        t(1.0, "a", E.LAUNCH, S.WAITING, S.STARTING, 1),
        t(1.0, "b", E.LAUNCH, S.WAITING, S.STARTING, 1),
        t(2.0, "a", E.HEALTHY, S.STARTING, S.READY, 2),
        t(2.0, "b", E.HEALTHY, S.STARTING, S.READY, 2),
        t(3.0, "c", E.LAUNCH, S.WAITING, S.STARTING, 3),
        t(3.0, "d", E.LAUNCH, S.WAITING, S.STARTING, 3),
    ]
    found = violation(
        [
            *ready,
            t(4.0, "a", E.TERM, S.READY, S.STOPPING, 4),
            t(4.0, "a", E.SIGNAL, S.STOPPING, S.STOPPING, 4),
        ],
        entries,
    )
    assert str(found) == "invariant 1: a signalled at 4 while its dependents c, d still run"
    assert found.entries == ("a", "c", "d")
    found = violation(
        [
            *ready,
            t(4.0, "a", E.UNHEALTHY, S.READY, S.FAILING, 4),
            t(4.0, "b", E.UNHEALTHY, S.READY, S.FAILING, 4),
            t(4.0, "d", E.DEPENDENCY_LOST, S.STARTING, S.STOPPING, 4),
            t(5.0, "a", E.HEALTHY, S.FAILING, S.READY, 5),
        ],
        entries,
    )
    assert str(found) == (
        "invariant 6: c is starting while its dependencies a, b are not ready (at 5)"
    )
    assert found.entries == ("c", "a", "b")
