"""The lifecycle of one entry, as data.

Theory of operation
-------------------
Every entry of a system (a daemon, a oneshot or a health check) carries one
`LifecycleState`. The state changes in exactly one way: an `LifecycleEvent` is
fired at the entry with `fire()`, and `TRANSITIONS` below says whether that
event is legal in the current state, where it leads, and which guards must
hold. An illegal event raises `IllegalTransition` and changes nothing; a legal
event whose guard does not hold returns `False` and changes nothing.

The guards are questions about the rest of the system ("is every dependency
ready?", "is a dependent still running?"). This module only names them; the
model answers them, so the coordinator links the entries' machines through
these guards without the table knowing anything about graphs or tasks.

Internal transitions (`dest is None`) change nothing but are still events:
`SIGNAL` is the moment an entry's process may be told to stop, and the
no-op rows make every check result a legal event in the states that poll.

Some events come from outside (a check result, an exit, `term()`, an
operator's `hold` or `release`); the
others are state-triggered: `STATE_TRIGGERS` says which event the
coordinator fires at an entry merely because it is in a state ("waiting:
try to launch"), and the guards of that event's rows in `TRANSITIONS`
decide whether it is taken. The coordinator applies them until nothing
changes, so it only asks the guards, never decides on its own (h11 keeps
its state-triggered transitions beside its event table in the same way).

Nothing else in the project assigns `state`. The diagrams and the printed
table are drawn from these two tables.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, cast

from transitions import Machine


class EntryKind(enum.Enum):
    """What an entry runs: a long-running process, a run-once task, or only a check."""

    DAEMON = "daemon"
    ONESHOT = "oneshot"
    CHECK = "check"


class LifecycleState(enum.Enum):
    WAITING = "waiting"
    STARTING = "starting"
    READY = "ready"
    FAILING = "failing"
    STOPPING = "stopping"
    STOPPED = "stopped"

    def __repr__(self) -> str:
        return f"LifecycleState.{self.name}"


class LifecycleEvent(enum.Enum):
    LAUNCH = "launch"
    """Every dependency is ready: spawn the process or begin checking."""
    HEALTHY = "healthy"
    """A check succeeded, or a oneshot exited with code 0."""
    UNHEALTHY = "unhealthy"
    """A check did not succeed, or the process exited."""
    GIVE_UP = "give_up"
    """A crashing process reached its `max_restarts`: failing for good."""
    DEPENDENCY_LOST = "dependency_lost"
    """A dependency left `ready`."""
    TERM = "term"
    """The whole system is shutting down."""
    SIGNAL = "signal"
    """The process may now be stopped (SIGTERM, then SIGKILL)."""
    GONE = "gone"
    """The process is gone (or there was none)."""
    HOLD = "hold"
    """An operator stopped the entry (`RunningDaemons.stop`): it stops and stays stopped."""
    RELEASE = "release"
    """An operator let a held entry run again (`RunningDaemons.start`, `restart`)."""
    FINISH = "finish"
    """The daemon's process ended and its restart policy does not run it again:
    it stops, and stays stopped as if held."""


class Guard(enum.Enum):
    """Conditions on the rest of the system; the model answers each by the method of this name."""

    DEPENDENCIES_READY = "dependencies_ready"
    """Every dependency is `ready`."""
    GRACE_EXPIRED = "grace_expired"
    """The grace period since the last launch is over."""
    NO_DEPENDENT_RUNNING = "no_dependent_running"
    """No dependent is starting, ready, failing or stopping."""
    TERMINATING = "terminating"
    """The system is shutting down."""
    ALREADY_SIGNALLED = "already_signalled"
    """The entry's process was already allowed to stop since its last launch."""
    HELD = "held"
    """An operator stopped the entry (or its restart policy ended it) and
    nothing has started it again."""
    DONE = "done"
    """A oneshot that runs once per run has succeeded: it needs its dependencies no more."""


W, S, R, F, X, D = (
    LifecycleState.WAITING,
    LifecycleState.STARTING,
    LifecycleState.READY,
    LifecycleState.FAILING,
    LifecycleState.STOPPING,
    LifecycleState.STOPPED,
)

ACTIVE_STATES = frozenset({S, R, F})
"""States in which an entry runs and is checked."""
RUNNING_STATES = frozenset({S, R, F, X})
"""States in which an entry may still have a process: a dependency waits for these."""

ALL_KINDS = frozenset(EntryKind)
POLLED_KINDS = frozenset({EntryKind.DAEMON, EntryKind.CHECK})
RUNS_PROCESS = frozenset({EntryKind.DAEMON, EntryKind.ONESHOT})


@dataclass(frozen=True, slots=True)
class Transition:
    """One row of the table. `dest=None` keeps the state (an internal transition)."""

    source: LifecycleState
    event: LifecycleEvent
    dest: LifecycleState | None
    conditions: tuple[Guard, ...] = ()
    unless: tuple[Guard, ...] = ()
    kinds: frozenset[EntryKind] = ALL_KINDS


