"""`verify`: many simulated runs of a user's system under fault schedules
drawn by Hypothesis, and a readable counterexample when one breaks a rule."""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings
from hypothesis import strategies as st

from statemachines import LifecycleEvent

from .._command import Command
from .._daemons import Daemons
from .._defaults import FAULT_HORIZON, VERIFY_EXAMPLES
from .._events import (
    ErrorReported,
    ProcessExited,
    ProcessSignalled,
    ProcessSpawned,
    Transitioned,
)
from .._load_system import load_system
from .._options import EntrySpec
from ..errors import HealthDaemonsError
from ._report import timeline_lines
from ._schedules import (
    ALL_FAULTS,
    SLOW_SPAWN,
    EntryFaults,
    Faults,
    FaultSchedule,
    ProcessRun,
    fault_schedules,
)
from ._shutdown_bound import worst_chain
from ._simulation import SimulatedRun, refuse_running_loop, simulate

__all__ = [
    "VerificationError",
    "VerificationReport",
    "verify",
    "worst_case_schedule",
]


class VerificationError(HealthDaemonsError, AssertionError):
    """`verify` found a run that breaks an invariant or the shutdown budget.

    The message shows the (shrunk) fault schedule and a timeline of the
    entries involved; `run` is the whole simulated run (`None` from `explore`).
    """

    def __init__(self, message: str, run: SimulatedRun | None = None) -> None:
        super().__init__(message)
        self.run = run


@dataclass(frozen=True)
class VerificationReport:
    """What `verify` saw; it found no violation."""

    examples: int
    """Simulated runs: one without faults, the worst cases, the random schedules."""
    worst_shutdown: float
    """The longest `term()` seen, in seconds."""
    worst_case_shutdown: float
    """The longest a `term()` can take: the SIGTERM timeouts along
    `critical_path`, and a slow spawn (`SLOW_SPAWN`) per command on it when
    the schedules have slow starts (a stop waits for a spawn in progress)."""
    critical_path: tuple[str, ...]
    """The chain of entries whose stops, one after the other, take longest."""
    seen: Mapping[str, int] = field(default_factory=dict)
    """How many runs had each kind of event: crashes, SIGKILLs, cascades ..."""

    def __str__(self) -> str:
        lines = [
            f"verified: {self.examples} simulated runs, no violation",
            f"worst shutdown seen: {self.worst_shutdown:g} s; worst case "
            f"{self.worst_case_shutdown:g} s along {' -> '.join(self.critical_path) or '-'}",
        ]
        if self.seen:
            lines.append(
                "runs with: " + ", ".join(f"{what} {n}" for what, n in sorted(self.seen.items()))
            )
        return "\n".join(lines)


def worst_case_schedule(system: Daemons) -> FaultSchedule:
    """Every process along the slowest chain ignores SIGTERM until SIGKILL,
    and `term()` comes once everything is ready (a oneshot at the top of
    the chain hangs instead of finishing)."""
    _, chain = worst_chain(system.entries)
    # (Only the top of the chain can be a oneshot; it then never finishes.)
    stubborn = EntryFaults(runs=(ProcessRun(stop_time=None),))
    entries = dict.fromkeys(chain, stubborn)
    return FaultSchedule(entries, term_at=None)


def verify(
    system: Daemons | str | os.PathLike[str],
    *,
    max_examples: int = VERIFY_EXAMPLES,
    shutdown_budget: float | None = None,
    faults: Faults | st.SearchStrategy[FaultSchedule] = ALL_FAULTS,
    horizon: float = FAULT_HORIZON,
    random_seed: int | None = 0,
) -> VerificationReport:
    """Run `system` (a `Daemons`, or a config file's path) without faults,
    under the worst-case schedules and under `max_examples` random ones, without
    real processes and in no real time, checking invariants 1 to 6 of the
    specification and, if given, that every `term()` ends within
    `shutdown_budget` seconds.

    `faults` selects the kinds of fault drawn (`Faults`), or is a strategy of
    `FaultSchedule`s of your own. `random_seed` makes the search repeatable
    (`None` draws a new one each call). Raises `VerificationError` with the
    shrunk counterexample; returns a `VerificationReport` otherwise.
    """
    refuse_running_loop("verify")
    if not isinstance(max_examples, int) or max_examples < 0:
        raise ValueError(f"max_examples must be a whole number >= 0, not {max_examples!r}")
    if shutdown_budget is not None and not shutdown_budget >= 0:
        raise ValueError(f"shutdown_budget must be seconds >= 0, not {shutdown_budget!r}")
    if not horizon > 0 or math.isinf(horizon):
        raise ValueError(f"horizon must be a finite number of seconds > 0, not {horizon!r}")
    daemons = load_system(system)
    strategy = (
        faults
        if isinstance(faults, st.SearchStrategy)
        else fault_schedules(daemons, faults=faults, horizon=horizon)
    )
    examples = [0]
    worst = [0.0]
    seen: Counter[str] = Counter()

    def run_one(schedule: FaultSchedule) -> SimulatedRun:
        run = simulate(daemons, schedule, shutdown_budget=shutdown_budget, horizon=horizon)
        examples[0] += 1
        _raise_if_failed(run)
        assert run.shutdown_time is not None
        worst[0] = max(worst[0], run.shutdown_time)
        seen.update(_what_happened(run))
        return run

    # A stop waits for a spawn in progress, so slow spawns add one to the worst case.
    slow_spawns = isinstance(faults, Faults) and faults.slow_starts
    worst_case, chain = _worst_chain(daemons.entries, slow_spawns)
    # No faults first, so that a broken rule shows without any to explain.
    run_one(FaultSchedule())
    schedule = worst_case_schedule(daemons)
    run = run_one(schedule)
    if slow_spawns and chain:
        run_one(_with_a_spawn_in_progress(schedule, run, chain[0]))
    if max_examples > 0:
        _search(strategy, run_one, max_examples, random_seed)
    return VerificationReport(examples[0], worst[0], worst_case, chain, dict(seen))


