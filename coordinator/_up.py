"""`healthdaemons up`: run a system in the foreground, as process-compose or compose would.

On a terminal a live table (rich) shows each entry's state, health, pid,
restarts and uptime, redrawn as events arrive, with the services' output
lines printed above it; elsewhere (a pipe, CI, a log file) it prints plain
lines instead, one per event. The first Ctrl-C or SIGTERM starts the ordered
shutdown and names who is still stopping; a second Ctrl-C SIGKILLs what is
left at once.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import anyio
from anyio import CancelScope
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from statemachines import LifecycleState

from ._daemons import Daemons
from ._events import (
    Event,
    ProcessExited,
    ProcessSpawned,
    describe_event,
    dump_events,
)
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


async def _run(
    daemons: Daemons,
    console: Console,
    record: IO[str] | None,
    until_ready: bool,
    timeout: float | None,
) -> int:
    processes = _Processes()
    outcome = 0
    async with daemons.build() as running, anyio.create_task_group() as tasks:
        # Together, with no await between: what entering did, then all after.
        events = running.subscribe(max_buffer_size=100_000)
        backlog = list(running.history)
        live = _live_view(running, processes, console)
        tasks.start_soon(_follow, running, backlog, events, processes, console, live, record)
        interrupted = anyio.Event()
        tasks.start_soon(_handle_signals, running, console, interrupted, tasks)
        if until_ready:
            try:
                with anyio.CancelScope() as waiting:
                    tasks.start_soon(_cancel_when_set, interrupted, waiting)
                    await running.wait_ready(timeout)
                    console.print("[green]everything is ready[/]; shutting down in order")
                if waiting.cancelled_caught:
                    outcome = INTERRUPTED
            except WaitTimeoutError as error:
                console.print(f"[bold red]{error}[/]")
                outcome = 1
            await running.term()
        else:
            await running.wait_stopped()
        tasks.cancel_scope.cancel()
    if running.statistics().stopped == len(daemons):
        console.print("all stopped")
    return outcome


async def _cancel_when_set(event: anyio.Event, scope: CancelScope) -> None:
    await event.wait()
    scope.cancel()


async def _handle_signals(
    running: RunningDaemons, console: Console, interrupted: anyio.Event, tasks: TaskGroup
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
                running.kill()


def _live_view(running: RunningDaemons, processes: _Processes, console: Console) -> Live | None:
    if not console.is_terminal:
        return None
    live = Live(_table(running, processes), console=console, auto_refresh=False, transient=False)
    live.start()
    return live


async def _follow(
    running: RunningDaemons,
    backlog: list[Event],
    events: MemoryObjectReceiveStream[Event],
    processes: _Processes,
    console: Console,
    live: Live | None,
    record: IO[str] | None,
) -> None:
    start = backlog[0].at if backlog else anyio.current_time()
    stopping: list[str] = []

    def show(event: Event) -> None:
        nonlocal stopping
        processes.see(event)
        if record is not None:
            dump_events([event], record)
            record.flush()
        if live is None:
            at = event.at - start
            console.print(f"{at:8.3f}s {describe_event(event)}", highlight=False)
            now_stopping = _stopping(running)
            if running.is_terminating and now_stopping != stopping:
                stopping = now_stopping
                names = ", ".join(stopping) or "nothing"
                console.print(f"still stopping: {names}", highlight=False)

    for event in backlog:
        show(event)
    async with events:
        try:
            while True:
                with anyio.move_on_after(1.0):  # uptimes move on even when nothing happens
                    show(await events.receive())
                if live is not None:
                    live.update(_table(running, processes), refresh=True)
        except anyio.EndOfStream:
            pass
        finally:
            # Cancelled once all has stopped: the last events are still queued.
            with contextlib.suppress(anyio.WouldBlock, anyio.EndOfStream):
                while True:
                    show(events.receive_nowait())
            if live is not None:
                live.update(_table(running, processes), refresh=True)
                live.stop()


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
