"""Fault schedules: what each simulated process and check does, and when
`term()` comes; and the Hypothesis strategies that draw them.

A schedule describes the world, not the supervisor: a process that is
ready after two seconds, crashes after five, ignores SIGTERM; a check that
fails twice from the third second on. The simulator plays it against the
real coordinator. Every field's default is the healthy case, and the strategies
draw the healthy value first, so Hypothesis shrinks a failing schedule
toward fewer and smaller faults.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from hypothesis import strategies as st

from statemachines import EntryKind

from .._command import Command
from .._daemons import Daemons
from .._defaults import FAULT_HORIZON
from .._options import RESTART_POLICIES, EntrySpec
from .._ready import Ready
from .._results import HealthCheckResult

__all__ = [
    "OPERATOR_ACTIONS",
    "EntryFaults",
    "FaultSchedule",
    "Faults",
    "OperatorAction",
    "ProcessRun",
    "fault_schedules",
    "systems",
]

SLOW_SPAWN = 0.05
"""A slow spawn, in seconds: long enough for a stop to land during it (a
real fork and exec take milliseconds; a slow start is `ready_after`)."""


@dataclass(frozen=True, slots=True)
class ProcessRun:
    """What one process of an entry does. Times are seconds after its spawn."""

    spawn_time: float = 0.0
    """How long spawning takes; a stop that lands meanwhile waits for it."""
    spawn_fails: bool = False
    """It cannot start at all (like a missing program)."""
    ready_after: float | None = 0.0
    """When its check starts passing (or it announces readiness); `None`: never."""
    exit_after: float | None = None
    """When it exits by itself; `None`: it runs until stopped."""
    exit_code: int = 0
    """Its exit code when it exits by itself (0 is a clean exit)."""
    stop_time: float | None = 0.0
    """How long it takes to stop once told to; `None`: it ignores SIGTERM
    (or cancellation) until SIGKILL (or abandonment)."""
    leaves_children: bool = False
    """When it exits by itself, a child it forked lives on until stopped."""

    def describe(self, kind: EntryKind = EntryKind.DAEMON) -> str:
        """Its faults in words, or `healthy`."""
        if self.spawn_fails:
            return "cannot start"
        parts: list[str] = []
        if self.spawn_time:
            parts.append(f"spawn takes {self.spawn_time:g} s")
        if kind is not EntryKind.ONESHOT and self.ready_after is None:
            parts.append("never ready")
        elif kind is not EntryKind.ONESHOT and self.ready_after:
            parts.append(f"ready after {self.ready_after:g} s")
        if self.exit_after is None and kind is EntryKind.ONESHOT:
            parts.append("never finishes")
        elif self.exit_after is not None:
            verb = "finishes" if kind is EntryKind.ONESHOT else "exits"
            how = verb if self.exit_code == 0 else f"crashes (exit code {self.exit_code})"
            if self.exit_after or self.exit_code or kind is not EntryKind.ONESHOT:
                parts.append(f"{how} after {self.exit_after:g} s")
            if self.leaves_children:
                parts.append("leaving a child behind")
        if self.stop_time is None:
            parts.append("ignores SIGTERM")
        elif self.stop_time:
            parts.append(f"takes {self.stop_time:g} s to stop")
        return ", ".join(parts) or "healthy"


HEALTHY_DAEMON = ProcessRun()
HEALTHY_ONESHOT = ProcessRun(exit_after=0.0)


@dataclass(frozen=True, slots=True)
class EntryFaults:
    """The faults of one entry."""

    runs: tuple[ProcessRun, ...] = ()
    """Its processes, in the order they are spawned; the last one repeats.
    Without any, every process is healthy (a oneshot exits 0 at once)."""
    check_fails: tuple[tuple[float, float], ...] = ()
    """Flaps `(start, count)`: from `start` seconds on, its next `count` checks
    fail (`math.inf`: every one). Counted in checks, not seconds, so a flap
    is seen however rarely the entry's trigger checks."""

    def run(self, index: int, kind: EntryKind) -> ProcessRun:
        """What its `index`-th process (from 0) does."""
        if not self.runs:
            return HEALTHY_ONESHOT if kind is EntryKind.ONESHOT else HEALTHY_DAEMON
        return self.runs[min(index, len(self.runs) - 1)]

    def describe(self, kind: EntryKind) -> list[str]:
        runs = [run.describe(kind) for run in self.runs]
        if len(runs) == 1:
            lines = [f"every process: {runs[0]}"]
        else:
            lines = [f"process {i + 1}: {run}" for i, run in enumerate(runs)]
            if runs:
                lines[-1] += " (and every later one)"
        lines.extend(
            f"check fails from {start:g} s on"
            if math.isinf(count)
            else f"check fails {count:g} time{'s' if count != 1 else ''} from {start:g} s"
            for start, count in self.check_fails
        )
        return lines


