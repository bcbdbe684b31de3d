"""How long a `term()` may take: the bound along the dependency graph that
invariant 4 allows, the slowest chain a schedule can really cause, and the
failures of a shutdown measured against them."""

from __future__ import annotations

from collections.abc import Sequence

from statemachines import EntryKind, LifecycleState

from .._options import EntrySpec
from .._running import RunningDaemons
from ._invariants import InvariantViolation
from ._schedules import FaultSchedule

__all__ = [
    "HANG_MARGIN",
    "ShutdownBudgetExceeded",
    "chain_with_timeouts",
    "shutdown_bound",
    "shutdown_failures",
    "worst_chain",
]

HANG_MARGIN = 60.0
"""How long past its bound a `term()` may run before the run is declared hung."""


class ShutdownBudgetExceeded(AssertionError):
    """A `term()` took longer than the `shutdown_budget` given to `verify`."""

    def __init__(self, message: str, entries: Sequence[str], at: float) -> None:
        super().__init__(message)
        self.entries = tuple(entries)
        self.at = at


def shutdown_bound(
    specs: Sequence[EntrySpec], schedule: FaultSchedule | None = None
) -> tuple[float, tuple[str, ...]]:
    """The longest a `term()` may take, and the chain of entries that sets it.

    Each entry's stop may take its spawn (a spawn in progress is finished
    first) plus its `sigterm_timeout` (SIGKILL is immediate here; an
    `ExecFn` is abandoned then). Stops run dependents first, so the bound
    is the longest chain of such costs through the dependency graph.
    """
    by_id = {spec.id: spec for spec in specs}
    longest: dict[str, tuple[float, tuple[str, ...]]] = {}
    for spec in specs:
        cost = 0.0
        if spec.exec is not None:
            spawn = 0.0
            if schedule is not None:
                spawn = max((r.spawn_time for r in schedule.of(spec.id).runs), default=0.0)
            cost = spawn + spec.exec.sigterm_timeout
        below = max(
            (longest[d] for d in spec.requires if d in by_id), key=lambda t: t[0], default=None
        )
        longest[spec.id] = (cost + below[0], (spec.id, *below[1])) if below else (cost, (spec.id,))
    return max(longest.values(), key=lambda t: t[0], default=(0.0, ()))


def worst_chain(specs: Sequence[EntrySpec], spawn: float = 0.0) -> tuple[float, tuple[str, ...]]:
    """The longest shutdown a schedule can really cause, and the entries
    whose stops make it up, dependents first; `spawn`: the longest a
    command's spawn may take (a stop waits for a spawn in progress).

    Like `shutdown_bound`, but a oneshot below the top of the chain has
    exited (its dependents only start once it has), so it costs nothing
    and is left out, as are checks.
    """
    below: dict[str, tuple[float, tuple[str, ...]]] = {}
    worst: tuple[float, tuple[str, ...]] = (0.0, ())
    for spec in specs:
        under = max((below[d] for d in spec.requires), key=lambda t: t[0], default=(0.0, ()))
        if spec.exec is None:
            below[spec.id] = under
            continue
        cost = spec.exec.sigterm_timeout
        top = (cost + under[0], (spec.id, *under[1]))
        worst = max(worst, top, key=lambda t: t[0])
        below[spec.id] = under if spec.kind is EntryKind.ONESHOT else top
    return worst


def chain_with_timeouts(chain: Sequence[str], running: RunningDaemons, took: float) -> str:
    """The chain with each SIGTERM timeout, and what the shutdown spent besides."""
    timeouts = {s.id: s.exec.sigterm_timeout for s in running.entries if s.exec is not None}
    text = " -> ".join(f"{i} ({timeouts[i]:g} s)" for i in chain)
    total = sum(timeouts[i] for i in chain)
    if took > total + 1e-9:
        text += f", {total:g} s of SIGTERM timeouts and {took - total:.3g} s of spawns in progress"
    return text


def shutdown_failures(
    running: RunningDaemons,
    alive: Sequence[tuple[str, int | None]],
    called: float,
    took: float | None,
    limit: tuple[float, tuple[str, ...]],
) -> list[AssertionError]:
    """Invariant 4: `term()` returned within its bound (`limit`: the bound and
    its chain), every entry stopped, and no process (`alive`: entry and pid)
    is left."""
    bound, chain = limit
    along = " -> ".join(chain)
    left = [i for i in running.ids if running.state(i) is not LifecycleState.STOPPED]
    if took is None:
        return [
            InvariantViolation(
                4,
                f"term() called at {called:g} had not returned {bound + HANG_MARGIN:g} s later "
                f"(its bound is {bound:g} s, along {along}); still stopping: {', '.join(left)}",
                left,
                called + bound,
            )
        ]
    found: list[AssertionError] = []
    returned = called + took
    if took > bound + 1e-9:
        message = f"term() took {took:g} s, more than its bound of {bound:g} s along {along}"
        found.append(InvariantViolation(4, message, chain, returned))
    if alive:
        processes = ", ".join(f"{entry} (pid {pid})" for entry, pid in alive)
        message = f"after term() returned, processes are still alive: {processes}"
        found.append(InvariantViolation(4, message, [e for e, _ in alive], returned))
    if left:
        message = f"term() returned but {', '.join(left)} did not stop"
        found.append(InvariantViolation(4, message, left, returned))
    return found
