"""Health results, readiness probes and the shape of a trigger."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from ._validation import duration_problem

__all__ = [
    "DEFAULT_CHECK_TIMEOUT",
    "CheckFn",
    "HealthCheckResult",
    "HealthStatus",
    "Ready",
    "ResultGetter",
    "Trigger",
    "advance_steps",
    "close_steps",
]


class HealthStatus(enum.StrEnum):
    """The outcome of a check. A `str` enum: `HealthStatus.SUCCESS == "success"`."""

    SUCCESS = "success"
    FAILURE = "failure"
    STARTING = "starting"
    LOADING = "loading"
    DISABLED = "disabled"
    WAITING = "waiting"


@dataclass(frozen=True, slots=True, init=False)
class HealthCheckResult:
    """What a check returns; only `success` satisfies a dependency."""

    result: HealthStatus
    message: str | None

    def __init__(self, result: HealthStatus | str, message: str | None = None) -> None:
        # Plain strings are accepted too: `HealthCheckResult("success")`.
        object.__setattr__(self, "result", HealthStatus(result))
        object.__setattr__(self, "message", message)

    @classmethod
    def success(cls, message: str | None = None) -> HealthCheckResult:
        return cls(HealthStatus.SUCCESS, message)

    @classmethod
    def failure(cls, message: str) -> HealthCheckResult:
        return cls(HealthStatus.FAILURE, message)

    @classmethod
    def loading(cls, message: str) -> HealthCheckResult:
        return cls(HealthStatus.LOADING, message)

    @classmethod
    def starting(cls, message: str | None = None) -> HealthCheckResult:
        return cls(HealthStatus.STARTING, message)

    @classmethod
    def disabled(cls, message: str | None = None) -> HealthCheckResult:
        return cls(HealthStatus.DISABLED, message)

    @classmethod
    def waiting(cls, message: str | None = None) -> HealthCheckResult:
        return cls(HealthStatus.WAITING, message)

    @property
    def is_success(self) -> bool:
        return self.result is HealthStatus.SUCCESS


CheckFn = Callable[[], HealthCheckResult | Awaitable[HealthCheckResult]]
"""A check: sync or async, returning a `HealthCheckResult`. Raising is a failure."""

ResultGetter = Callable[[], HealthCheckResult | None]
"""Gives a trigger the last raw check result (`None` before the first)."""

Trigger = Callable[[ResultGetter], AsyncIterator[None]]
"""Decides when checks run: each step of the iterator ends when the next check is due."""


DEFAULT_CHECK_TIMEOUT = 60.0
"""How long one call of a check may take (`Ready.timeout`): above the built-in
checks' own timeouts (1 s; `run_health_script`'s 30 s), so that they end first,
with their own message."""


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
    grace_period: float = 5.0
    trigger: Trigger | None = None
    timeout: float = DEFAULT_CHECK_TIMEOUT

    def problem(self) -> str | None:
        """What is wrong with these options, if anything (for validation)."""
        if not callable(self.fn):
            return f"ready.fn must be callable, not {type(self.fn).__name__}"
        problem = duration_problem(self.grace_period)
        if problem is not None:
            return f"ready.grace_period {problem}"
        problem = duration_problem(self.timeout, positive=True)
        if problem is not None:
            return f"ready.timeout {problem}"
        if self.trigger is not None and not callable(self.trigger):
            return f"ready.trigger must be callable, not {type(self.trigger).__name__}"
        if self.display is not None and not isinstance(self.display, str):
            return f"ready.display must be a string or None, not {type(self.display).__name__}"
        return None


async def advance_steps(steps: AsyncIterator[None]) -> bool:
    """Wait for the next step; `False` once the trigger has ended."""
    try:
        await anext(steps)
    except StopAsyncIteration:
        return False
    return True


async def close_steps(steps: AsyncIterator[None]) -> None:
    """Close a trigger's iterator, if it can be closed (async generators can)."""
    aclose = getattr(steps, "aclose", None)
    if aclose is not None:
        await aclose()
