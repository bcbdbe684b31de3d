"""Invariants 1, 2, 3, 5 and 6 of the specification, checked on a run's history.

The checker replays the recorded events against its own copy of the
lifecycle table, taken when this module is imported, so that a test that
breaks the table cannot also break the checker. Invariant 4 (shutdown is
bounded and leaves nothing alive) is about time and processes, not about
the history alone: the simulator and the pytest fixture check it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from statemachines import (
    ACTIVE_STATES,
    RUNNING_STATES,
    EntryKind,
    LifecycleEvent,
    LifecycleState,
    transitions_for,
)

from .._events import Event, ProcessExited, ProcessSpawned, Transitioned
from .._options import EntrySpec

__all__ = ["InvariantViolation", "check_invariants"]

READY = LifecycleState.READY
ALLOWED = {
    kind: frozenset((t.source, t.event, t.dest or t.source) for t in transitions_for(kind))
    for kind in EntryKind
}


class InvariantViolation(AssertionError):
    """A run broke one of the specification's invariants.

    The message starts with `invariant N:`; `entries` names the entries
    involved and `at` is the moment of the violation (the run's clock).
    """

    def __init__(self, invariant: int, message: str, entries: Iterable[str], at: float) -> None:
        super().__init__(f"invariant {invariant}: {message}")
        self.invariant = invariant
        self.entries = tuple(entries)
        self.at = at


def check_invariants(specs: Sequence[EntrySpec], history: Sequence[Event]) -> None:
    """Replay a run's history and raise `InvariantViolation` at the first event
    that breaks invariant 1, 2, 3, 5 or 6.

    `specs` are the system's entries (`Daemons.entries`); `history` is
    `RunningDaemons.history` (or events read back with `load_events`).
    """
    dependencies = {s.id: s.requires for s in specs}
    dependents: dict[str, list[str]] = defaultdict(list)
    for spec in specs:
        for required in spec.requires:
            dependents[required].append(spec.id)
    kinds = {s.id: s.kind for s in specs}
    states = dict.fromkeys(dependencies, LifecycleState.WAITING)
    live = dict.fromkeys(dependencies, 0)
    step: int | None = None
    now = 0.0

    def check_step_boundary() -> None:
        # Within one step the coordinator moves several entries; invariant 6
        # holds between steps.
        for entry, state in states.items():
            if state in ACTIVE_STATES:
                lost = [d for d in dependencies[entry] if states[d] is not READY]
                if lost:
                    raise InvariantViolation(
                        6,
                        f"{entry} is {state.value} while its dependencies "
                        f"{', '.join(lost)} are not ready (at {now:g})",
                        [entry, *lost],
                        now,
                    )

    for event in history:
        now = event.at
        if isinstance(event, Transitioned):
            if event.step != step:
                check_step_boundary()
                step = event.step
            entry = event.entry
            if states[entry] is not event.source:
                raise ValueError(
                    f"history out of order: {entry} was {states[entry].value}, "
                    f"event says {event.source.value}"
                )
            if (event.source, event.event, event.dest) not in ALLOWED[kinds[entry]]:
                raise InvariantViolation(
                    5,
                    f"{entry} took {event.source.value} --{event.event.value}--> "
                    f"{event.dest.value}, which the table does not allow (at {now:g})",
                    [entry],
                    now,
                )
            if event.event is LifecycleEvent.LAUNCH:
                pending = [d for d in dependencies[entry] if states[d] is not READY]
                if pending:
                    raise InvariantViolation(
                        2,
                        f"{entry} launched at {now:g} while {', '.join(pending)} "
                        f"{'was' if len(pending) == 1 else 'were'} not ready",
                        [entry, *pending],
                        now,
                    )
            if event.event is LifecycleEvent.SIGNAL:
                running = [d for d in dependents[entry] if states[d] in RUNNING_STATES]
                if running:
                    raise InvariantViolation(
                        1,
                        f"{entry} signalled at {now:g} while its dependents "
                        f"{', '.join(running)} still run",
                        [entry, *running],
                        now,
                    )
            states[entry] = event.dest
        elif isinstance(event, ProcessSpawned):
            live[event.entry] += 1
            if live[event.entry] > 1:
                raise InvariantViolation(
                    3,
                    f"{event.entry} has {live[event.entry]} live processes at {now:g}",
                    [event.entry],
                    now,
                )
        elif isinstance(event, ProcessExited):
            live[event.entry] -= 1
    check_step_boundary()
