"""The live table of `healthdaemons up`: one row per entry, from the
running system and what its events said; no more rows than the terminal
has lines, so that a system of thousands of entries costs a screenful to
draw, not thousands of rows ten times a second."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from rich.table import Table
from rich.text import Text

from coordinator import (
    Event,
    HealthStatus,
    ProcessExited,
    ProcessSpawned,
    RunningDaemons,
    Transitioned,
)
from statemachines import LifecycleState

__all__ = ["Processes", "fitting_rows", "table", "title"]

STYLES = {
    LifecycleState.WAITING: "dim",
    LifecycleState.STARTING: "cyan",
    LifecycleState.READY: "green",
    LifecycleState.FAILING: "bold red",
    LifecycleState.STOPPING: "yellow",
    LifecycleState.STOPPED: "dim",
}
SHOWN_FIRST = {
    LifecycleState.FAILING: 0,
    LifecycleState.STARTING: 1,
    LifecycleState.STOPPING: 1,
    LifecycleState.WAITING: 2,
    LifecycleState.READY: 3,
    LifecycleState.STOPPED: 4,
}
"""Which entries a table too long for the terminal keeps: those in trouble
(and any that crashed), then those on their way, then the settled ones."""
AROUND_THE_ROWS = 8
"""Terminal lines the table needs besides its rows (title, borders, header),
and a few for the output lines scrolling above it."""
FEWEST_ROWS = 5


@dataclass
class Processes:
    """Per entry, from the events: the live pid, when it was spawned, and
    how its last process crashed while it has not been ready since."""

    pid: dict[str, int | None] = field(default_factory=dict)
    since: dict[str, float] = field(default_factory=dict)
    crash: dict[str, str] = field(default_factory=dict)

    def see(self, event: Event) -> None:
        if isinstance(event, ProcessSpawned):
            self.pid[event.entry] = event.pid
            self.since[event.entry] = time.monotonic()
        elif isinstance(event, ProcessExited):
            self.pid[event.entry] = None
            self.since.pop(event.entry, None)
            if not event.clean:
                self.crash[event.entry] = event.description
        elif isinstance(event, Transitioned) and event.dest in (
            LifecycleState.READY,
            LifecycleState.STOPPING,
        ):
            self.crash.pop(event.entry, None)


def fitting_rows(height: int) -> int:
    """How many rows a table may have on a terminal of `height` lines."""
    return max(FEWEST_ROWS, height - AROUND_THE_ROWS)


def table(running: RunningDaemons, processes: Processes, rows_at_most: int | None = None) -> Table:
    """One row per entry, in their order; with `rows_at_most`, and more entries
    than that, the entries most worth a look (`SHOWN_FIRST`) and a last row
    that counts the others by state."""
    rows = Table(title=title(running), expand=False)
    for column in ("service", "state", "health", "pid", "restarts", "uptime"):
        rows.add_column(column, no_wrap=column != "health")
    restarts = running.statistics().restarts
    now = time.monotonic()
    shown, hidden = _shown(running, processes, rows_at_most)
    for entry in shown:
        state = running.state(entry)
        pid = processes.pid.get(entry)
        since = processes.since.get(entry)
        crash = processes.crash.get(entry)
        rows.add_row(
            entry,
            Text(state.value, style="bold red" if crash else STYLES[state]),
            _health(running, entry, crash, restarts.get(entry, 0)),
            "" if pid is None else str(pid),
            str(restarts.get(entry, 0)),
            "" if since is None else _duration(now - since),
        )
    if hidden:
        counted = Counter(running.state(entry) for entry in hidden)
        states = ", ".join(f"{counted[state]} {state.value}" for state in STYLES if counted[state])
        rows.add_row(f"... {len(hidden)} more", "", states, style="dim")
    return rows


def _shown(
    running: RunningDaemons, processes: Processes, rows_at_most: int | None
) -> tuple[list[str], list[str]]:
    """The entries with a row, in their order, and the others."""
    ids = list(running.ids)
    if rows_at_most is None or len(ids) <= rows_at_most:
        return ids, []
    crashed = processes.crash
    ranked = sorted(
        range(len(ids)),
        key=lambda i: (0 if ids[i] in crashed else SHOWN_FIRST[running.state(ids[i])], i),
    )
    # One row goes to the count of the others.
    kept = set(ranked[: max(1, rows_at_most - 1)])
    return [ids[i] for i in sorted(kept)], [e for i, e in enumerate(ids) if i not in kept]


def _health(running: RunningDaemons, entry: str, crash: str | None, restarts: int) -> str:
    """The health column: the last report while it means something (not
    once the entry is stopping or stopped), and a crash until it is ready."""
    state = running.state(entry)
    if state in (LifecycleState.STOPPING, LifecycleState.STOPPED):
        return ""
    health = running.health(entry)
    message = "" if health is None else health.message or health.result.value
    if health is not None and health.result is HealthStatus.WAITING and health.message:
        message = f"waiting for {health.message}"
    if crash is None:
        return message
    again = f", restart {restarts}" if restarts else ""
    crashed = f"crashed ({crash}{again})"
    return crashed if not message or crash in message else f"{crashed}: {message}"


def title(running: RunningDaemons) -> str:
    if not running.is_terminating:
        return "healthdaemons up (Ctrl-C stops in order)"
    stopping = [i for i in running.ids if running.state(i) is LifecycleState.STOPPING]
    if stopping:
        # A title is one line: a few names, then how many more.
        named = ", ".join(stopping[:5]) + (f" and {len(stopping) - 5} more" if stopping[5:] else "")
        return f"stopping: {named} (a second Ctrl-C kills)"
    return "all stopped" if running.statistics().stopped == len(running.ids) else "stopping"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
