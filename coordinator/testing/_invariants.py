"""Invariants 1, 2, 3, 5 and 6 of the contract (docs/spec.md section 8), checked on a run's history.

The checker replays the recorded events against its own copy of the
lifecycle table, taken when this module is imported, so that a test that
breaks the table cannot also break the checker. Invariant 4 (shutdown is
bounded and leaves nothing alive) is about time and processes, not about
the history alone: the simulator and the pytest fixture check it. Its part
that the history shows is checked here: no entry is `gone` while its
process has not been seen to exit.

Operator actions (docs/spec.md section 10) show in the history as `hold`
and `release` (and a daemon ended by its restart policy as `finish`, which
holds it too): the replay follows which entries are held, so that a held
entry's `gone -> stopped` is not taken for `term()`, and a held entry that
launches breaks invariant 5, as does leaving `stopped` once terminating.
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

__all__ = ["HistoryReplay", "InvariantViolation", "check_invariants"]

READY = LifecycleState.READY
ALLOWED = {
    kind: frozenset((t.source, t.event, t.dest or t.source) for t in transitions_for(kind))
    for kind in EntryKind
}


class InvariantViolation(AssertionError):
    """A run broke one of the invariants of docs/spec.md section 8.

    The message starts with `invariant N:`; `entries` names the entries
    involved and `at` is the moment of the violation (the run's clock).
    """

    def __init__(
        self,
        invariant: int,
        message: str,
        entries: Iterable[str],
        at: float,
        events: int | None = None,
    ) -> None:
        super().__init__(f"invariant {invariant}: {message}")
        self.invariant = invariant
        self.entries = tuple(entries)
        self.at = at
        self.events = events
        """How many events of the history lead up to it, when a replay found it."""


def check_invariants(specs: Sequence[EntrySpec], history: Sequence[Event]) -> None:
    """Replay a run's history and raise `InvariantViolation` at the first event
    that breaks invariant 1, 2, 3, 5 or 6 (or 4, as far as the history shows it).

    `specs` are the system's entries (`Daemons.entries`); `history` is
    `RunningDaemons.history` (or events read back with `load_events`).
    """
    replay = HistoryReplay(specs)
    replay.feed(history)
    replay.end_of_step()


class HistoryReplay:
    """The checker, fed a history piece by piece (the explorer checks after every move)."""

    def __init__(self, specs: Sequence[EntrySpec]) -> None:
        self.dependencies = {s.id: s.requires for s in specs}
        self.dependents: dict[str, list[str]] = defaultdict(list)
        for spec in specs:
            for required in spec.requires:
                self.dependents[required].append(spec.id)
        self.kinds = {s.id: s.kind for s in specs}
        self.once = {s.id for s in specs if s.once}
        self.done: set[str] = set()
        """`once` oneshots that succeeded since their launch: they stay ready
        whatever their dependencies do, and need them no more."""
        self.states = dict.fromkeys(self.dependencies, LifecycleState.WAITING)
        self.live = dict.fromkeys(self.dependencies, 0)
        self.pids: dict[str, int | None] = {}
        """The latest process of each entry."""
        self.terminating = False
        """Whether `term()` has begun, as far as the history shows."""
        self.held: set[str] = set()
        """Entries an operator holds (`hold` recorded, no `release` since)."""
        self.step: int | None = None
        self.now = 0.0
        self.events = 0
        """How many events have been fed; on a violation, the one at fault is the last."""

    def end_of_step(self) -> None:
        """Invariant 6: within one step the coordinator moves several entries;
        between steps, no active entry has a dependency that is not ready."""
        states = self.states
        for entry, state in states.items():
            if state in ACTIVE_STATES and entry not in self.done:
                lost = [d for d in self.dependencies[entry] if states[d] is not READY]
                if lost:
                    raise self._violation(
                        6,
                        f"{entry} is {state.value} while its dependencies "
                        f"{', '.join(lost)} are not ready (at {self.now:g})",
                        [entry, *lost],
                    )

    def _violation(self, invariant: int, message: str, entries: list[str]) -> InvariantViolation:
        return InvariantViolation(invariant, message, entries, self.now, self.events)

    def feed(self, events: Iterable[Event]) -> None:
        for event in events:
            self.events += 1
            self.now = event.at
            if isinstance(event, Transitioned):
                if event.step != self.step:
                    self.end_of_step()
                    self.step = event.step
                self._transition(event)
            elif isinstance(event, ProcessSpawned):
                self.live[event.entry] += 1
                self.pids[event.entry] = event.pid
                if self.live[event.entry] > 1:
                    raise self._violation(
                        3,
                        f"{event.entry} has {self.live[event.entry]} live processes "
                        f"at {self.now:g}",
                        [event.entry],
                    )
            elif isinstance(event, ProcessExited):
                self.live[event.entry] -= 1

    def _transition(self, event: Transitioned) -> None:
        entry, now, states = event.entry, self.now, self.states
        if states[entry] is not event.source:
            raise ValueError(
                f"history out of order: {entry} was {states[entry].value}, "
                f"event says {event.source.value}"
            )
        if (event.source, event.event, event.dest) not in ALLOWED[self.kinds[entry]]:
            raise self._violation(
                5,
                f"{entry} took {event.source.value} --{event.event.value}--> "
                f"{event.dest.value}, which the table does not allow (at {now:g})",
                [entry],
            )
        if event.event in (LifecycleEvent.HOLD, LifecycleEvent.FINISH):
            self.held.add(entry)
        elif event.event is LifecycleEvent.RELEASE:
            self.held.discard(entry)
        # What the system may not do once terminating: launch, or leave
        # `stopped` (final once term() was called).
        terminating_only = (
            event.event is LifecycleEvent.LAUNCH
            or (event.event is LifecycleEvent.GONE and event.dest is LifecycleState.WAITING)
            or (event.source is LifecycleState.STOPPED and event.dest is not event.source)
        )
        if self.terminating and terminating_only:
            raise self._violation(
                5,
                f"{entry} took {event.source.value} --{event.event.value}--> "
                f"{event.dest.value} while terminating (at {now:g})",
                [entry],
            )
        if event.event is LifecycleEvent.TERM or (
            event.event is LifecycleEvent.GONE
            and event.dest is LifecycleState.STOPPED
            and entry not in self.held
        ):
            self.terminating = True  # (only term() makes these)
        if event.event is LifecycleEvent.LAUNCH and entry in self.held:
            raise self._violation(
                5, f"{entry} launched at {now:g} while an operator holds it", [entry]
            )
        if event.event is LifecycleEvent.GONE and self.live[entry] > 0:
            pid = self.pids[entry]
            process = "its in-process function" if pid is None else f"its process {pid}"
            raise self._violation(
                4,
                f"{entry} {event.dest.value} at {now:g} with {process} still alive",
                [entry],
            )
        if event.event is LifecycleEvent.LAUNCH:
            pending = [d for d in self.dependencies[entry] if states[d] is not READY]
            if pending:
                raise self._violation(
                    2,
                    f"{entry} launched at {now:g} while {', '.join(pending)} "
                    f"{'was' if len(pending) == 1 else 'were'} not ready",
                    [entry, *pending],
                )
        if event.event is LifecycleEvent.SIGNAL:
            running = [
                d
                for d in self.dependents[entry]
                if states[d] in RUNNING_STATES and d not in self.done
            ]
            if running:
                raise self._violation(
                    1,
                    f"{entry} signalled at {now:g} while its dependents "
                    f"{', '.join(running)} still run",
                    [entry, *running],
                )
        if event.event is LifecycleEvent.LAUNCH:
            self.done.discard(entry)
        elif event.dest is READY and entry in self.once:
            self.done.add(entry)
        states[entry] = event.dest