def _worst_chain(specs: Sequence[EntrySpec], slow_spawns: bool) -> tuple[float, tuple[str, ...]]:
    """`worst_chain`, plus one slow spawn if a command is on the chain."""
    worst_case, chain = worst_chain(specs)
    commands = {spec.id for spec in specs if isinstance(spec.exec, Command)}
    if slow_spawns and commands.intersection(chain):
        worst_case += SLOW_SPAWN
    return worst_case, chain


def _with_a_spawn_in_progress(
    schedule: FaultSchedule, run: SimulatedRun, top: str
) -> FaultSchedule:
    """The worst case again, with `term()` at the start of a slow spawn of the
    chain's top entry (at the moment it was spawned in `run`)."""
    spawned = [e.at for e in run.history if isinstance(e, ProcessSpawned) and e.entry == top]
    if not spawned:
        return schedule
    slow = EntryFaults(runs=(ProcessRun(spawn_time=SLOW_SPAWN, stop_time=None),))
    return FaultSchedule({**schedule.entries, top: slow}, term_at=spawned[0] + 1e-9)


def _search(
    strategy: st.SearchStrategy[FaultSchedule],
    run_one: Callable[[FaultSchedule], object],
    max_examples: int,
    random_seed: int | None,
) -> None:
    """Hypothesis draws the schedules, and shrinks the first failing one."""

    @settings(
        max_examples=max_examples,
        database=None,
        deadline=None,
        verbosity=Verbosity.quiet,
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate, Phase.shrink],
    )
    @given(schedule=strategy)
    def search(schedule: FaultSchedule) -> None:
        run_one(schedule)

    if random_seed is not None:
        search = seed(random_seed)(search)
    search()


def _raise_if_failed(run: SimulatedRun) -> None:
    if run.crash is not None:
        raise VerificationError(
            f"the supervisor itself crashed: {run.crash!r}\n\n"
            + _explain(run, (), AssertionError("crash")),
            run,
        ) from run.crash
    if run.failure is not None:
        entries: tuple[str, ...] = getattr(run.failure, "entries", ())
        raise VerificationError(f"{run.failure}\n\n{_explain(run, entries, run.failure)}", run)


def _explain(run: SimulatedRun, entries: Sequence[str], failure: AssertionError) -> str:
    """The schedule, then the timeline of the entries involved (all if none are named)."""
    lines = ["Fault schedule:"]
    kinds = {spec.id: spec.kind for spec in run.specs}
    lines.extend(f"  {line}" for line in run.schedule.describe(kinds))
    lines.extend(timeline_lines(run.history, entries, 0.0, failure, run.operator_calls))
    if not math.isnan(run.term_called_at):
        took = "never returned" if run.shutdown_time is None else f"took {run.shutdown_time:g} s"
        lines.append(f"term() was called at {run.term_called_at:g} s and {took}.")
    return "\n".join(lines)


OPERATOR_SEEN = {
    "stop": "operator stops",
    "start": "operator starts",
    "restart": "operator restarts",
}


def _what_happened(run: SimulatedRun) -> set[str]:
    found: set[str] = set()
    for call in run.operator_calls:
        # (term_called_at is NaN if term() never came: every action was before it.)
        after_term = call.at >= run.term_called_at
        found.add("operator actions after term()" if after_term else OPERATOR_SEEN[call.action])
    for event in run.history:
        if isinstance(event, ProcessExited) and not event.clean:
            found.add("crashes")
        elif isinstance(event, ProcessSignalled) and event.signal in {"SIGKILL", "abandon"}:
            found.add("forced stops")
        elif isinstance(event, ErrorReported):
            found.add("errors reported")
        elif isinstance(event, Transitioned):
            if event.event is LifecycleEvent.DEPENDENCY_LOST:
                found.add("dependency losses")
            elif event.event is LifecycleEvent.GIVE_UP:
                found.add("give-ups")
    return found
