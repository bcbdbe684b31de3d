"""The lifecycle tables, checked cell by cell against docs/spec.md section 3.

In the style of h11's `tests/test_state.py`: every event is fired from every
state (illegal ones included), for every kind of entry and every combination
of guard values, and the full resulting state is asserted after each step.
The state-triggered rules are walked the same way: every kind, state and
combination of guard values. The expectations (`expected()`, `settled()`)
are written here from docs/spec.md, not read back from `TRANSITIONS` or
`STATE_TRIGGERS`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Final

import pytest
from transitions import Machine, MachineError

import statemachines
import statemachines._lifecycle as lifecycle
from statemachines import (
    EntryKind,
    Guard,
    IllegalTransition,
    LifecycleEvent,
    LifecycleState,
    StateTrigger,
    Transition,
)

K = EntryKind
E = LifecycleEvent
S = LifecycleState

WAITING, STARTING, READY, FAILING, STOPPING, STOPPED = (
    S.WAITING,
    S.STARTING,
    S.READY,
    S.FAILING,
    S.STOPPING,
    S.STOPPED,
)
DAEMON, ONESHOT, CHECK = K.DAEMON, K.ONESHOT, K.CHECK


# A test model: the guards are plain values the test sets.


@dataclass(frozen=True)
class Guards:
    """The values the six guards of the table answer."""

    dependencies_ready: bool = True
    grace_expired: bool = True
    no_dependent_running: bool = True
    terminating: bool = False
    already_signalled: bool = False
    held: bool = False
    done: bool = False


DEFAULT_GUARDS: Final = Guards()
"""Every step of a normal life is taken under these."""
ALL_GUARD_VALUES: Final = tuple(
    Guards(*values) for values in itertools.product((False, True), repeat=len(fields(Guards)))
)


class Model(statemachines.Lifecycle):
    """A lifecycle model whose guards read `self.guards`, set by the test."""

    def __init__(
        self, machine: Machine, guards: Guards = DEFAULT_GUARDS, lifecycle_id: str = "web"
    ) -> None:
        super().__init__(lifecycle_id, machine)
        self.guards = guards

    def dependencies_ready(self) -> bool:
        return self.guards.dependencies_ready

    def grace_expired(self) -> bool:
        return self.guards.grace_expired

    def no_dependent_running(self) -> bool:
        return self.guards.no_dependent_running

    def terminating(self) -> bool:
        return self.guards.terminating

    def already_signalled(self) -> bool:
        return self.guards.already_signalled

    def held(self) -> bool:
        return self.guards.held

    def done(self) -> bool:
        return self.guards.done


class Lives:
    """One machine for a kind, with a bystander model that must never move."""

    def __init__(self, kind: EntryKind) -> None:
        self.kind = kind
        self.machine: Machine = statemachines.new_machine(kind)
        self.bystander = Model(self.machine, lifecycle_id="bystander")

    def new(self, guards: Guards = DEFAULT_GUARDS) -> Model:
        model = Model(self.machine, guards)
        assert model.state is WAITING
        return model

    def check_full_state(self, model: Model, state: LifecycleState) -> None:
        assert model.state is state
        assert self.bystander.state is WAITING


# The expectation, from docs/spec.md sections 3 and 10.


@dataclass(frozen=True)
class Taken:
    """The event is legal: `fire()` returns `returns` and the state becomes `state`."""

    returns: bool
    state: LifecycleState


ILLEGAL: Final = "illegal"
Outcome = Taken | str

RUNS_A_PROCESS: Final = frozenset({DAEMON, ONESHOT})
POLLED_WHEN_READY: Final = frozenset({DAEMON, CHECK})


def expected(kind: EntryKind, state: LifecycleState, event: LifecycleEvent, g: Guards) -> Outcome:
    """What docs/spec.md sections 3 and 10 say happens when `event` is fired in `state`."""

    def to(dest: LifecycleState) -> Taken:
        return Taken(True, dest)

    stay = Taken(True, state)  # a legal internal transition
    blocked = Taken(False, state)  # a legal event whose guard does not hold

    if state is WAITING:
        if event is E.LAUNCH:
            # docs/spec.md's guard: "every dependency is ready, system not terminating",
            # and section 10: a held entry is not launched.
            launches = g.dependencies_ready and not g.terminating and not g.held
            return to(STARTING) if launches else blocked
        if event in (E.TERM, E.HOLD):
            return to(STOPPED)  # nothing to stop
        return ILLEGAL

    if state in (STARTING, READY, FAILING) and event is E.HOLD:
        return to(STOPPING)  # section 10: held, it stops as after a lost dependency

    if state in (STARTING, READY, FAILING):
        if event is E.DEPENDENCY_LOST:
            # docs/spec.md's guard: "a dependency left `ready`", so not every one
            # is; section 4: a oneshot done for the run (`once`) stays ready.
            return blocked if g.dependencies_ready or g.done else to(STOPPING)
        if event is E.FINISH:
            # Section 4: a daemon whose restart policy does not run it again.
            return to(STOPPING) if kind is DAEMON else ILLEGAL
        if event is E.TERM:
            return to(STOPPING)
        if event is E.GIVE_UP:
            # max_restarts reached: failing for good (docs/spec.md section 4). Only
            # kinds that run a process restart it, and a oneshot that is ready
            # has exited for good, so only a ready daemon can still give up.
            if kind not in RUNS_A_PROCESS:
                return ILLEGAL
            if state is READY and kind is not DAEMON:
                return ILLEGAL
            return to(FAILING)

    if state is STARTING:
        if event is E.HEALTHY:  # check success / oneshot exit 0
            return to(READY)
        if event is E.UNHEALTHY:
            # After the grace period: failing; within it, reported as starting.
            return to(FAILING) if g.grace_expired else stay
        return ILLEGAL

    if state is READY:
        if kind not in POLLED_WHEN_READY:
            # A ready oneshot has exited for good and is never polled.
            return ILLEGAL
        if event is E.HEALTHY:
            return stay
        if event is E.UNHEALTHY:
            # Failing even within the grace period (only the report is softened).
            return to(FAILING)
        return ILLEGAL

    if state is FAILING:
        if event is E.HEALTHY:
            return to(READY)
        if event is E.UNHEALTHY:
            return stay
        return ILLEGAL

    if state is STOPPING:
        if event is E.SIGNAL:
            # Signalled only once no dependent of this entry is still running,
            # and only once a launch.
            return stay if g.no_dependent_running and not g.already_signalled else blocked
        if event is E.GONE:
            # Section 10: stopped when held or terminating, waiting otherwise.
            return to(STOPPED) if g.terminating or g.held else to(WAITING)
        if event in (E.HOLD, E.RELEASE):
            return stay  # a stop under way; `held` decides where `gone` leads
        return ILLEGAL

    assert state is STOPPED
    if event is E.HOLD:
        return stay  # stopping it again changes nothing
    if event is E.RELEASE:
        # `stopped` is final once the system terminates; a held entry is released.
        return blocked if g.terminating else to(WAITING)
    return ILLEGAL


# Firing and walking.

# A legal path from WAITING to each state (with the default guards, under
# which every step is taken).
PATHS: Final[dict[LifecycleState, tuple[LifecycleEvent, ...]]] = {
    WAITING: (),
    STARTING: (E.LAUNCH,),
    READY: (E.LAUNCH, E.HEALTHY),
    FAILING: (E.LAUNCH, E.UNHEALTHY),
    STOPPING: (E.LAUNCH, E.HEALTHY, E.TERM),
    STOPPED: (E.TERM,),
}


def check_step(lives: Lives, model: Model, event: LifecycleEvent, outcome: Outcome) -> None:
    """Fire `event` at `model` and assert the whole resulting state against `outcome`."""
    before = model.state
    if isinstance(outcome, Taken):
        assert statemachines.fire(model, event) is outcome.returns, (before, event, model.guards)
        lives.check_full_state(model, outcome.state)
    else:
        with pytest.raises(IllegalTransition) as info:
            statemachines.fire(model, event)
        assert info.value.entry == model.lifecycle_id
        assert info.value.state is before
        assert info.value.event is event
        lives.check_full_state(model, before)


def walk_to(lives: Lives, state: LifecycleState, guards: Guards) -> Model:
    """A new model brought to `state` along a legal path, then given `guards`."""
    model = lives.new()
    for event in PATHS[state]:
        check_step(lives, model, event, expected(lives.kind, model.state, event, model.guards))
    lives.check_full_state(model, state)
    model.guards = guards
    return model


def set_to(lives: Lives, state: LifecycleState, guards: Guards) -> Model:
    """A new model put in `state` directly."""
    model = lives.new(guards)
    model.state = state
    lives.check_full_state(model, state)
    return model


ENTER: Final = {"walk": walk_to, "set_state": set_to}


def cells(
    kinds: Sequence[EntryKind] = tuple(K),
    states: Sequence[LifecycleState] = tuple(S),
    events: Sequence[LifecycleEvent] = tuple(E),
) -> list[object]:
    """Parameters (kind, state, event)."""
    return [
        pytest.param(
            kind,
            state,
            event,
            id=f"{kind.value}-{state.value}-{event.value}",
        )
        for kind, state, event in itertools.product(kinds, states, events)
    ]


# The whole table.


@pytest.mark.parametrize("enter", ENTER)
@pytest.mark.parametrize(("kind", "state", "event"), cells())
def test_every_event_from_every_state(
    enter: str, kind: EntryKind, state: LifecycleState, event: LifecycleEvent
) -> None:
    lives = Lives(kind)
    for guards in ALL_GUARD_VALUES:
        model = ENTER[enter](lives, state, guards)
        check_step(lives, model, event, expected(kind, state, event, guards))


def test_expectation_is_not_vacuous() -> None:
    """The expectation has legal, illegal, blocked and internal cells for every kind."""
    for kind in K:
        outcomes = [
            expected(kind, state, event, guards)
            for state, event, guards in itertools.product(S, E, ALL_GUARD_VALUES)
        ]
        assert ILLEGAL in outcomes
        taken = [o for o in outcomes if isinstance(o, Taken)]
        assert any(not o.returns for o in taken)
        assert {o.state for o in taken} == set(S)


# `stopped` is final once the system terminates.


def after_term(event: LifecycleEvent) -> Outcome:
    """An event at a `stopped` entry of a terminating system: it stays `stopped`."""
    if event is E.HOLD:
        return Taken(True, STOPPED)
    if event is E.RELEASE:
        return Taken(False, STOPPED)
    return ILLEGAL


@pytest.mark.parametrize(("kind", "state", "event"), cells(states=[STOPPED]))
def test_stopped_is_final_once_terminating(
    kind: EntryKind, state: LifecycleState, event: LifecycleEvent
) -> None:
    lives = Lives(kind)
    for guards in ALL_GUARD_VALUES:
        guards = replace(guards, terminating=True)
        # Reached by term from waiting, by a terminating stop, or directly.
        by_term = walk_to(lives, STOPPED, guards)
        by_stop = walk_to(lives, STOPPING, guards)
        check_step(lives, by_stop, E.GONE, Taken(True, STOPPED))
        for model in (by_term, by_stop, set_to(lives, state, guards)):
            check_step(lives, model, event, after_term(event))
            # ... and again: nothing leaves `stopped`.
            check_step(lives, model, event, after_term(event))


@pytest.mark.parametrize("kind", K)
def test_only_a_release_leaves_stopped_before_term(kind: EntryKind) -> None:
    lives = Lives(kind)
    for guards in ALL_GUARD_VALUES:
        if guards.terminating:
            continue
        for event in E:
            model = set_to(lives, STOPPED, guards)
            outcome = expected(kind, STOPPED, event, guards)
            assert (outcome == Taken(True, WAITING)) is (event is E.RELEASE)
            check_step(lives, model, event, outcome)


# Differences between the kinds.


@pytest.mark.parametrize("event", [E.HEALTHY, E.UNHEALTHY])
def test_ready_oneshot_is_never_polled(event: LifecycleEvent) -> None:
    lives = Lives(ONESHOT)
    for guards in ALL_GUARD_VALUES:
        check_step(lives, walk_to(lives, READY, guards), event, ILLEGAL)
    for kind in (DAEMON, CHECK):
        polled = Lives(kind)
        model = walk_to(polled, READY, DEFAULT_GUARDS)
        assert statemachines.fire(model, event) is True


@pytest.mark.parametrize("kind", [DAEMON, ONESHOT])
def test_give_up_for_kinds_that_run_a_process(kind: EntryKind) -> None:
    lives = Lives(kind)
    for guards in ALL_GUARD_VALUES:
        check_step(lives, walk_to(lives, STARTING, guards), E.GIVE_UP, Taken(True, FAILING))
        check_step(lives, walk_to(lives, FAILING, guards), E.GIVE_UP, Taken(True, FAILING))
        from_ready = Taken(True, FAILING) if kind is DAEMON else ILLEGAL
        check_step(lives, walk_to(lives, READY, guards), E.GIVE_UP, from_ready)
        for state in (WAITING, STOPPING, STOPPED):
            check_step(lives, walk_to(lives, state, guards), E.GIVE_UP, ILLEGAL)


def test_give_up_is_illegal_for_check_entries() -> None:
    lives = Lives(CHECK)
    for state in S:
        check_step(lives, walk_to(lives, state, DEFAULT_GUARDS), E.GIVE_UP, ILLEGAL)


# Scripted whole lives.

Step = tuple[LifecycleEvent, Guards, Outcome]

# Guard values named for the moment of a life they describe.
IDLE = Guards(dependencies_ready=False, grace_expired=False, no_dependent_running=True)
DEPS_UP = Guards(dependencies_ready=True, grace_expired=False)
IN_GRACE = Guards(dependencies_ready=True, grace_expired=False)
AFTER_GRACE = Guards(dependencies_ready=True, grace_expired=True)
DEP_LOST = Guards(dependencies_ready=False, grace_expired=True, no_dependent_running=False)
DEPENDENT_GONE = Guards(dependencies_ready=False, grace_expired=True, no_dependent_running=True)
SIGNALLED = replace(DEPENDENT_GONE, already_signalled=True)
SHUTDOWN_BLOCKED = Guards(dependencies_ready=False, no_dependent_running=False, terminating=True)
SHUTDOWN = Guards(dependencies_ready=False, no_dependent_running=True, terminating=True)


def to(state: LifecycleState) -> Taken:
    return Taken(True, state)


def blocked(state: LifecycleState) -> Taken:
    return Taken(False, state)


DAEMON_LIFE: Final[list[Step]] = [
    (E.LAUNCH, IDLE, blocked(WAITING)),
    (E.HEALTHY, IDLE, ILLEGAL),
    (E.LAUNCH, DEPS_UP, to(STARTING)),
    (E.LAUNCH, DEPS_UP, ILLEGAL),
    (E.UNHEALTHY, IN_GRACE, to(STARTING)),  # reported as starting, not acted on
    (E.UNHEALTHY, AFTER_GRACE, to(FAILING)),
    (E.UNHEALTHY, AFTER_GRACE, to(FAILING)),
    (E.HEALTHY, AFTER_GRACE, to(READY)),
    (E.HEALTHY, AFTER_GRACE, to(READY)),
    (E.UNHEALTHY, AFTER_GRACE, to(FAILING)),  # the process exited
    (E.HEALTHY, AFTER_GRACE, to(READY)),
    (E.DEPENDENCY_LOST, AFTER_GRACE, blocked(READY)),  # every dependency is still ready
    (E.DEPENDENCY_LOST, DEP_LOST, to(STOPPING)),
    (E.HEALTHY, DEP_LOST, ILLEGAL),
    (E.DEPENDENCY_LOST, DEP_LOST, ILLEGAL),
    (E.SIGNAL, DEP_LOST, blocked(STOPPING)),  # a dependent still runs
    (E.GONE, DEP_LOST, to(WAITING)),  # ... a process can still die on its own
    (E.LAUNCH, IDLE, blocked(WAITING)),
    (E.LAUNCH, DEPS_UP, to(STARTING)),  # a fresh launch
    (E.UNHEALTHY, IN_GRACE, to(STARTING)),  # a fresh grace period
    (E.HEALTHY, IN_GRACE, to(READY)),
    (E.UNHEALTHY, IN_GRACE, to(FAILING)),
    (E.DEPENDENCY_LOST, DEP_LOST, to(STOPPING)),
    (E.SIGNAL, DEP_LOST, blocked(STOPPING)),
    (E.SIGNAL, DEPENDENT_GONE, to(STOPPING)),  # SIGTERM sent
    (E.SIGNAL, SIGNALLED, blocked(STOPPING)),  # ... once
    (E.GONE, DEPENDENT_GONE, to(WAITING)),  # not terminating: wait for the dependencies
    (E.LAUNCH, DEPS_UP, to(STARTING)),
    (E.GIVE_UP, DEPS_UP, to(FAILING)),  # max_restarts reached
    (E.GIVE_UP, DEPS_UP, to(FAILING)),
    (E.HEALTHY, DEPS_UP, to(READY)),
    (E.TERM, SHUTDOWN_BLOCKED, to(STOPPING)),
    (E.TERM, SHUTDOWN_BLOCKED, ILLEGAL),
    (E.SIGNAL, SHUTDOWN_BLOCKED, blocked(STOPPING)),
    (E.SIGNAL, SHUTDOWN, to(STOPPING)),
    (E.GONE, SHUTDOWN, to(STOPPED)),
    *[(event, SHUTDOWN, after_term(event)) for event in E],
    *[(event, SHUTDOWN_BLOCKED, after_term(event)) for event in E],
]

ONESHOT_LIFE: Final[list[Step]] = [
    (E.LAUNCH, DEPS_UP, to(STARTING)),
    (E.UNHEALTHY, IN_GRACE, to(STARTING)),  # crashed within the grace period
    (E.UNHEALTHY, AFTER_GRACE, to(FAILING)),  # crashed after it: failing while retried
    (E.UNHEALTHY, AFTER_GRACE, to(FAILING)),
    (E.HEALTHY, AFTER_GRACE, to(READY)),  # exit 0
    (E.HEALTHY, AFTER_GRACE, ILLEGAL),  # never polled
    (E.UNHEALTHY, AFTER_GRACE, ILLEGAL),
    (E.GIVE_UP, AFTER_GRACE, ILLEGAL),  # exited for good: nothing left to give up
    (E.DEPENDENCY_LOST, DEP_LOST, to(STOPPING)),
    (E.SIGNAL, DEPENDENT_GONE, to(STOPPING)),
    (E.GONE, DEPENDENT_GONE, to(WAITING)),
    (E.LAUNCH, DEPS_UP, to(STARTING)),  # re-run once its dependencies are back
    (E.GIVE_UP, DEPS_UP, to(FAILING)),
    (E.TERM, SHUTDOWN, to(STOPPING)),
    (E.SIGNAL, SHUTDOWN, to(STOPPING)),
    (E.GONE, SHUTDOWN, to(STOPPED)),
    *[(event, SHUTDOWN, after_term(event)) for event in E],
]

CHECK_LIFE: Final[list[Step]] = [
    (E.LAUNCH, DEPS_UP, to(STARTING)),  # begins checking
    (E.UNHEALTHY, IN_GRACE, to(STARTING)),
    (E.HEALTHY, IN_GRACE, to(READY)),
    (E.HEALTHY, IN_GRACE, to(READY)),
    (E.UNHEALTHY, IN_GRACE, to(FAILING)),
    (E.HEALTHY, IN_GRACE, to(READY)),
    (E.DEPENDENCY_LOST, DEP_LOST, to(STOPPING)),
    (E.SIGNAL, DEPENDENT_GONE, to(STOPPING)),
    (E.GONE, DEPENDENT_GONE, to(WAITING)),
    (E.TERM, SHUTDOWN, to(STOPPED)),  # nothing to stop
    *[(event, SHUTDOWN, after_term(event)) for event in E if event is not E.GIVE_UP],
]

TERM_WHILE_WAITING: Final[list[Step]] = [
    (E.LAUNCH, IDLE, blocked(WAITING)),
    (E.TERM, SHUTDOWN, to(STOPPED)),
    *[(event, SHUTDOWN, after_term(event)) for event in E if event is not E.GIVE_UP],
]

TERM_WHILE_STARTING: Final[list[Step]] = [
    (E.LAUNCH, DEPS_UP, to(STARTING)),
    (E.TERM, SHUTDOWN, to(STOPPING)),
    (E.HEALTHY, SHUTDOWN, ILLEGAL),
    (E.UNHEALTHY, SHUTDOWN, ILLEGAL),
    (E.LAUNCH, SHUTDOWN, ILLEGAL),
    (E.SIGNAL, SHUTDOWN, to(STOPPING)),
    (E.GONE, SHUTDOWN, to(STOPPED)),
]

HELD = replace(DEPS_UP, held=True)
HELD_STOPPED = replace(DEPENDENT_GONE, held=True)
HELD_AND_SIGNALLED = replace(SIGNALLED, held=True)

# docs/spec.md section 10: an operator stops an entry, starts it, restarts it.
OPERATOR_LIFE: Final[list[Step]] = [
    (E.HOLD, HELD, to(STOPPED)),  # held while waiting: straight to stopped
    (E.LAUNCH, HELD, ILLEGAL),
    (E.HOLD, HELD, to(STOPPED)),  # again: nothing changes
    (E.RELEASE, DEPS_UP, to(WAITING)),  # start
    (E.LAUNCH, HELD, blocked(WAITING)),  # a held waiting entry is never launched
    (E.LAUNCH, DEPS_UP, to(STARTING)),
    (E.HEALTHY, DEPS_UP, to(READY)),
    (E.HOLD, replace(DEP_LOST, held=True), to(STOPPING)),  # stop: dependents first
    (E.SIGNAL, replace(DEP_LOST, held=True), blocked(STOPPING)),
    (E.HOLD, replace(DEP_LOST, held=True), to(STOPPING)),
    (E.SIGNAL, HELD_STOPPED, to(STOPPING)),
    (E.GONE, HELD_AND_SIGNALLED, to(STOPPED)),  # held: stays stopped
    (E.LAUNCH, DEPS_UP, ILLEGAL),
    (E.RELEASE, DEPS_UP, to(WAITING)),
    (E.LAUNCH, DEPS_UP, to(STARTING)),
    (E.HOLD, HELD, to(STOPPING)),  # restart: held ...
    (E.RELEASE, DEPENDENT_GONE, to(STOPPING)),  # ... and released in one step
    (E.SIGNAL, DEPENDENT_GONE, to(STOPPING)),
    (E.GONE, SIGNALLED, to(WAITING)),  # back to waiting, as after a lost dependency
    (E.LAUNCH, DEPS_UP, to(STARTING)),  # a fresh launch
    (E.HOLD, HELD, to(STOPPING)),
    (E.TERM, SHUTDOWN, ILLEGAL),  # already stopping
    (E.SIGNAL, replace(SHUTDOWN, held=True), to(STOPPING)),
    (E.GONE, replace(SHUTDOWN, held=True), to(STOPPED)),
    (E.RELEASE, SHUTDOWN, blocked(STOPPED)),  # stopped is final once terminating
    *[(event, SHUTDOWN, after_term(event)) for event in E],
]

# A dependency is lost, then the system terminates while the entry is stopping:
# the process being gone ends the life.
LOST_THEN_TERMINATED: Final[list[Step]] = [
    (E.LAUNCH, DEPS_UP, to(STARTING)),
    (E.HEALTHY, DEPS_UP, to(READY)),
    (E.DEPENDENCY_LOST, DEP_LOST, to(STOPPING)),
    (E.SIGNAL, DEP_LOST, blocked(STOPPING)),
    (E.TERM, SHUTDOWN_BLOCKED, ILLEGAL),  # already stopping
    (E.SIGNAL, SHUTDOWN, to(STOPPING)),
    (E.GONE, SHUTDOWN, to(STOPPED)),
]


@pytest.mark.parametrize(
    ("kind", "script"),
    [
        pytest.param(DAEMON, DAEMON_LIFE, id="daemon"),
        pytest.param(ONESHOT, ONESHOT_LIFE, id="oneshot"),
        pytest.param(CHECK, CHECK_LIFE, id="check"),
        *[pytest.param(kind, OPERATOR_LIFE, id=f"operator-{kind.value}") for kind in K],
        *[
            pytest.param(kind, script, id=f"{name}-{kind.value}")
            for kind in K
            for name, script in [
                ("term-while-waiting", TERM_WHILE_WAITING),
                ("term-while-starting", TERM_WHILE_STARTING),
                ("lost-then-terminated", LOST_THEN_TERMINATED),
            ]
        ],
    ],
)
def test_whole_life(kind: EntryKind, script: list[Step]) -> None:
    lives = Lives(kind)
    model = lives.new()
    for event, guards, outcome in script:
        model.guards = guards
        # The script agrees with the expectation ...
        assert outcome == expected(kind, model.state, event, guards), (model.state, event)
        # ... and with the table.
        check_step(lives, model, event, outcome)


def test_models_of_one_machine_are_independent() -> None:
    lives = Lives(DAEMON)
    first, second = lives.new(), lives.new()
    check_step(lives, first, E.LAUNCH, to(STARTING))
    assert second.state is WAITING
    check_step(lives, second, E.TERM, to(STOPPED))
    assert first.state is STARTING


def test_illegal_transition_message() -> None:
    lives = Lives(DAEMON)
    model = lives.new()
    with pytest.raises(
        IllegalTransition, match=r"^'web': event 'gone' is illegal in state 'waiting'$"
    ):
        statemachines.fire(model, E.GONE)


# The state-triggered rules, walked on every kind, state and guard values.


@dataclass(frozen=True)
class Settled:
    """An entry left in a state: the event its rules fired and took (if any), and its state."""

    taken: LifecycleEvent | None
    state: LifecycleState


def settled(kind: EntryKind, state: LifecycleState, g: Guards) -> Settled:
    """What docs/spec.md section 3 (and section 4) says the coordinator does to
    an entry left in `state`."""
    if state is WAITING:
        # "Start: an entry starts as soon as all of its own dependencies are ready",
        # unless an operator holds it (section 10).
        launches = g.dependencies_ready and not g.terminating and not g.held
        return Settled(E.LAUNCH, STARTING) if launches else Settled(None, WAITING)
    if state in (STARTING, READY, FAILING):
        # "Dependency lost: when an entry leaves ready, every running dependent is
        # stopped", but a oneshot done for the run (`once`, section 4).
        if g.dependencies_ready or g.done:
            return Settled(None, state)
        return Settled(E.DEPENDENCY_LOST, STOPPING)
    if state is STOPPING:
        # "Its own process is signalled only once every dependent has stopped" (once).
        if g.no_dependent_running and not g.already_signalled:
            return Settled(E.SIGNAL, STOPPING)
        return Settled(None, STOPPING)
    return Settled(None, state)  # only an operator's release leaves `stopped`


def settle(model: Model, kind: EntryKind) -> Settled:
    """What the coordinator's fixed point does to `model`: its state's rules in order, the
    first one taken ends the turn (the coordinator's `_settle`, without its side effects)."""
    for event in statemachines.state_triggered_events(kind, model.state):
        if statemachines.fire(model, event):
            return Settled(event, model.state)
    return Settled(None, model.state)


def settle_mismatches(kind: EntryKind) -> list[str]:
    """Every cell (state, guard values) where the rules and docs/spec.md disagree."""
    lives = Lives(kind)
    wrong: list[str] = []
    for state, guards in itertools.product(S, ALL_GUARD_VALUES):
        model = set_to(lives, state, guards)
        want = settled(kind, state, guards)
        try:
            got: Settled | str = settle(model, kind)
        except IllegalTransition as error:
            got = str(error)
        if got != want:
            wrong.append(f"{state.value} {guards}: rules give {got}, docs/spec.md says {want}")
    return wrong


@pytest.mark.parametrize("kind", list(K), ids=lambda k: k.value)
def test_every_state_settles_as_the_spec_says(kind: EntryKind) -> None:
    assert settle_mismatches(kind) == []


def test_settling_expectation_is_not_vacuous() -> None:
    """Each state's rule is taken under some guard values and blocked under others."""
    for kind in K:
        for state in (WAITING, STARTING, READY, FAILING, STOPPING):
            outcomes = {settled(kind, state, guards).taken for guards in ALL_GUARD_VALUES}
            assert None in outcomes
            assert len(outcomes) == 2


def _without(event: LifecycleEvent, source: LifecycleState) -> tuple[StateTrigger, ...]:
    return tuple(
        rule
        for rule in statemachines.STATE_TRIGGERS
        if (rule.source, rule.event) != (source, event)
    )


BROKEN_STATE_TRIGGERS: Final[dict[str, Callable[[], tuple[StateTrigger, ...]]]] = {
    "no-launch": lambda: _without(E.LAUNCH, WAITING),
    "no-dependency-lost-from-failing": lambda: _without(E.DEPENDENCY_LOST, FAILING),
    "no-signal": lambda: _without(E.SIGNAL, STOPPING),
    "term-when-ready": lambda: (*statemachines.STATE_TRIGGERS, StateTrigger(READY, E.TERM)),
    "healthy-before-dependency-lost": lambda: (
        StateTrigger(FAILING, E.HEALTHY),
        *statemachines.STATE_TRIGGERS,
    ),
    "launch-for-daemons-only": lambda: (
        StateTrigger(WAITING, E.LAUNCH, frozenset({DAEMON})),
        *_without(E.LAUNCH, WAITING),
    ),
    "gone-when-stopping": lambda: (*_without(E.SIGNAL, STOPPING), StateTrigger(STOPPING, E.GONE)),
}


@pytest.mark.parametrize("broken", BROKEN_STATE_TRIGGERS)
def test_a_broken_state_triggered_rule_is_caught(
    broken: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lifecycle, "STATE_TRIGGERS", BROKEN_STATE_TRIGGERS[broken]())
    assert any(settle_mismatches(kind) for kind in K)


def test_the_state_triggered_events_follow_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """The coordinator's lookup reads the table as it is now, not as it was at import."""
    assert statemachines.state_triggered_events(DAEMON, READY) == (E.DEPENDENCY_LOST,)
    monkeypatch.setattr(lifecycle, "STATE_TRIGGERS", _without(E.DEPENDENCY_LOST, READY))
    assert statemachines.state_triggered_events(DAEMON, READY) == ()
    assert statemachines.state_triggered_events(DAEMON, FAILING) == (E.DEPENDENCY_LOST,)
    monkeypatch.undo()
    assert statemachines.state_triggered_events(DAEMON, READY) == (E.DEPENDENCY_LOST,)


@pytest.mark.parametrize("kind", K)
def test_state_triggers_for_selects_the_rules_of_a_kind(kind: EntryKind) -> None:
    rules = statemachines.state_triggers_for(kind)
    assert rules
    assert rules == tuple(rule for rule in statemachines.STATE_TRIGGERS if kind in rule.kinds)
    for state in S:
        events = tuple(rule.event for rule in rules if rule.source is state)
        assert statemachines.state_triggered_events(kind, state) == events


def test_every_state_triggered_rule_fires_a_legal_event() -> None:
    """The rules only fire events the transition table has a row for in their source."""
    for rule in statemachines.STATE_TRIGGERS:
        assert rule.kinds
        for kind in rule.kinds:
            rows = statemachines.transitions_for(kind)
            assert any((row.source, row.event) == (rule.source, rule.event) for row in rows), rule


# The table as data.


@pytest.mark.parametrize("kind", K)
def test_transitions_for_selects_the_rows_of_a_kind(kind: EntryKind) -> None:
    rows = statemachines.transitions_for(kind)
    assert rows
    assert all(kind in row.kinds for row in rows)
    assert rows == tuple(row for row in statemachines.TRANSITIONS if kind in row.kinds)


def test_every_row_applies_to_some_kind() -> None:
    for row in statemachines.TRANSITIONS:
        assert row.kinds
        assert row.kinds <= set(K)
        assert any(row in statemachines.transitions_for(kind) for kind in K)


def _holds(row: Transition, guards: Guards) -> bool:
    def value(guard: Guard) -> bool:
        return bool(getattr(guards, guard.value))

    return all(value(g) for g in row.conditions) and not any(value(g) for g in row.unless)


@pytest.mark.parametrize("kind", K)
def test_rows_sharing_a_source_and_event_are_exclusive(kind: EntryKind) -> None:
    groups: dict[tuple[LifecycleState, LifecycleEvent], list[Transition]] = {}
    for row in statemachines.transitions_for(kind):
        groups.setdefault((row.source, row.event), []).append(row)
    shared = {key: rows for key, rows in groups.items() if len(rows) > 1}
    assert shared  # the table does have such groups (unhealthy in starting, gone)
    for key, rows in shared.items():
        for a, b in itertools.combinations(rows, 2):
            # Structurally: one row requires a guard the other forbids.
            assert set(a.conditions) & set(b.unless) or set(a.unless) & set(b.conditions), key
        for guards in ALL_GUARD_VALUES:
            # Semantically: never two rows at once.
            assert sum(_holds(row, guards) for row in rows) <= 1, (key, guards)


def test_guards_name_the_model_methods() -> None:
    # The model's protocol asks each guard by its name; the base holds only the state.
    for guard in Guard:
        assert callable(getattr(statemachines.LifecycleModel, guard.value))
        assert not hasattr(statemachines.Lifecycle, guard.value)
    assert [guard.value for guard in Guard] == [field.name for field in fields(Guards)]


def test_state_sets() -> None:
    assert {STARTING, READY, FAILING} == statemachines.ACTIVE_STATES
    assert {STARTING, READY, FAILING, STOPPING} == statemachines.RUNNING_STATES


@pytest.mark.parametrize("kind", list(K), ids=lambda k: k.value)
def test_fire_agrees_with_the_transitions_engine(kind: EntryKind) -> None:
    """`fire` walks the machine's rows itself; `transitions`' own engine must agree."""
    lives = Lives(kind)
    for state, event, guards in itertools.product(S, E, ALL_GUARD_VALUES):
        ours = lives.new(guards)
        theirs = lives.new(guards)
        ours.state = theirs.state = state
        try:
            our_result: object = statemachines.fire(ours, event)
        except statemachines.IllegalTransition:
            our_result = ILLEGAL
        machine_event = lives.machine.events.get(event.value)
        try:
            if machine_event is None:
                raise MachineError("no such event")
            their_result: object = machine_event.trigger(theirs)
        except MachineError:
            their_result = ILLEGAL
        assert (our_result, ours.state) == (their_result, theirs.state), (state, event, guards)