def _rows(
    sources: Iterable[LifecycleState],
    event: LifecycleEvent,
    dest: LifecycleState | None,
    *,
    conditions: tuple[Guard, ...] = (),
    unless: tuple[Guard, ...] = (),
    kinds: frozenset[EntryKind] = ALL_KINDS,
) -> list[Transition]:
    return [Transition(s, event, dest, conditions, unless, kinds) for s in sources]


E = LifecycleEvent
G = Guard

# Rows with the same source and event are tried in order; the first whose
# guards hold wins.
TRANSITIONS: tuple[Transition, ...] = (
    *_rows([W], E.LAUNCH, S, conditions=(G.DEPENDENCIES_READY,), unless=(G.TERMINATING, G.HELD)),
    *_rows([S, F], E.HEALTHY, R),
    *_rows([R], E.HEALTHY, None, kinds=POLLED_KINDS),
    *_rows([S], E.UNHEALTHY, F, conditions=(G.GRACE_EXPIRED,)),
    # A failure within the grace period is reported as `starting`, not acted on.
    *_rows([S], E.UNHEALTHY, None, unless=(G.GRACE_EXPIRED,)),
    # A oneshot that is ready has exited for good and is never polled.
    *_rows([R], E.UNHEALTHY, F, kinds=POLLED_KINDS),
    *_rows([F], E.UNHEALTHY, None),
    *_rows([S], E.GIVE_UP, F, kinds=RUNS_PROCESS),
    *_rows([R], E.GIVE_UP, F, kinds=frozenset({EntryKind.DAEMON})),
    *_rows([F], E.GIVE_UP, None, kinds=RUNS_PROCESS),
    # A oneshot that is done (`once`) stays ready whatever its dependencies do.
    *_rows([S, R, F], E.DEPENDENCY_LOST, X, unless=(G.DEPENDENCIES_READY, G.DONE)),
    *_rows([W], E.TERM, D),
    *_rows([S, R, F], E.TERM, X),
    *_rows(
        [X], E.SIGNAL, None, conditions=(G.NO_DEPENDENT_RUNNING,), unless=(G.ALREADY_SIGNALLED,)
    ),
    *_rows([X], E.GONE, D, conditions=(G.TERMINATING,)),
    *_rows([X], E.GONE, D, conditions=(G.HELD,), unless=(G.TERMINATING,)),
    *_rows([X], E.GONE, W, unless=(G.TERMINATING, G.HELD)),
    # Operator actions (docs/spec.md section 10). A hold stops the entry as a
    # lost dependency would; once stopping or stopped it changes no state, the
    # guard `held` then making `gone` end in `stopped`.
    *_rows([W], E.HOLD, D),
    *_rows([S, R, F], E.HOLD, X),
    *_rows([X, D], E.HOLD, None),
    # `stopped` is final once the system terminates; while an entry is still
    # stopping, a release only lets `gone` lead back to `waiting`.
    *_rows([D], E.RELEASE, W, unless=(G.TERMINATING,)),
    *_rows([X], E.RELEASE, None),
    # A daemon whose restart policy does not run it again (docs/spec.md
    # section 4) stops as a held one does; an operator's `start` releases it.
    *_rows([S, R, F], E.FINISH, X, kinds=frozenset({EntryKind.DAEMON})),
)


def transitions_for(kind: EntryKind) -> tuple[Transition, ...]:
    """The rows of the table that apply to one kind of entry."""
    return tuple(t for t in TRANSITIONS if kind in t.kinds)


@dataclass(frozen=True, slots=True)
class StateTrigger:
    """One state-triggered rule: an entry in `source` has `event` fired at it.

    Whether the event is taken is up to its rows in `TRANSITIONS` and their
    guards; every rule's event is legal in its source for its kinds.
    """

    source: LifecycleState
    event: LifecycleEvent
    kinds: frozenset[EntryKind] = ALL_KINDS


# Rules with the same source are tried in order and the first one taken
# ends the look at that entry, as rows with the same source and event do.
STATE_TRIGGERS: tuple[StateTrigger, ...] = (
    # Every dependency is ready: spawn the process or begin checking.
    StateTrigger(W, E.LAUNCH),
    # A dependency left ready: stop, dependents before their dependencies.
    *(StateTrigger(s, E.DEPENDENCY_LOST) for s in (S, R, F)),
    # No dependent runs any more: the process may be told to stop.
    StateTrigger(X, E.SIGNAL),
)


def state_triggers_for(kind: EntryKind) -> tuple[StateTrigger, ...]:
    """The state-triggered rules that apply to one kind of entry."""
    return tuple(t for t in STATE_TRIGGERS if kind in t.kinds)


class _TriggerIndex:
    """`STATE_TRIGGERS` by kind and state, rebuilt whenever the table is replaced.

    The coordinator looks the rules up each time it looks at an entry, so the
    index is built once (only a test breaking the table on purpose replaces
    it), and keyed by the members' names: an `Enum` hashes in Python code,
    several times slower than the `str` it is named by.
    """

    __slots__ = ("events", "table")

    def __init__(self) -> None:
        self.table: tuple[StateTrigger, ...] | None = None
        self.events: dict[tuple[str, str], tuple[LifecycleEvent, ...]] = {}

    def rebuild(self, table: tuple[StateTrigger, ...]) -> None:
        events: dict[tuple[str, str], list[LifecycleEvent]] = {}
        for rule in table:
            for kind in rule.kinds:
                events.setdefault((kind._name_, rule.source._name_), []).append(rule.event)
        self.events = {key: tuple(found) for key, found in events.items()}
        self.table = table


