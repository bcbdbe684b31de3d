"""`healthdaemons up`: run a system in the foreground, as process-compose or compose would.

On a terminal a live table (rich) shows each entry's state, health, pid,
restarts and uptime, redrawn as events arrive, with the services' output
lines printed above it; elsewhere (a pipe, CI, a log file) it prints plain
lines instead, one per event. The first Ctrl-C or SIGTERM starts the ordered
shutdown and names who is still stopping; a second Ctrl-C SIGKILLs what is
left at once.
"""

from __future__ import annotations

import logging
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import anyio
from anyio import CancelScope
from anyio.abc import TaskGroup
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from statemachines import LifecycleState

from ._daemons import Daemons
from ._events import (
    Event,
    HealthReported,
    ProcessExited,
    ProcessSpawned,
    describe_event,
    dump_events,
)
from ._health import HealthStatus
from ._host import Host
from ._running import RunningDaemons
from ._subprocesses import OUTPUT_LOGGER
from .errors import WaitTimeoutError

__all__ = ["run_up"]

STYLES = {
    LifecycleState.WAITING: "dim",
    LifecycleState.STARTING: "cyan",
    LifecycleState.READY: "green",
    LifecycleState.FAILING: "bold red",
    LifecycleState.STOPPING: "yellow",
    LifecycleState.STOPPED: "dim",
}
INTERRUPTED = 130
"""`--until-ready` was interrupted before everything was ready."""
KILLED = 137
"""A second Ctrl-C had what was left SIGKILLed."""


@dataclass
class _Processes:
    """Per entry: the live pid and when it was spawned, from the events."""

    pid: dict[str, int | None] = field(default_factory=dict)
    since: dict[str, float] = field(default_factory=dict)

    def see(self, event: Event) -> None:
        if isinstance(event, ProcessSpawned):
            self.pid[event.entry] = event.pid
            self.since[event.entry] = time.monotonic()
        elif isinstance(event, ProcessExited):
            self.pid[event.entry] = None
            self.since.pop(event.entry, None)


class _OutputLines(logging.Handler):
    """Prints the services' output lines (`[id] line` records) as `id | line`."""

    def __init__(self, console: Console, width: int) -> None:
        super().__init__()
        self._console = console
        self._width = width

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args
        if isinstance(args, tuple) and len(args) == 2:
            entry, line = str(args[0]), str(args[1])
        else:
            entry, line = "-", record.getMessage()
        prefix = Text(f"{entry:<{self._width}} | ", style="bold")
        self._console.print(prefix + Text(line), highlight=False, soft_wrap=True)


async def run_up(
    daemons: Daemons,
    *,
    console: Console,
    record: Path | None = None,
    until_ready: bool = False,
    timeout: float | None = None,
) -> int:
    """Run `daemons` until interrupted (or, with `until_ready`, until all is
    ready); returns the exit code."""
    width = max((len(i) for i in daemons.ids), default=1)
    handler = _OutputLines(console, width)
    OUTPUT_LOGGER.addHandler(handler)
    OUTPUT_LOGGER.setLevel(logging.INFO)
    OUTPUT_LOGGER.propagate = False
    stream: IO[str] | None = None
    try:
        if record is not None:
            record.parent.mkdir(parents=True, exist_ok=True)
            stream = record.open("w", encoding="utf-8")
        return await _run(daemons, console, stream, until_ready, timeout)
    finally:
        OUTPUT_LOGGER.removeHandler(handler)
        OUTPUT_LOGGER.propagate = True
        if stream is not None:
            stream.close()


class _Reporter:
    """The host of an `up` run: each event is recorded, and printed in plain
    mode, the moment it happens, so the printed lines keep the order of
    what happened (a service's output after the spawn that started it)."""

    def __init__(self, inner: Host, console: Console, record: IO[str] | None, plain: bool) -> None:
        self.inner = inner
        self.console = console
        self.record_to = record
        self.plain = plain
        self.processes = _Processes()
        self.running: RunningDaemons | None = None
        self.changed = False
        self._start: float | None = None
        self._stopping: list[str] = []

    def set_health(self, report: HealthReported) -> None:
        self.inner.set_health(report)

    def record(self, event: Event) -> None:
        self.inner.record(event)
        self.processes.see(event)
        self.changed = True
        if self.record_to is not None:
            dump_events([event], self.record_to)
            self.record_to.flush()
        if not self.plain:
            return
        if self._start is None:
            self._start = event.at
        at = event.at - self._start
        self.console.print(f"{at:8.3f}s {describe_event(event)}", highlight=False)
        running = self.running
        if running is not None and running.is_terminating:
            stopping = _stopping(running)
            if stopping != self._stopping:
                self._stopping = stopping
                self.console.print(f"still stopping: {', '.join(stopping) or 'nothing'}")


