"""The live table of `healthdaemons up`: one row per entry, from the
running system and what its events said."""

from __future__ import annotations

import time
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

__all__ = ["Processes", "table", "title"]

STYLES = {
    LifecycleState.WAITING: "dim",
    LifecycleState.STARTING: "cyan",
    LifecycleState.READY: "green",
    LifecycleState.FAILING: "bold red",
    LifecycleState.STOPPING: "yellow",
    LifecycleState.STOPPED: "dim",
}


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


def table(running: RunningDaemons, processes: Processes) -> Table:
    rows = Table(title=title(running), expand=False)
    for column in ("service", "state", "health", "pid", "restarts", "uptime"):
        rows.add_column(column, no_wrap=column != "health")
    restarts = running.statistics().restarts
    now = time.monotonic()
    for entry in running.ids:
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
    return rows


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
