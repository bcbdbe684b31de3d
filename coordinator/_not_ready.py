"""Why entries are not ready: the text of the errors of `wait_ready`."""

from __future__ import annotations

from collections.abc import Iterable

from statemachines import LifecycleState

from ._entry import Entry
from ._results import HealthStatus

__all__ = ["why_not_ready"]


def why_not_ready(entries: Iterable[Entry], prefix: str) -> tuple[str, dict[str, str]]:
    """The message of a not-ready error, and the reasons it lists by id."""
    reasons = _reasons(entries)
    lines = [f"{prefix} {', '.join(reasons)}"]
    lines += [f"  {entry}: {reason}" for entry, reason in reasons.items()]
    return "\n".join(lines), reasons


def _reasons(entries: Iterable[Entry]) -> dict[str, str]:
    """Why each entry is not ready: its state and last health message."""
    reasons = {}
    for entry in entries:
        if entry.state is LifecycleState.READY:
            continue
        health = entry.health
        # The last health of an entry that stops or has stopped is stale.
        if health is None or entry.state in (LifecycleState.STOPPING, LifecycleState.STOPPED):
            reason = entry.state.value
        elif health.result is HealthStatus.WAITING:
            reason = f"waiting for {health.message}" if health.message else "waiting"
        else:
            reason = f"{entry.state.value}: {health.message or health.result.value}"
        reasons[entry.spec.id] = reason
    return reasons
