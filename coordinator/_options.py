"""What users hand to `Daemons.add_*`: what to run, and the per-kind options."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from statemachines import EntryKind

from ._command import Command
from ._defaults import SIGTERM_TIMEOUT
from ._ready import Ready
from ._subcontainer import SubContainer
from ._validation import callable_problem, option_problem
from ._watch import Watch

__all__ = [
    "DaemonOptions",
    "EntrySpec",
    "ExecFn",
    "HealthCheckOptions",
    "OneshotOptions",
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


@dataclass(frozen=True, slots=True)
class DaemonOptions:
    """A long-running process, ready when `ready.fn` succeeds; restarted when it exits
    (and, with `watch`, when its files change)."""

    exec: Exec
    ready: Ready
    requires: Sequence[str] = ()
    max_restarts: int | None = None
    subcontainer: SubContainer | None = None
    watch: Watch | None = None


@dataclass(frozen=True, slots=True)
class OneshotOptions:
    """A task run once; ready when it exits successfully, retried when it crashes
    (and, with `watch`, run again when its files change)."""

    exec: Exec
    requires: Sequence[str] = ()
    max_restarts: int | None = None
    subcontainer: SubContainer | None = None
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
