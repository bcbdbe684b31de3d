"""Counterexamples as text: a run's timeline, limited to the entries involved."""

from __future__ import annotations

import math
from collections.abc import Sequence

from .._events import Event, describe_event

__all__ = ["timeline_lines"]

TIMELINE_LINES = 60
"""The last events shown; a counterexample's cause is rarely further back."""


def timeline_lines(
    history: Sequence[Event],
    entries: Sequence[str],
    origin: float,
    failure: AssertionError,
    actions: Sequence[tuple[float, str, str]] = (),
) -> list[str]:
    """A heading, then one line per event of `entries` (of all entries if
    none are named) up to the `failure`, timed in seconds since `origin`.
    `actions` are operator actions `(at, action, entry id)`, shown as calls
    among the events (on the run's clock, like the events).

    The run went on after the failure; what explains it ends there: at the
    event at fault when the invariant checker names one, else at its moment.
    """
    upto = getattr(failure, "events", None)
    if upto is not None:
        history = history[:upto]
    until = getattr(failure, "at", math.inf)
    shown = set(entries)
    last = history[-1].at if upto is not None and history else math.inf
    events = [
        (e.at, describe_event(e))
        for e in history
        if e.at - origin <= until and (not shown or e.entry in shown or e.entry is None)
    ]
    # An action comes before the events of the same moment: they are its effect.
    called = [
        (at, f"operator calls running.{action}({entry_id!r})")
        for at, action, entry_id in actions
        if at - origin <= until and at <= last and (not shown or entry_id in shown)
    ]
    merged = sorted([*called, *events], key=lambda line: line[0])
    scope = f"entries {', '.join(entries)}" if entries else "all entries"
    lines = [f"Timeline ({scope}; seconds since the start):"]
    if len(merged) > TIMELINE_LINES:
        lines.append(f"  ... {len(merged) - TIMELINE_LINES} earlier events")
        merged = merged[-TIMELINE_LINES:]
    lines.extend(f"  {at - origin:8.3f}  {text}" for at, text in merged)
    return lines