_trigger_index = _TriggerIndex()


def state_triggered_events(kind: EntryKind, state: LifecycleState) -> tuple[LifecycleEvent, ...]:
    """The events to fire, in order, at an entry of `kind` merely because it is in `state`."""
    table = STATE_TRIGGERS
    if _trigger_index.table is not table:
        _trigger_index.rebuild(table)
    return _trigger_index.events.get((kind._name_, state._name_), ())


class IllegalTransition(Exception):
    """Raised by `fire()` when the table has no row for the event in the current state.

    The coordinator never fires an illegal event; seeing this is a bug in it.
    """

    def __init__(self, entry: str, state: LifecycleState, event: LifecycleEvent) -> None:
        super().__init__(f"{entry!r}: event {event.value!r} is illegal in state {state.value!r}")
        self.entry = entry
        self.state = state
        self.event = event


class Lifecycle:
    """The state of a model driven by a lifecycle machine; a subclass answers
    the guards, which `fire()` asks (`LifecycleModel`).

    Models are not registered with their machine (`Machine.add_model` keeps
    a list it scans on every addition, and binds a dozen helpers onto each
    model); `fire()` reads the machine's transitions instead, so one machine
    serves any number of models at no cost per model.
    """

    __slots__ = ("lifecycle_id", "lifecycle_machine", "state")

    state: LifecycleState

    def __init__(self, lifecycle_id: str, machine: Machine) -> None:
        self.lifecycle_id = lifecycle_id
        self.lifecycle_machine = machine
        self.state = LifecycleState.WAITING


class LifecycleModel(Protocol):
    """What `fire()` drives: a `Lifecycle` whose subclass answers the guards,
    one method per `Guard`, named by its value."""

    lifecycle_id: str
    lifecycle_machine: Machine
    state: LifecycleState

    def dependencies_ready(self) -> bool: ...

    def grace_expired(self) -> bool: ...

    def no_dependent_running(self) -> bool: ...

    def terminating(self) -> bool: ...

    def already_signalled(self) -> bool: ...

    def held(self) -> bool: ...

    def done(self) -> bool: ...


def new_machine(kind: EntryKind) -> Machine:
    """A machine for one kind of entry, to be shared by all its models."""
    return Machine(
        model=None,
        states=LifecycleState,
        transitions=[
            {
                "trigger": t.event.value,
                "source": t.source,
                "dest": t.dest,
                "conditions": [g.value for g in t.conditions],
                "unless": [g.value for g in t.unless],
            }
            for t in transitions_for(kind)
        ],
        initial=LifecycleState.WAITING,
        auto_transitions=False,
    )


class _MachineCache:
    """One machine per kind for the table as it is now, built on first use.

    Building a machine (`transitions` turns every row into objects) cost
    about a fifth of a simulated run of `explore`, which builds a system per
    path it replays. A machine is only read once built (`fire` walks its
    rows; models are not registered with it), so one can serve every system.
    A test that breaks the table on purpose replaces `TRANSITIONS` (a tuple,
    never changed in place), so the cache is keyed on that table object and
    dropped whenever a different one is in place: a replaced table never gets
    a machine of the old one.
    """

    __slots__ = ("machines", "table")

    def __init__(self) -> None:
        self.table: tuple[Transition, ...] | None = None
        self.machines: dict[EntryKind, Machine] = {}


_machine_cache = _MachineCache()


def shared_machine(kind: EntryKind) -> Machine:
    """The machine of `kind` for the current table, shared by every system
    that uses it: read it, never add models or transitions to it."""
    cache = _machine_cache
    if cache.table is not TRANSITIONS:
        cache.table = TRANSITIONS
        cache.machines = {}
    machine = cache.machines.get(kind)
    if machine is None:
        machine = cache.machines[kind] = new_machine(kind)
    return machine


def fire(model: LifecycleModel, event: LifecycleEvent) -> bool:
    """Fire `event` at `model`: `True` if a row's guards held and it was taken.

    This walks the machine's own transition objects, as `transitions` does,
    without its general engine: the table has no callbacks to run, no queue
    and nothing to log, and the engine's bookkeeping was most of the cost of
    a shutdown. A test checks that both agree on every cell of the table.
    """
    machine = model.lifecycle_machine
    machine_event = machine.events.get(event.value)
    rows = machine_event.transitions.get(model.state.name) if machine_event else None
    if not rows:
        raise IllegalTransition(model.lifecycle_id, model.state, event)
    for row in rows:
        if all(getattr(model, str(guard.func))() == guard.target for guard in row.conditions):
            if row.dest is not None:
                model.state = cast(LifecycleState, machine.states[row.dest].value)
            return True
    return False
