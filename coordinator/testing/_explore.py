"""`explore`: every interleaving of the events a small system can see.

The real coordinator runs against puppets: each spawn, process exit, check
result, the call to `term()`, an operator's `stop`, `start` or `restart` of
an entry (a bounded number per path) and the passing of time (to the next
timer) is a choice the explorer makes whenever every task is blocked. Runs are
re-executed from the start along a path of choices (a running coordinator
cannot be copied), breadth first, and a state seen before is not explored
again (unless it is reached later into the shutdown, which invariant 4
bounds). A state is what the rules can see: each entry's lifecycle state,
its processes, a check in flight, functions still cleaning up, whether its
grace period is over, its restarts if it has a `max_restarts`, whether an
operator holds it; whether `term()` was called, and how many operator
actions the path has taken. Timers are not part of it (a restart count without
`max_restarts` only changes a backoff timer), so the search is exhaustive
over these states, not over every clock value. Orders of two choices that
commute are run once (sleep sets, `_reduction`), and a state reached again
with no more operator actions left than before is covered by the earlier
visit (subsumption by operator budget, `_reduction`): every state is still
visited, with at least as many actions left, by fewer transitions.

What a search costs is its runs: at least one for each transition into a
state already seen (it cannot go on from there without copying the run),
each replaying its path from the start. So the runs share one trio run
loop, each from time 0 on a clock of the explorer's own
(`_virtual_clock`), and the garbage collector collects only the young
generations, after each run (`_collector`).
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import anyio
import anyio.abc
import trio
import trio.testing

from statemachines import EntryKind, LifecycleState

from .._command import Command
from .._command_process import SpawnSettings
from .._daemons import Daemons
from .._defaults import EXPLORE_MAX_DEPTH, EXPLORE_MAX_STATES, EXPLORE_OPERATOR_ACTIONS
from .._entry_view import EntryView
from .._events import Event
from .._load_system import load_system
from .._options import EntrySpec, ExecFunction
from .._process_handle import ExitStatus
from .._ready import CheckFn
from .._results import HealthCheckResult
from ._collector import collect_young, young_collections
from ._invariants import HistoryReplay, InvariantViolation
from ._reduction import Fingerprint, Search, Sleep, Task, silent
from ._report import OperatorCall, timeline_lines
from ._shutdown_bound import shutdown_bound, shutdown_failures
from ._simulation import call_operator_action, refuse_running_loop, simulated_system
from ._verify import VerificationError
from ._virtual_clock import VirtualClock, pass_time_when_idle

__all__ = ["ExplorationError", "ExplorationReport", "explore"]


class ExplorationError(VerificationError):
    """`explore` reached a state that breaks an invariant; the message shows
    the path of choices that leads there and the timeline of that run."""

    def __init__(self, message: str, path: Sequence[str], history: Sequence[Event]) -> None:
        super().__init__(message)
        self.path = tuple(path)
        self.history = tuple(history)


@dataclass(frozen=True)
class ExplorationReport:
    """What `explore` covered; it found no violation."""

    states: int
    """States explored (one reached again later into the shutdown, or with
    more operator actions left, counts again)."""
    transitions: int
    """Choices explored from them."""
    runs: int
    """Runs of the coordinator it took (each replays a path from the start)."""
    complete: bool
    """`False` if `max_states` or `max_depth` cut the search short."""

    def __str__(self) -> str:
        done = "every reachable state" if self.complete else "cut short by its limits"
        return (
            f"explored {self.states} states and {self.transitions} transitions "
            f"in {self.runs} runs ({done}); no violation"
        )


@dataclass(frozen=True)
class _Choice:
    """One move the explorer can make: what it is called, how to make it, and
    the entry it concerns (`None` for `term()`, an operator action, time)."""

    label: str
    apply: Callable[[], object]
    entry: str | None


class _Puppet:
    """A process (or an `ExecFn`) whose every move the explorer chooses."""

    def __init__(self, entry_id: str, kind: EntryKind, pid: int | None, timeout: float) -> None:
        self.entry_id = entry_id
        self.kind = kind
        self.pid = pid
        self.sigterm_timeout = timeout
        self.signalled = False
        self.status: ExitStatus | None = None
        self.exited = anyio.Event()
        self.ended_callback: Callable[[], None] | None = None
        self.on_ready: Callable[[str | None], None] | None = None
        self.run = 1

    @property
    def running(self) -> bool:
        return self.status is None

    def exit(self, status: ExitStatus) -> None:
        if self.status is None:
            self.status = status
            self.exited.set()
            callback, self.ended_callback = self.ended_callback, None
            if callback is not None:
                callback()

    def when_ended(self, callback: Callable[[], None]) -> None:
        if self.status is None:
            self.ended_callback = callback
        else:
            callback()

    async def wait(self) -> ExitStatus:
        await self.exited.wait()
        assert self.status is not None
        return self.status

    async def wait_gone(self) -> None:
        await self.exited.wait()

    def terminate(self) -> str:
        self.signalled = True
        return "SIGTERM"

    def kill(self) -> str:
        self.exit(ExitStatus(-9, True, "signal SIGKILL"))
        return "SIGKILL"

    def choices(self) -> list[_Choice]:
        if self.status is not None:
            return []
        name = self.entry_id
        if self.signalled:
            return [_Choice(f"{name} stops on SIGTERM", lambda: self.exit(_SIGTERMED), name)]
        found = [_Choice(f"{name} crashes", lambda: self.exit(_CRASHED), name)]
        if self.kind is EntryKind.ONESHOT:
            found.append(_Choice(f"{name} exits 0", lambda: self.exit(_EXIT_0), name))
        if self.on_ready is not None:
            on_ready = self.on_ready

            def announce() -> None:
                self.on_ready = None
                on_ready(None)

            found.append(_Choice(f"{name} announces it is ready", announce, name))
        return found


_SIGTERMED = ExitStatus(-15, True, "signal SIGTERM")
_CRASHED = ExitStatus(1, False, "exit code 1")
_EXIT_0 = ExitStatus(0, True, "exit code 0")


class _Stage:
    """The puppets of one run, and the choices they offer."""

    def __init__(self, specs: Sequence[EntrySpec]) -> None:
        self.kinds = {spec.id: spec.kind for spec in specs}
        self.puppets: list[_Puppet] = []
        self.spawning: dict[str, anyio.Event] = {}
        self.checks: dict[str, tuple[anyio.Event, list[HealthCheckResult]]] = {}
        self.cleanups: dict[_Puppet, anyio.Event] = {}
        """Cancelled functions still cleaning up (an abandoned one may linger
        while the next one of the same entry runs)."""
        self.auto = False
        self.next_pid = 1001

    def choices(self) -> list[_Choice]:
        return sorted(self.unordered_choices(), key=lambda c: c.label)

    def unordered_choices(self) -> list[_Choice]:
        """`choices` in the order they were made (enough to find one by its
        label: a sort is stable, so the first of a label is the same)."""
        found: list[_Choice] = []
        for entry_id, spawned in self.spawning.items():
            found.append(_Choice(f"{entry_id} spawn finishes", spawned.set, entry_id))
        for entry_id, (answered, answer) in self.checks.items():
            for result in (HealthCheckResult.success(), HealthCheckResult.failure("fails")):

                def give(
                    result: HealthCheckResult = result,
                    answered: anyio.Event = answered,
                    answer: list[HealthCheckResult] = answer,
                ) -> None:
                    answer.append(result)
                    answered.set()

                found.append(_Choice(f"{entry_id} check {result.result.value}", give, entry_id))
        for puppet, cleaned in self.cleanups.items():
            label = f"{puppet.entry_id} run {puppet.run} finishes its cleanup"
            found.append(_Choice(label, cleaned.set, puppet.entry_id))
        for puppet in self.puppets:
            found.extend(puppet.choices())
        return found

    def release_all(self) -> None:
        """Let everything go on by itself (the run is being ended)."""
        self.auto = True
        for event in [*self.spawning.values(), *self.cleanups.values()]:
            event.set()
        for answered, answer in self.checks.values():
            answer.append(HealthCheckResult.failure("ended"))
            answered.set()
        for puppet in self.puppets:
            if puppet.signalled:
                puppet.exit(_SIGTERMED)

    async def start_command(self, command: Command, settings: SpawnSettings) -> _Puppet:
        entry_id = settings.entry_id
        if not self.auto:
            spawned = self.spawning[entry_id] = anyio.Event()
            await spawned.wait()
            del self.spawning[entry_id]
        puppet = _Puppet(entry_id, self.kinds[entry_id], self.next_pid, command.sigterm_timeout)
        self.next_pid += 1
        if settings.announcement is not None:
            puppet.on_ready = settings.on_ready
        self.puppets.append(puppet)
        return puppet

    def function(self, spec: EntrySpec, timeout: float) -> ExecFunction:
        async def play(_: object) -> None:
            puppet = _Puppet(spec.id, spec.kind, None, timeout)
            self.puppets.append(puppet)
            puppet.run = sum(p.entry_id == spec.id for p in self.puppets)
            try:
                status = await puppet.wait()
            except anyio.get_cancelled_exc_class():
                puppet.exit(_SIGTERMED)
                if not self.auto:
                    with anyio.CancelScope(shield=True):
                        cleaned = self.cleanups[puppet] = anyio.Event()
                        await cleaned.wait()
                        del self.cleanups[puppet]
                raise
            if not status.clean:
                raise RuntimeError("crashed")

        return play

    def check(self, spec: EntrySpec) -> CheckFn:
        async def check() -> HealthCheckResult:
            if self.auto:
                return HealthCheckResult.failure("ended")
            answered, answer = self.checks[spec.id] = (anyio.Event(), [])
            try:
                await answered.wait()
            finally:
                self.checks.pop(spec.id, None)
            return answer[0]

        return check

    def entry_parts(self) -> dict[str, tuple[tuple[bool, tuple[bool, ...]], bool, int]]:
        """For each entry with anything under way: whether a spawn is, and for
        each live process whether it was signalled; whether a check is in
        flight; how many cancelled functions are still cleaning up."""
        alive: dict[str, list[bool]] = {}
        for puppet in self.puppets:
            if puppet.status is None:
                alive.setdefault(puppet.entry_id, []).append(puppet.signalled)
        cleaning: dict[str, int] = {}
        for puppet in self.cleanups:
            cleaning[puppet.entry_id] = cleaning.get(puppet.entry_id, 0) + 1
        busy = {*alive, *self.spawning, *self.checks, *cleaning}
        return {
            entry_id: (
                (entry_id in self.spawning, tuple(alive.get(entry_id, ()))),
                entry_id in self.checks,
                cleaning.get(entry_id, 0),
            )
            for entry_id in busy
        }


def explore(
    system: Daemons | str | os.PathLike[str],
    *,
    max_states: int = EXPLORE_MAX_STATES,
    max_depth: int = EXPLORE_MAX_DEPTH,
    operator_actions: int = EXPLORE_OPERATOR_ACTIONS,
) -> ExplorationReport:
    """Enumerate the interleavings of spawns finishing, check results,
    process exits, `term()`, operator actions (at most `operator_actions`
    stops, starts and restarts along one path; 0 for none) and the passing
    of time for a small system (up to about 5 entries), checking
    invariants 1 to 6 in every state reached. Orders of
    independent choices that reach the same state are run once (sleep sets),
    and a state is not explored again with fewer operator actions left
    (subsumption: see `_reduction`), so every reachable state is still
    visited. Raises
    `ExplorationError` with the path to a violation.

    While it runs, the garbage collector's automatic collections are off
    (it collects after each run of the coordinator); it is left as it was
    found."""
    report, _ = search_states(
        system, max_states=max_states, max_depth=max_depth, operator_actions=operator_actions
    )
    return report


def search_states(
    system: Daemons | str | os.PathLike[str],
    *,
    max_states: int = EXPLORE_MAX_STATES,
    max_depth: int = EXPLORE_MAX_DEPTH,
    operator_actions: int = EXPLORE_OPERATOR_ACTIONS,
    reduce: bool = True,
) -> tuple[ExplorationReport, frozenset[Fingerprint]]:
    """`explore`, and the fingerprints of the states it visited; `reduce=False`
    is the full search (every choice from every state), for the tests that
    hold the reduction to it."""
    refuse_running_loop("explore")
    for name, value in (("max_states", max_states), ("max_depth", max_depth)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a whole number >= 1, not {value!r}")
    if not isinstance(operator_actions, int) or operator_actions < 0:
        raise ValueError(f"operator_actions must be a whole number >= 0, not {operator_actions!r}")
    specs = load_system(system).entries
    search = Search(max_states, max_depth, operator_actions, reduce)
    clock = VirtualClock()
    with young_collections():
        anyio.run(_search, search, specs, clock, backend="trio", backend_options={"clock": clock})
    report = ExplorationReport(
        search.states, search.transitions, search.runs, not search.cut and not search.pending
    )
    return report, search.visited()


async def _search(search: Search, specs: tuple[EntrySpec, ...], clock: VirtualClock) -> None:
    """Run the paths left to run, one after the other, in one trio run loop;
    each from time 0, and each ends with no task of its own left."""
    tasks_before = trio.lowlevel.current_statistics().tasks_living
    while search.states < search.max_states and (task := search.next_task()) is not None:
        search.runs += 1
        clock.rewind()
        try:
            await _run_path(search, specs, task, clock)
        finally:
            collect_young()
        # What the collection finalized (an async generator left open is
        # closed in a task of trio's) ends before the next run begins.
        await trio.testing.wait_all_tasks_blocked()
        left = trio.lowlevel.current_statistics().tasks_living - tasks_before
        if left:
            raise RuntimeError(f"explore: a run left {left} tasks running")


async def _run_path(
    search: Search, specs: tuple[EntrySpec, ...], task: Task, clock: VirtualClock
) -> None:
    """Replay `task.path`; at the state it reaches, put the choices to
    explore from there on the frontier, and take the first of them in this
    same run (one run fewer for each new state). Breadth first, so a
    violation is found by a short path."""
    path = task.path
    stage = _Stage(specs)
    running = simulated_system(stage, specs)
    ids = running.ids
    views = running.entry_views
    limit = shutdown_bound(specs)
    term_times: dict[str, float] = {}
    taken: list[str] = []
    failures: list[AssertionError] = []
    actions: list[OperatorCall] = []
    """The operator actions taken, for the timeline."""

    async def call_term() -> None:
        term_times["called"] = anyio.current_time()
        await running.term()
        term_times["returned"] = anyio.current_time()

    replay = HistoryReplay(specs)
    checked = 0

    async def main() -> None:
        # Actions in a group of their own: one still waiting (a `stop` for
        # its entry to be stopped) is cancelled when the run ends.
        async with anyio.create_task_group() as ending:
            async with (
                running,
                anyio.create_task_group() as group,
                anyio.create_task_group() as operator,
            ):
                await play(group, operator)
                operator.cancel_scope.cancel()
                # Leave the path: let everything (abandoned functions too)
                # finish by itself, quickly.
                ending.start_soon(pass_time_when_idle, clock)
            ending.cancel_scope.cancel()

    def act(operator: anyio.abc.TaskGroup, action: str, entry_id: str) -> None:
        operator.start_soon(call_operator_action, running, action, entry_id, actions)

    def fingerprint() -> Fingerprint:
        return _fingerprint(views, stage, term_times, len(actions))

    def offered(
        group: anyio.abc.TaskGroup, operator: anyio.abc.TaskGroup, label: str | None = None
    ) -> list[_Choice]:
        """The choices in this state; given a `label`, only those of its kind."""
        kind = None if label is None else _kind_of(label)
        options: list[_Choice] = []
        if kind == "entry":
            options = stage.unordered_choices()
        elif kind is None:
            options = stage.choices()
        if kind in (None, "term") and "called" not in term_times:
            options.append(_Choice("term()", functools.partial(group.start_soon, call_term), None))
        if kind in (None, "operator") and len(actions) < search.max_actions:
            terminating = "called" in term_times
            options.extend(
                _Choice(
                    f"operator {verb} {entry_id}",
                    functools.partial(act, operator, name, entry_id),
                    None,
                )
                for verb, name, entry_id in _operator_moves(views, terminating, search.reduce)
            )
        # A spawn takes no time (it takes milliseconds): it is ordered among
        # the other moves, but no timer fires meanwhile.
        if kind in (None, "time") and not stage.spawning:
            wait = trio.lowlevel.current_statistics().seconds_to_next_deadline
            if math.isfinite(wait):
                jump = functools.partial(clock.jump, wait)
                options.append(_Choice(f"time passes {wait:g} s", jump, None))
        return options

    async def play(group: anyio.abc.TaskGroup, operator: anyio.abc.TaskGroup) -> None:
        nonlocal checked
        # The last choice taken, to judge whether it was silent: the task it
        # ends, its entry, the state and the history's length before it.
        judged: tuple[Task, str | None, Fingerprint, int] | None = None
        while True:
            await trio.testing.wait_all_tasks_blocked()
            history = running.history
            if len(history) > checked:
                # (Nothing new: the invariants hold as they held.)
                try:
                    replay.feed(history[checked:])
                    checked = len(history)
                    replay.end_of_step()
                except InvariantViolation as violation:
                    failures.append(violation)
                    break
            if "returned" in term_times:
                called, returned = term_times["called"], term_times["returned"]
                alive = [(p.entry_id, p.pid) for p in stage.puppets if p.running and p.pid]
                failures.extend(shutdown_failures(running, alive, called, returned - called, limit))
                break
            step = len(taken)
            if step < len(path):
                # Replaying: only the kind of choice the path names is built
                # (all of them if it is not found there).
                label = path[step]
                chosen = [c for c in offered(group, operator, label) if c.label == label]
                chosen = chosen or [c for c in offered(group, operator) if c.label == label]
                if not chosen:
                    break  # a timer the path did not have: a different run
                if step == len(path) - 1:
                    judged = (task, chosen[0].entry, fingerprint(), len(history))
                taken.append(path[step])
                chosen[0].apply()
                continue
            options = offered(group, operator)
            state = fingerprint()
            sleep: Sleep = frozenset()
            if judged is not None:
                last, entry, before, length = judged
                quiet = search.reduce and silent(entry, before, state, history[length:], ids)
                sleep = search.sleep_after(last, quiet)
            began = term_times.get("called")
            into_term = -math.inf if began is None else anyio.current_time() - began
            plain = [(c.label, c.entry) for c in options]
            expansion = search.explore_from(state, into_term, sleep, plain)
            if expansion is None:
                break
            # Take the first choice in this run (unless this state was itself
            # reached that way: one step further only, to stay breadth first).
            further = judged is None or judged[0] is task
            if not further or len(taken) >= search.max_depth:
                search.enqueue(tuple(taken), expansion, 0)
                break
            search.enqueue(tuple(taken), expansion, 1)
            search.transitions += 1
            first, entry = expansion.choices[0]
            judged = (Task((*taken, first), expansion), entry, state, len(history))
            taken.append(first)
            next(c for c in options if c.label == first).apply()
        stage.release_all()
        if "returned" not in term_times:
            running.kill()

    await main()
    if failures:
        history = running.history
        message = _describe_failure(failures[0], taken, history, actions)
        raise ExplorationError(message, taken, history)


def _operator_moves(
    views: Sequence[EntryView], terminating: bool, reduce: bool
) -> list[tuple[str, str, str]]:
    """The operator actions worth trying, `(verb, method, entry id)`: a stop of
    an entry not held, a start of a held one (the others change nothing), a
    restart of any. Once terminating every action is refused alike: only
    those that could undo a held entry's `stopped` are tried.

    The reduced search (`reduce`) leaves out the restart of a waiting entry:
    `RunningDaemons.restart` fires nothing at one (it counts the action and
    waits for the launch the entry takes by itself), so the state it leads
    to is this one with one action more taken, which this one covers
    (subsumption by operator budget, `_reduction`): its run would only
    find that out."""
    moves: list[tuple[str, str, str]] = []
    for entry in views:
        if entry.held:
            moves.append(("starts", "start", entry.id))
        elif not terminating:
            moves.append(("stops", "stop", entry.id))
        if (entry.held or not terminating) and not (
            reduce and entry.state is LifecycleState.WAITING
        ):
            moves.append(("restarts", "restart", entry.id))
    return moves


def _kind_of(label: str) -> str:
    """Which kind of choice a label names (an entry's own, if an entry's id
    makes it look like another kind, is found by looking at all of them)."""
    if label == "term()":
        return "term"
    if label.startswith("operator "):
        return "operator"
    if label.startswith("time passes "):
        return "time"
    return "entry"


_IDLE = ((False, ()), False, 0)
"""An entry's part of the stage with nothing under way."""


def _fingerprint(
    views: Sequence[EntryView], stage: _Stage, term_times: dict[str, float], actions: int
) -> tuple[object, ...]:
    parts: list[object] = ["called" in term_times, actions]
    under_way = stage.entry_parts()
    for entry in views:
        state = entry.state
        max_restarts = entry.spec.max_restarts
        puppets, checking, cleaning = under_way.get(entry.id, _IDLE)
        parts.append(
            (
                state,
                puppets,
                checking,
                cleaning,
                0 if max_restarts is None else min(entry.restarts, max_restarts + 1),
                state is LifecycleState.STARTING and entry.grace_expired(),
                entry.held,
            )
        )
    return tuple(parts)


def _describe_failure(
    violation: AssertionError,
    path: Sequence[str],
    history: Sequence[Event],
    actions: Sequence[OperatorCall],
) -> str:
    start = history[0].at if history else 0.0
    lines = [str(violation), "", "Path (the explorer's choices, in order):"]
    lines.extend(f"  {i + 1:3}. {label}" for i, label in enumerate(path))
    entries: tuple[str, ...] = getattr(violation, "entries", ())
    lines.extend(timeline_lines(history, entries, start, violation, actions))
    return "\n".join(lines)
