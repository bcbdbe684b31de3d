"""One entry of a running system: the model its lifecycle machine drives.

The guards of the transition table are answered here, from counters the
coordinator keeps up to date on every transition, so each guard costs O(1)
however large the system is.
"""

from __future__ import annotations

import math

import anyio
from transitions import Machine

from statemachines import Lifecycle

from ._options import EntrySpec
from ._process_handle import ProcessHandle
from ._results import HealthCheckResult

__all__ = ["Entry", "LaunchChecks", "TermFlag"]


class TermFlag:
    """Whether `term()` has begun: one per system, shared by its entries, so
    the guard `terminating` reads a flag rather than the whole system."""

    __slots__ = ("raised",)

    def __init__(self) -> None:
        self.raised = False


class LaunchChecks:
    """The checks of one launch: whether they are over, and the cancel scope
    they run under now (one for each process of the launch, which its end
    cancels).

    A plain flag rather than a scope of its own around the launch: every
    nested scope costs each running entry memory, and its stop time."""

    __slots__ = ("announce_by", "checking", "over", "scope")

    def __init__(self) -> None:
        self.over = False
        self.checking = False
        """Whether a check is under way (rather than the trigger's wait)."""
        self.scope: anyio.CancelScope | None = None
        self.announce_by: float | None = None
        """When a process that announces its readiness must have (set once
        the launch's first process runs)."""

    def end(self) -> None:
        self.over = True
        if self.scope is not None:
            self.scope.cancel()


class Entry(Lifecycle):
    __slots__ = (
        "announcer",
        "became_ready",
        "checks",
        "dependencies",
        "dependents",
        "health",
        "kill_at",
        "last_raw",
        "launched_at",
        "launches",
        "on_hold",
        "once_done",
        "operator_actions",
        "process",
        "ready_dependencies",
        "restart_reason",
        "restarts",
        "running_dependents",
        "sigkill_sent",
        "signalled",
        "spec",
        "stop_permitted",
        "stopping",
        "term_flag",
        "wait_scope",
        "watchdog",
    )

    def __init__(self, spec: EntrySpec, term_flag: TermFlag, machine: Machine) -> None:
        super().__init__(spec.id, machine)
        self.spec = spec
        self.term_flag = term_flag
        self.dependencies: list[Entry] = []
        self.dependents: list[Entry] = []
        self.ready_dependencies = 0
        """How many dependencies are `ready` now."""
        self.running_dependents = 0
        """How many dependents are starting, ready, failing or stopping now."""
        self.launched_at = -math.inf
        self.launches = 0
        """How many times the entry has launched: a restart waits for the next."""
        self.on_hold = False
        """Stopped by an operator, or ended by its restart policy, and not
        started again (the guard `held`)."""
        self.once_done = False
        """A `once` oneshot that succeeded (the guard `done`): it no longer
        counts among its dependencies' running dependents."""
        self.operator_actions = 0
        """How many operator actions were called on the entry: a pending one
        is over once a later one supersedes it."""
        self.health: HealthCheckResult | None = None
        """The last result reported (after grace-period softening)."""
        self.last_raw: HealthCheckResult | None = None
        """The last result of the check itself, for the trigger."""
        self.restarts = 0
        self.signalled = False
        self.process: ProcessHandle | None = None
        # Fresh at each launch (`begin_launch`).
        self.stopping: anyio.Event | None = None
        self.stop_permitted: anyio.Event | None = None
        self.checks: LaunchChecks | None = None
        self.wait_scope: anyio.CancelScope | None = None
        self.kill_at: float | None = None
        """When the process that was told to stop gets killed (or abandoned)."""
        self.sigkill_sent = False
        """Whether the current process was killed (or abandoned) already: one
        SIGKILL per process group, even if a member outlives its leader."""
        self.announcer: object = None
        """Stands for the current process: only it may announce readiness."""
        # Only for a daemon with a start timeout or a liveness check.
        self.watchdog: anyio.CancelScope | None = None
        """The current process's watchdog task, cancelled when the process ends."""
        self.became_ready: anyio.Event | None = None
        """Set when the entry becomes ready while the watchdog waits for it."""
        self.restart_reason: str | None = None
        """Why the supervisor stopped the current process to restart it."""

    def __repr__(self) -> str:
        return f"<Entry {self.spec.id!r} {self.state.value}>"

    def begin_launch(self, now: float) -> None:
        """Forget the previous launch: its checks, restarts, stop and scopes."""
        self.launched_at = now
        self.launches += 1
        self.last_raw = None
        self.restarts = 0
        self.signalled = False
        self.stopping = None
        self.stop_permitted = None
        self.checks = LaunchChecks()
        self.wait_scope = None
        self.restart_reason = None

    def last_result(self) -> HealthCheckResult | None:
        """`last_raw`, for the trigger (a bound method: lighter than a closure)."""
        return self.last_raw

    # Guards of the transition table.

    def dependencies_ready(self) -> bool:
        return self.ready_dependencies == len(self.dependencies)

    def grace_expired(self) -> bool:
        return anyio.current_time() - self.launched_at >= self.spec.grace_period

    def no_dependent_running(self) -> bool:
        return self.running_dependents == 0

    def terminating(self) -> bool:
        return self.term_flag.raised

    def already_signalled(self) -> bool:
        return self.signalled

    def held(self) -> bool:
        return self.on_hold

    def done(self) -> bool:
        return self.once_done
