"""One entry of a running system: the model its lifecycle machine drives.

The guards of the transition table are answered here, from counters the
coordinator keeps up to date on every transition, so each guard costs O(1)
however large the system is.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import anyio
from transitions import Machine

from statemachines import Lifecycle

from ._health import HealthCheckResult
from ._options import EntrySpec
from ._process_handle import ProcessHandle

if TYPE_CHECKING:
    from ._running import RunningDaemons

__all__ = ["Entry"]


class Entry(Lifecycle):
    __slots__ = (
        "announcer",
        "checking",
        "checks_scope",
        "dependencies",
        "dependents",
        "health",
        "kill_at",
        "last_raw",
        "launched_at",
        "process",
        "ready_dependencies",
        "recheck_scope",
        "restarts",
        "running_dependents",
        "signalled",
        "spec",
        "stop_permitted",
        "stopping",
        "system",
        "wait_scope",
    )

    def __init__(self, spec: EntrySpec, system: RunningDaemons, machine: Machine) -> None:
        super().__init__(spec.id, machine)
        self.spec = spec
        self.system = system
        self.dependencies: list[Entry] = []
        self.dependents: list[Entry] = []
        self.ready_dependencies = 0
        """How many dependencies are `ready` now."""
        self.running_dependents = 0
        """How many dependents are starting, ready, failing or stopping now."""
        self.launched_at = -math.inf
        self.health: HealthCheckResult | None = None
        """The last result reported (after grace-period softening)."""
        self.last_raw: HealthCheckResult | None = None
        """The last result of the check itself, for the trigger."""
        self.restarts = 0
        self.signalled = False
        self.process: ProcessHandle | None = None
        # Fresh at each launch (see RunningDaemons._launch).
        self.stopping: anyio.Event | None = None
        self.stop_permitted: anyio.Event | None = None
        self.checks_scope: anyio.CancelScope | None = None
        self.recheck_scope: anyio.CancelScope | None = None
        self.wait_scope: anyio.CancelScope | None = None
        self.kill_at: float | None = None
        """When the process that was told to stop gets killed (or abandoned)."""
        self.checking = False
        """Whether this launch's check loop has started."""
        self.announcer: object = None
        """Stands for the current process: only it may announce readiness."""

    def __repr__(self) -> str:
        return f"<Entry {self.spec.id!r} {self.state.value}>"

    # Guards of the transition table.

    def dependencies_ready(self) -> bool:
        return self.ready_dependencies == len(self.dependencies)

    def grace_expired(self) -> bool:
        return anyio.current_time() - self.launched_at >= self.spec.grace_period

    def no_dependent_running(self) -> bool:
        return self.running_dependents == 0

    def terminating(self) -> bool:
        return self.system.is_terminating

    def already_signalled(self) -> bool:
        return self.signalled