@dataclass(frozen=True, slots=True)
class FaultSchedule:
    """The faults of a whole run: per entry id (others are healthy), and when `term()` comes."""

    entries: Mapping[str, EntryFaults] = field(default_factory=dict)
    term_at: float | None = None
    """Seconds after the start; `None`: once every operator action has been
    called and every entry is ready (or at the horizon)."""
    actions: tuple[OperatorAction, ...] = ()
    """Operator actions, each called at its moment (after `term()` too, where
    it is refused), whether or not an earlier one has returned."""

    def of(self, entry_id: str) -> EntryFaults:
        return self.entries.get(entry_id, NO_FAULTS)

    def problem(self, ids: Collection[str]) -> str | None:
        """What is wrong with this schedule for a system of `ids`, if anything."""
        unknown = [i for i in self.entries if i not in ids]
        if unknown:
            return f"no entry {unknown[0]!r} in the system (its ids: {', '.join(ids)})"
        if self.term_at is not None and not _seconds(self.term_at):
            return f"term_at must be seconds >= 0, not {self.term_at!r}"
        for action in self.actions:
            if action.entry not in ids:
                return f"an operator action on {action.entry!r}, which is not in the system"
            if action.action not in OPERATOR_ACTIONS:
                known = ", ".join(OPERATOR_ACTIONS)
                return f"no operator action {action.action!r} (there are {known})"
            if not _seconds(action.at):
                return f"{action.action}({action.entry!r}): at must be seconds >= 0"
        for entry_id, faults in self.entries.items():
            for number, run in enumerate(faults.runs, 1):
                for name in ("spawn_time", "ready_after", "exit_after", "stop_time"):
                    value = getattr(run, name)
                    if value is not None and not _seconds(value):
                        return f"{entry_id} process {number}: {name} must be seconds >= 0 or None"
            for start, count in faults.check_fails:
                if not _seconds(start) or not count >= 0:
                    return f"{entry_id}: a flap needs a start >= 0 and a count >= 0"
        return None

    def describe(self, kinds: Mapping[str, EntryKind]) -> list[str]:
        """The schedule in words, one line per fault; `kinds` by entry id."""
        settled = "once every entry is ready"
        if self.actions:
            settled = "after the operator actions, " + settled
        when = (
            f"{settled} (or at the horizon)"
            if self.term_at is None
            else f"at {round(self.term_at, 6):g} s"
        )
        lines = [f"term() {when}"]
        for entry_id, faults in self.entries.items():
            lines.extend(f"{entry_id}: {line}" for line in faults.describe(kinds[entry_id]))
        lines.extend(action.describe() for action in sorted(self.actions, key=lambda a: a.at))
        return lines


NO_FAULTS = EntryFaults()

OPERATOR_ACTIONS = ("stop", "start", "restart")
"""The operator actions of docs/spec.md section 10, by their method names."""


@dataclass(frozen=True, slots=True)
class OperatorAction:
    """An operator's `stop`, `start` or `restart` of one entry, `at` seconds after the start."""

    at: float
    action: str
    entry: str

    def describe(self) -> str:
        return f"operator calls {self.action}({self.entry!r}) at {round(self.at, 6):g} s"


def _seconds(value: float) -> bool:
    return isinstance(value, int | float) and 0 <= value < math.inf


