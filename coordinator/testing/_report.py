"""Counterexamples as text: a run's timeline, limited to the entries involved."""

from __future__ import annotations

import math
from collections.abc import Sequence

from .._events import Event, describe_event

__all__ = ["timeline_lines"]

TIMELINE_LINES = 60
"""The last events shown; a counterexample's cause is rarely further back."""


def timeline_lines(
    history: Sequence[Event], entries: Sequence[str], origin: float, failure: AssertionError
) -> list[str]:
    """A heading, then one line per event of `entries` (of all entries if
    none are named) up to the `failure`, timed in seconds since `origin`.

    The run went on after the failure; what explains it ends there: at the
    event at fault when the invariant checker names one, else at its moment.
    """
    upto = getattr(failure, "events", None)
    if upto is not None:
        history = history[:upto]
    until = getattr(failure, "at", math.inf)
    shown = set(entries)
    events = [
        e
        for e in history
        if e.at - origin <= until and (not shown or e.entry in shown or e.entry is None)
    ]
    scope = f"entries {', '.join(entries)}" if entries else "all entries"
    lines = [f"Timeline ({scope}; seconds since the start):"]
    if len(events) > TIMELINE_LINES:
        lines.append(f"  ... {len(events) - TIMELINE_LINES} earlier events")
        events = events[-TIMELINE_LINES:]
    lines.extend(f"  {event.at - origin:8.3f}  {describe_event(event)}" for event in events)
    return lines
