"""The host: where health reports and events go (StartOS's `effects`)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ._defaults import HISTORY_LIMIT as DEFAULT_HISTORY_LIMIT
from ._events import Event, HealthReported
from ._validation import require_option

__all__ = ["DEFAULT_HISTORY_LIMIT", "Host", "MemoryHost", "append_bounded"]


@runtime_checkable
class Host(Protocol):
    """Receives health reports and events.

    The coordinator calls both methods synchronously, in the order things
    happen, so keep them quick; hand slow work (network, disk) to a task of
    your own. An exception raised here is recorded as an `ErrorReported`
    event and otherwise ignored: a failing host never stops the system.
    """

    def set_health(self, report: HealthReported) -> None:
        """An entry's reported health changed (entries with `display=None` are never reported)."""

    def record(self, event: Event) -> None:
        """Something happened (a transition, a spawn, a signal, an exit, a report)."""


class MemoryHost:
    """The default host: keeps the latest report per entry, and the latest
    `history_limit` events (`None`: every event), as `RunningDaemons.history` does."""

    def __init__(self, history_limit: int | None = DEFAULT_HISTORY_LIMIT) -> None:
        require_option("history_limit", history_limit)
        self.health: dict[str, HealthReported] = {}
        self.events: list[Event] = []
        self.history_limit = history_limit

    def set_health(self, report: HealthReported) -> None:
        self.health[report.entry] = report

    def record(self, event: Event) -> None:
        append_bounded(self.events, event, self.history_limit)


def append_bounded(events: list[Event], event: Event, limit: int | None) -> int:
    """Append `event`, keeping the latest `limit` events (`None`: all); returns
    how many of the oldest were dropped.

    They are dropped a tenth of `limit` at a time, so that appending stays
    O(1): the list holds up to a tenth more than `limit` events.
    """
    events.append(event)
    if limit is None or len(events) <= limit + limit // 10:
        return 0
    dropped = len(events) - limit
    del events[:dropped]
    return dropped