@dataclass(frozen=True, slots=True)
class Faults:
    """Which kinds of fault the schedules may contain; all of them by default."""

    crashes: bool = True
    """Processes exit by themselves, cleanly or not; oneshots fail."""
    flaps: bool = True
    """Checks fail for a while, or from some moment on."""
    slow_starts: bool = True
    """Spawning takes time; readiness comes late, or never."""
    slow_stops: bool = True
    """A process takes a while to stop after SIGTERM."""
    ignored_sigterm: bool = True
    """A process ignores SIGTERM until SIGKILL."""
    spawn_failures: bool = True
    """A command cannot start."""
    leftovers: bool = True
    """A process that exits leaves a child behind."""
    term_anytime: bool = True
    """`term()` at any moment, not only once everything is ready."""
    operator_actions: bool = True
    """An operator stops, starts or restarts entries at any moment (docs/spec.md section 10)."""


ALL_FAULTS = Faults()


def _halves(upper: float) -> st.SearchStrategy[float]:
    return st.integers(0, max(1, int(2 * upper))).map(lambda n: n / 2)


def _moments(upper: float, *marks: float) -> st.SearchStrategy[float]:
    """A time from 0 to `upper`: the marks (the first is what it shrinks to) or any half second."""
    marks = tuple(dict.fromkeys(m for m in marks if 0 <= m <= upper))
    return st.sampled_from(marks) | _halves(upper)


def _rarely() -> st.SearchStrategy[bool]:
    """True one time in eight: a fault that would otherwise hide the others."""
    return st.integers(0, 7).map(lambda n: n == 7)


def _sigterm_timeout(spec: EntrySpec) -> float:
    return spec.exec.sigterm_timeout if spec.exec is not None else 0.0


def _grace(spec: EntrySpec) -> float:
    return spec.ready.grace_period if spec.ready is not None else 0.0


def _process_runs(spec: EntrySpec, faults: Faults, horizon: float) -> st.SearchStrategy[ProcessRun]:
    timeout, grace = _sigterm_timeout(spec), _grace(spec)
    oneshot = spec.kind is EntryKind.ONESHOT
    never: st.SearchStrategy[None] = st.none()
    spawn_time = st.sampled_from([0.0, SLOW_SPAWN]) if faults.slow_starts else st.just(0.0)
    ready_after = (
        _moments(horizon, 0.0, 1.0, grace, grace + 1) | never
        if faults.slow_starts and not oneshot
        else st.just(0.0)
    )
    if oneshot:
        # A oneshot's run: how long it takes, and whether it fails; or it hangs.
        exit_after: st.SearchStrategy[float | None] = _moments(horizon, 0.0, 1.0)
        if faults.slow_starts:
            exit_after = exit_after | never
    elif faults.crashes:
        exit_after = never | _moments(horizon, 0.0, 1.0, grace, 61.0)
    else:
        exit_after = never
    exit_code = st.sampled_from([0, 1]) if oneshot else st.sampled_from([1, 0])
    if not faults.crashes:
        exit_code = st.just(0)
    stop = (
        _moments(1.5 * timeout, 0.0, 0.5, timeout / 2, timeout)
        if faults.slow_stops
        else st.just(0.0)
    )
    stop_time: st.SearchStrategy[float | None] = stop | never if faults.ignored_sigterm else stop
    command = isinstance(spec.exec, Command)
    return st.builds(
        ProcessRun,
        spawn_time=spawn_time if command else st.just(0.0),
        spawn_fails=_rarely() if faults.spawn_failures and command else st.just(False),
        ready_after=ready_after,
        exit_after=exit_after,
        exit_code=exit_code,
        stop_time=stop_time,
        leaves_children=_rarely() if faults.leftovers and command else st.just(False),
    )


def _flaps(horizon: float) -> st.SearchStrategy[tuple[tuple[float, float], ...]]:
    flap = st.tuples(_moments(horizon, 0.0), st.sampled_from([1.0, 2.0, 3.0, math.inf]))
    return st.lists(flap, max_size=3).map(lambda flaps: tuple(sorted(flaps)))


