"""The host: where health reports and events go (StartOS's `effects`)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ._events import Event, HealthReported

__all__ = ["Host", "MemoryHost"]


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
    """The default host: keeps the latest report per entry and every event."""

    def __init__(self) -> None:
        self.health: dict[str, HealthReported] = {}
        self.events: list[Event] = []

    def set_health(self, report: HealthReported) -> None:
        self.health[report.entry] = report

    def record(self, event: Event) -> None:
        self.events.append(event)
