"""`Ready`: how an entry shows it is ready, and the check it runs; `Liveness`:
how a daemon shows it is still alive."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ._defaults import (
    GRACE_PERIOD,
    LIVENESS_FAILURES,
    LIVENESS_INTERVAL,
    LIVENESS_TIMEOUT,
    READY_TIMEOUT,
)
from ._results import HealthCheckResult
from ._trigger_steps import Trigger
from ._validation import callable_problem, option_problem

__all__ = ["CheckFn", "Liveness", "Ready"]

CheckFn = Callable[[], HealthCheckResult | Awaitable[HealthCheckResult]]
"""A check: sync or async, returning a `HealthCheckResult`. Raising is a failure."""


@dataclass(frozen=True, slots=True)
class Ready:
    """How an entry shows it is ready.

    `display` is the name reported to the host (`None` hides the entry from
    health reports; it still gates its dependents). A failure within
    `grace_period` seconds of a launch is reported as `starting`.
    `trigger` decides when `fn` runs; `None` means `default_trigger`.

    `timeout` bounds each call of an async `fn` (default 60 s): a call that
    has not returned by then is cancelled, and is a failure, `health check
    timed out after 60 s`. Give a check with a longer timeout of its own (say
    `run_health_script(cmd, 120)`) a larger one, or this one ends it first.
    A sync `fn` runs in the event loop and cannot be interrupted: keep it
    quick, or make it async.
    """

    display: str | None
    fn: CheckFn
    grace_period: float = GRACE_PERIOD
    trigger: Trigger | None = None
    timeout: float = READY_TIMEOUT

    def problem(self) -> str | None:
        """What is wrong with these options, if anything (for validation)."""
        problem = callable_problem(self.fn)
        if problem is not None:
            return f"ready.fn {problem}"
        for name in ("grace_period", "timeout"):
            problem = option_problem(name, getattr(self, name))
            if problem is not None:
                return f"ready.{name} {problem}"
        problem = None if self.trigger is None else callable_problem(self.trigger)
        if problem is not None:
            return f"ready.trigger {problem}"
        if self.display is not None and not isinstance(self.display, str):
            return f"ready.display must be a string or None, not {type(self.display).__name__}"
        return None


@dataclass(frozen=True, slots=True)
class Liveness:
    """A daemon's second check, as a Kubernetes liveness probe: from the first
    time a process of the daemon is ready, `fn` runs every `interval` seconds,
    each call bounded by `timeout`; `failures` failures in a row restart the
    process (the stop policy, then a restart counted in restarts and backoff).

    Readiness alone never restarts anything; this does. Give a check that
    fails only when the service is stuck, not when it is merely busy.
    """

    fn: CheckFn
    interval: float = LIVENESS_INTERVAL
    timeout: float = LIVENESS_TIMEOUT
    failures: int = LIVENESS_FAILURES

    def problem(self) -> str | None:
        """What is wrong with these options, if anything (for validation)."""
        problem = callable_problem(self.fn)
        if problem is not None:
            return f"liveness.fn {problem}"
        for name in ("interval", "timeout", "failures"):
            problem = option_problem(name, getattr(self, name))
            if problem is not None:
                return f"liveness.{name} {problem}"
        return None