def _entry_faults(
    spec: EntrySpec, faults: Faults, horizon: float
) -> st.SearchStrategy[EntryFaults]:
    runs: st.SearchStrategy[tuple[ProcessRun, ...]] = st.just(())
    if spec.exec is not None:
        runs = st.lists(_process_runs(spec, faults, horizon), max_size=3).map(tuple)
    checked = spec.ready is not None and spec.kind is not EntryKind.ONESHOT
    flaps = _flaps(horizon) if faults.flaps and checked else st.just(())
    return st.builds(EntryFaults, runs=runs, check_fails=flaps)


MAX_DRAWN_ACTIONS = 3
"""Operator actions in one drawn schedule, at most: a stop, a start and a
restart are enough to reach every combination of held, released and restarting."""


def _operator_actions(
    ids: Sequence[str], horizon: float
) -> st.SearchStrategy[tuple[OperatorAction, ...]]:
    action = st.builds(
        OperatorAction,
        at=_moments(horizon, 1.0, 0.0),
        action=st.sampled_from(OPERATOR_ACTIONS),
        entry=st.sampled_from(ids),
    )
    return st.lists(action, max_size=MAX_DRAWN_ACTIONS).map(
        lambda actions: tuple(sorted(actions, key=lambda a: a.at))
    )


def fault_schedules(
    system: Daemons, *, faults: Faults = ALL_FAULTS, horizon: float = FAULT_HORIZON
) -> st.SearchStrategy[FaultSchedule]:
    """Schedules for `system`: per entry, what its processes and check do,
    and when `term()` comes, within `horizon` seconds. Times are drawn
    around the system's own grace periods and SIGTERM timeouts."""
    per_entry = {
        spec.id: _entry_faults(spec, faults, horizon)
        for spec in system.entries
        if spec.exec is not None or spec.ready is not None
    }
    term_at: st.SearchStrategy[float | None] = st.none()
    if faults.term_anytime:
        # Late as often as early, so that the faults have time to play out.
        term_at = term_at | st.just(horizon) | _moments(horizon, 0.0, 1.0)
    actions: st.SearchStrategy[tuple[OperatorAction, ...]] = st.just(())
    if faults.operator_actions and system.entries:
        actions = _operator_actions([spec.id for spec in system.entries], horizon)
    return st.builds(
        FaultSchedule,
        entries=st.fixed_dictionaries(per_entry).map(
            lambda found: {i: f for i, f in found.items() if f != NO_FAULTS}
        ),
        term_at=term_at,
        actions=actions,
    )


def _always_ready() -> HealthCheckResult:
    return HealthCheckResult.success()


@st.composite
def systems(draw: st.DrawFn, max_entries: int = 8) -> Daemons:
    """Random systems of up to `max_entries` daemons, oneshots and checks
    (ids `e0`, `e1` ...), with random dependencies, SIGTERM timeouts, grace
    periods and `max_restarts`, restart policies, start timeouts and `once`.
    Their commands are placeholders (`sleep`, `true`) and their checks
    always pass: they are meant to be simulated."""
    system = Daemons.of()
    for index in range(draw(st.integers(1, max_entries))):
        entry_id = f"e{index}"
        requires = sorted(draw(st.sets(st.integers(0, index - 1), max_size=3))) if index else []
        needs = [f"e{r}" for r in requires]
        kind = draw(st.sampled_from(list(EntryKind)))
        timeout = draw(st.sampled_from([1.0, 5.0, 30.0, 0.5]))
        ready = Ready(entry_id, _always_ready, grace_period=draw(st.sampled_from([5.0, 0.0, 1.0])))
        max_restarts = draw(st.none() | st.integers(0, 3))
        if kind is EntryKind.CHECK:
            system = system.add_health_check(entry_id, ready=ready, requires=needs)
        elif kind is EntryKind.ONESHOT:
            command = Command(["true"], sigterm_timeout=timeout)
            system = system.add_oneshot(
                entry_id,
                exec=command,
                requires=needs,
                max_restarts=max_restarts,
                once=draw(st.booleans()),
            )
        else:
            command = Command(["sleep", "infinity"], sigterm_timeout=timeout)
            system = system.add_daemon(
                entry_id,
                exec=command,
                ready=ready,
                requires=needs,
                max_restarts=max_restarts,
                restart=draw(st.sampled_from(RESTART_POLICIES)),
                start_timeout=draw(st.none() | st.sampled_from([2.0, 20.0])),
            )
    return system