async def _run(
    daemons: Daemons,
    console: Console,
    record: IO[str] | None,
    until_ready: bool,
    timeout: float | None,
) -> int:
    running = daemons.build()
    reporter = _Reporter(running.host, console, record, plain=not console.is_terminal)
    running.host = reporter
    reporter.running = running
    outcome = 0
    async with running, anyio.create_task_group() as tasks:
        if console.is_terminal:
            tasks.start_soon(_show_live, running, reporter, console)
        interrupted = anyio.Event()
        killed = anyio.Event()
        tasks.start_soon(_handle_signals, running, console, interrupted, killed, tasks)
        if until_ready:
            try:
                with anyio.CancelScope() as waiting:
                    tasks.start_soon(_cancel_when_set, interrupted, waiting)
                    await running.wait_ready(timeout)
                    console.print("[green]everything is ready[/]; shutting down in order")
                if waiting.cancelled_caught:
                    outcome = INTERRUPTED
            except WaitTimeoutError as error:
                console.print(f"[bold red]{error}[/] (after {timeout:g} s)")
                outcome = 1
            await running.term()
        else:
            await running.wait_stopped()
        tasks.cancel_scope.cancel()
    console.print("all stopped" + (", some by SIGKILL" if killed.is_set() else ""))
    return KILLED if killed.is_set() else outcome


async def _cancel_when_set(event: anyio.Event, scope: CancelScope) -> None:
    await event.wait()
    scope.cancel()


async def _handle_signals(
    running: RunningDaemons,
    console: Console,
    interrupted: anyio.Event,
    killed: anyio.Event,
    tasks: TaskGroup,
) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for received in signals:
            if not running.is_terminating:
                name = signal.Signals(received).name
                console.print(f"[yellow]{name}: stopping in order, dependents first[/]")
                interrupted.set()
                # Not awaited here: this task keeps listening for a second signal.
                tasks.start_soon(running.term)
            else:
                console.print("[bold red]stopping now: SIGKILL to every process group left[/]")
                killed.set()
                running.kill()


async def _show_live(running: RunningDaemons, reporter: _Reporter, console: Console) -> None:
    with Live(_table(running, reporter.processes), console=console, auto_refresh=False) as live:
        try:
            while True:
                # Redrawn after events (at most 10 times a second) and every
                # second for the uptimes.
                for _ in range(10):
                    await anyio.sleep(0.1)
                    if reporter.changed:
                        break
                reporter.changed = False
                live.update(_table(running, reporter.processes), refresh=True)
        finally:
            live.update(_table(running, reporter.processes), refresh=True)


def _table(running: RunningDaemons, processes: _Processes) -> Table:
    table = Table(title=_title(running), expand=False)
    for column in ("service", "state", "health", "pid", "restarts", "uptime"):
        table.add_column(column, no_wrap=column != "health")
    restarts = running.statistics().restarts
    now = time.monotonic()
    for entry in running.ids:
        state = running.state(entry)
        health = running.health(entry)
        message = "" if health is None else health.message or health.result.value
        if health is not None and health.result is HealthStatus.WAITING and health.message:
            message = f"waiting for {health.message}"
        pid = processes.pid.get(entry)
        since = processes.since.get(entry)
        table.add_row(
            entry,
            Text(state.value, style=STYLES[state]),
            message,
            "" if pid is None else str(pid),
            str(restarts.get(entry, 0)),
            "" if since is None else _duration(now - since),
        )
    return table


def _title(running: RunningDaemons) -> str:
    if not running.is_terminating:
        return "healthdaemons up (Ctrl-C stops in order)"
    stopping = _stopping(running)
    if stopping:
        return f"stopping: {', '.join(stopping)} (Ctrl-C again to kill)"
    return "stopping"


def _stopping(running: RunningDaemons) -> list[str]:
    return [i for i in running.ids if running.state(i) is LifecycleState.STOPPING]


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
