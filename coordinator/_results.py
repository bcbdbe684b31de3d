"""What a check returns: a `HealthCheckResult` with its `HealthStatus`."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["HealthCheckResult", "HealthStatus"]


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
