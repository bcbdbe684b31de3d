"""A read-only view of one entry of a running system."""

from __future__ import annotations

from typing import final

from statemachines import LifecycleState

from ._entry import Entry
from ._options import EntrySpec
from ._results import HealthCheckResult

__all__ = ["EntryView"]


@final
class EntryView:
    """One entry of a running system as it is now (`RunningDaemons.entry_views`):
    for tools such as `coordinator.testing`, which watch a system without
    changing it. Each property reads the live entry."""

    __slots__ = ("_entry",)

    def __init__(self, entry: Entry) -> None:
        self._entry = entry

    def __repr__(self) -> str:
        return f"<EntryView {self.id!r} {self.state.value}>"

    @property
    def id(self) -> str:
        return self._entry.spec.id

    @property
    def spec(self) -> EntrySpec:
        return self._entry.spec

    @property
    def state(self) -> LifecycleState:
        return self._entry.state

    @property
    def health(self) -> HealthCheckResult | None:
        """The last reported health (`None` before the first report)."""
        return self._entry.health

    @property
    def restarts(self) -> int:
        """Restarts of the current launch (0 at each launch)."""
        return self._entry.restarts

    @property
    def held(self) -> bool:
        """Whether an operator stopped the entry (`RunningDaemons.stop`) and has not started it."""
        return self._entry.on_hold

    def grace_expired(self) -> bool:
        """Whether the grace period of the current launch has run out."""
        return self._entry.grace_expired()
