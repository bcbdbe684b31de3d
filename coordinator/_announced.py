"""Readiness a process announces itself, instead of being polled for it.

Given as `Ready.fn`, an announcement makes the entry ready the moment its
process prints a matching line, or sends `READY=1` on the systemd notify
socket: no check runs, so a chain of such services becomes ready as fast
as the services themselves. It holds for one process: after an exit, the
restarted process has to announce again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

from ._results import HealthCheckResult

__all__ = [
    "Announcement",
    "LogLineReadiness",
    "NotifyReadiness",
    "log_line",
    "sd_notify",
    "stream_problem",
]

Stream = Literal["stdout", "stderr", "both"]


def stream_problem(value: object) -> str | None:
    """Which output `log_line` watches: `stdout`, `stderr` or `both` (for the
    builder and config files alike)."""
    if value in get_args(Stream):
        return None
    return f"must be stdout, stderr or both, not {value!r}"


class Announcement:
    """Base of the readiness sources that a process announces."""

    __slots__ = ()

    @property
    def waiting_for(self) -> str:
        raise NotImplementedError

    def __call__(self) -> HealthCheckResult:
        # Only the supervisor hears an announcement; asked directly, it can
        # only say what it waits for.
        return HealthCheckResult.starting(f"waiting for {self.waiting_for}")


@dataclass(frozen=True, slots=True)
class LogLineReadiness(Announcement):
    pattern: re.Pattern[str]
    stream: Stream = "both"

    @property
    def waiting_for(self) -> str:
        where = "output" if self.stream == "both" else self.stream
        return f"a line of {where} matching {self.pattern.pattern!r}"

    def watches(self, stream: str) -> bool:
        return self.stream in ("both", stream)


@dataclass(frozen=True, slots=True)
class NotifyReadiness(Announcement):
    @property
    def waiting_for(self) -> str:
        return "READY=1 on NOTIFY_SOCKET"


def log_line(pattern: str | re.Pattern[str], *, stream: Stream = "both") -> LogLineReadiness:
    """Ready when a line of the process's output matches `pattern` (`re.search`)."""
    problem = stream_problem(stream)
    if problem is not None:
        raise ValueError(f"stream {problem}")
    compiled = re.compile(pattern) if isinstance(pattern, str) else pattern
    return LogLineReadiness(compiled, stream)


def sd_notify() -> NotifyReadiness:
    """Ready when the process sends `READY=1` to `$NOTIFY_SOCKET` (systemd's protocol).

    The last `STATUS=...` sent with or before it (in the same datagram or an
    earlier one) becomes the health message; only the first `READY=1` counts.
    """
    return NotifyReadiness()
