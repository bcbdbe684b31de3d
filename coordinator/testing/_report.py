"""Counterexamples as text: a run's timeline, limited to the entries involved."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .._events import Event, describe_event

__all__ = ["OperatorCall", "timeline_lines"]


@dataclass(frozen=True, slots=True)
class OperatorCall:
    """An operator action as it was called during a run."""

    events: int
    """How many events of the run's history came before the call."""
    at: float
    action: str
    entry: str


TIMELINE_LINES = 60
"""The last events shown; a counterexample's cause is rarely further back."""


def timeline_lines(
    history: Sequence[Event],
    entries: Sequence[str],
    origin: float,
    failure: AssertionError,
    actions: Sequence[OperatorCall] = (),
) -> list[str]:
    """A heading, then one line per event of `entries` (of all entries if
    none are named) up to the `failure`, timed in seconds since `origin`,
    with the operator `actions` called meanwhile in their place.

    The run went on after the failure; what explains it ends there: at the
    event at fault when the invariant checker names one, else at its moment.
    """
    upto = getattr(failure, "events", None)
    if upto is not None:
        history = history[:upto]
    until = getattr(failure, "at", math.inf)
    shown = set(entries)
    calls: dict[int, list[OperatorCall]] = {}
    for call in actions:
        if not shown or call.entry in shown:
            calls.setdefault(call.events, []).append(call)
    lines_at: list[tuple[float, str]] = []
    for index in range(len(history) + 1):
        lines_at.extend(
            (call.at, f"operator calls running.{call.action}({call.entry!r})")
            for call in calls.get(index, ())
        )
        if index < len(history):
            event = history[index]
            if not shown or event.entry in shown or event.entry is None:
                lines_at.append((event.at, describe_event(event)))
    lines_at = [(at, text) for at, text in lines_at if at - origin <= until]
    scope = f"entries {', '.join(entries)}" if entries else "all entries"
    lines = [f"Timeline ({scope}; seconds since the start):"]
    if len(lines_at) > TIMELINE_LINES:
        lines.append(f"  ... {len(lines_at) - TIMELINE_LINES} earlier events")
        lines_at = lines_at[-TIMELINE_LINES:]
    lines.extend(f"  {at - origin:8.3f}  {text}" for at, text in lines_at)
    return lines
