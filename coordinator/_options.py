"""What users hand to `Daemons.add_*`: what to run, and the per-kind options."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from statemachines import EntryKind

from ._command import Command
from ._defaults import SIGTERM_TIMEOUT
from ._ready import Liveness, Ready
from ._subcontainer import SubContainer
from ._validation import callable_problem, option_problem
from ._watch import Watch

__all__ = [
    "RESTART_POLICIES",
    "DaemonOptions",
    "EntrySpec",
    "ExecFn",
    "HealthCheckOptions",
    "OneshotOptions",
    "RestartPolicy",
    "requirement_closure",
]

ExecFunction = Callable[[Any], Awaitable[object]]
"""An async function run as the entry's process; it receives the entry's subcontainer."""


@dataclass(frozen=True, slots=True)
class ExecFn:
    """Run an async function in-process as the entry's process.

    Stopping it cancels it; it then has `sigterm_timeout` seconds to finish its
    cleanup before it is abandoned (with an error event). Returning is an exit
    (a daemon is restarted, a oneshot has succeeded); raising is a crash.
    Returning a `Command` runs that command next, as the entry's process.
    """

    fn: ExecFunction
    sigterm_timeout: float = SIGTERM_TIMEOUT

    def problem(self) -> str | None:
        for name, problem in (
            ("fn", callable_problem(self.fn)),
            ("sigterm_timeout", option_problem("sigterm_timeout", self.sigterm_timeout)),
        ):
            if problem is not None:
                return f"exec.{name} {problem}"
        return None


Exec = ExecFn | Command
"""Everything an entry can run."""

RestartPolicy = Literal["always", "on-failure", "no"]
"""When a daemon's process ends on its own, whether it runs again (docker
compose's names): `always`; `on-failure`, unless it exited with code 0; `no`.
A daemon that is not run again after an exit 0 becomes `stopped` (its
dependents stop first); after a crash it is failing for good, as after
`max_restarts`."""
RESTART_POLICIES: tuple[RestartPolicy, ...] = get_args(RestartPolicy)


@dataclass(frozen=True, slots=True)
class DaemonOptions:
    """A long-running process, ready when `ready.fn` succeeds; restarted when it
    exits, as `restart` says.

    `start_timeout`: a process not ready this many seconds after it started
    is restarted (counted in restarts and backoff). `liveness`: a second
    check that restarts a process that stops answering once it was ready.
    `exit_on_failure`: when the daemon fails for good (`max_restarts`
    reached, or a crash under `restart="no"`), the whole system shuts down
    (`RunningDaemons.ended_by`). `watch`: restarted when its files change.
    """

    exec: Exec
    ready: Ready
    requires: Sequence[str] = ()
    max_restarts: int | None = None
    subcontainer: SubContainer | None = None
    restart: RestartPolicy = "always"
    start_timeout: float | None = None
    liveness: Liveness | None = None
    exit_on_failure: bool = False
    watch: Watch | None = None


@dataclass(frozen=True, slots=True)
class OneshotOptions:
    """A task run once; ready when it exits successfully, retried when it crashes.

    `once`: once it has succeeded, it stays ready for the rest of the run,
    whatever its dependencies do, instead of running again after they
    recover. `exit_on_failure`: its first failure (a non-zero exit) is not
    retried but shuts the whole system down (`RunningDaemons.ended_by`).
    `watch`: run again when its files change.
    """

    exec: Exec
    requires: Sequence[str] = ()
    max_restarts: int | None = None
    subcontainer: SubContainer | None = None
    once: bool = False
    exit_on_failure: bool = False
    watch: Watch | None = None


@dataclass(frozen=True, slots=True)
class HealthCheckOptions:
    """Nothing runs; the entry is ready when `ready.fn` succeeds."""

    ready: Ready
    requires: Sequence[str] = ()


Options = DaemonOptions | OneshotOptions | HealthCheckOptions


@dataclass(frozen=True, slots=True)
class EntrySpec:
    """One validated entry of a system, as the coordinator runs it."""

    id: str
    kind: EntryKind
    requires: tuple[str, ...]
    ready: Ready | None
    exec: Exec | None
    max_restarts: int | None = None
    subcontainer: SubContainer | None = None
    restart: RestartPolicy = "always"
    start_timeout: float | None = None
    liveness: Liveness | None = None
    exit_on_failure: bool = False
    once: bool = False
    watch: Watch | None = None

    @property
    def display(self) -> str | None:
        return self.ready.display if self.ready is not None else None

    @property
    def grace_period(self) -> float:
        """Oneshots have none: a crash is a failure at once."""
        if self.ready is None or self.kind is EntryKind.ONESHOT:
            return 0.0
        return self.ready.grace_period


def requirement_closure(
    ids: Iterable[str], requires: Callable[[str], Sequence[str]]
) -> dict[str, None]:
    """`ids` and everything they require, directly or not (an ordered set)."""
    closure: dict[str, None] = {}
    pending = list(ids)
    while pending:
        id = pending.pop()
        if id not in closure:
            closure[id] = None
            pending.extend(requires(id))
    return closure
