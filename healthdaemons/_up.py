"""`healthdaemons up`: run a system in the foreground, as process-compose or compose would.

On a terminal a live table (rich) shows each entry's state, health, pid,
restarts and uptime, redrawn as events arrive, with the services' output
lines printed above it; elsewhere (a pipe, CI, a log file) it prints plain
lines instead, one per event. Printing happens in a thread of its own
(`_up_printer`), so a slow or vanished terminal never delays supervision.

Signals: the first SIGINT (Ctrl-C), SIGTERM, SIGHUP (a closed terminal or
SSH session) or SIGQUIT (Ctrl-\\) starts the ordered shutdown, or, if `up`
is already shutting down on its own (`--until-ready`), lets it go on; a
second one from the person SIGKILLs what is left. Every other signal that
would end or stop a program by default is caught and ignored with a note
(`USR1`, `USR2`, `ALRM`, Ctrl-Z's `TSTP` ...), or ignored outright (`TTIN`,
`TTOU`, and `PIPE` as Python always does), so that nothing but SIGKILL ends
`up` without stopping its services first.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any, cast

import anyio
from anyio import CancelScope
from anyio.abc import TaskGroup
from rich.console import Console
from rich.markup import escape

from coordinator import (
    OUTPUT_LOGGER,
    WATCH_LOGGER,
    Daemons,
    Event,
    HealthReported,
    Host,
    MemoryHost,
    OutputRecorded,
    RunningDaemons,
    Transitioned,
    describe_event,
    dump_events,
    reap_orphans,
    signal_name,
)
from coordinator.errors import NotReadyError, SystemTerminatedError, WaitTimeoutError
from statemachines import LifecycleState

from ._control_api import ControlState
from ._control_options import ControlOptions
from ._control_server import ControlServer
from ._control_streams import EventHub
from ._up_printer import Printer
from ._up_table import Processes, fitting_rows, table

__all__ = ["run_up"]

INTERRUPTED = 130
"""`--until-ready` was interrupted before everything was ready."""
KILLED = 137
"""A second Ctrl-C had what was left SIGKILLed."""
REAP_INTERVAL = 0.5
"""Seconds between two looks for orphaned zombies, as PID 1."""
LIST_INTERVAL = 1.0
"""Seconds between two `still stopping: ...` lists in plain output, at least."""


def _signals(*names: str) -> tuple[int, ...]:
    return tuple(getattr(signal, name) for name in names if hasattr(signal, name))


STOP_SIGNALS = _signals("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT")
NOTED_SIGNALS = _signals(
    "SIGUSR1",
    "SIGUSR2",
    "SIGALRM",
    "SIGVTALRM",
    "SIGPROF",
    "SIGXCPU",
    "SIGIO",
    "SIGPWR",
    "SIGSTKFLT",
    "SIGTSTP",
) + tuple(range(signal.SIGRTMIN, signal.SIGRTMAX + 1))
"""Caught (so the services still get the default action, as a caught signal
is reset at exec) and ignored with a note."""
IGNORED_SIGNALS = _signals("SIGTTIN", "SIGTTOU", "SIGPIPE")
"""Set to SIG_IGN: a handler for TTOU would make a background `up`'s writes
to the terminal retry for ever, and PIPE is ignored by Python anyway (a
reader gone is an EPIPE error, which the printer survives)."""


class _WatchRestarts(logging.Handler):
    """Says why the watcher restarts a service (`web: restarting: src/app.py changed`)."""

    def __init__(self, printer: Printer) -> None:
        super().__init__()
        self._printer = printer

    def emit(self, record: logging.LogRecord) -> None:
        self._printer.say(f"[cyan]{escape(record.getMessage())}[/]")


class _OutputLines(logging.Handler):
    """Hands the services' output lines (`[id] line` records) to the printer
    (and to the record). Called by the output pumps, in the event loop's
    thread: a recorded line's moment is the loop's time."""

    def __init__(self, printer: Printer) -> None:
        super().__init__()
        self._printer = printer
        self.record: Callable[[str, str, str], None] | None = None
        """With `--record-output`: each line into the record too."""

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args
        if isinstance(args, tuple) and len(args) == 2:
            entry, line = str(args[0]), str(args[1])
            self._printer.output(entry, line)
            if self.record is not None:
                self.record(entry, str(getattr(record, "stream", "stdout")), line)
        else:
            self._printer.output("-", record.getMessage())


async def run_up(
    daemons: Daemons,
    *,
    console: Console,
    record: Path | None = None,
    until_ready: bool = False,
    timeout: float | None = None,
    exit_if_stuck: bool = False,
    control: ControlOptions | None = None,
    ignore_hangup: bool = False,
    build_options: dict[str, Any] | None = None,
    record_output: bool = False,
) -> int:
    """Run `daemons` until interrupted (or, with `until_ready`, until all is
    ready); returns the exit code. With `exit_if_stuck`, a terminal that no
    longer takes output at the end ends the process (`os._exit`) rather than
    hanging in Python's final flush. With `control`, the control API is
    served meanwhile (docs/api.md). With `ignore_hangup` (a detached `up`, which
    has no terminal to lose), SIGHUP is noted and ignored, not obeyed.
    `build_options` go to `Daemons.build` (`output_lines`, `exit_code_from`
    ...): only those given, so the library's defaults stand for the others.
    The exit code is that of the entry that ended the run, if one did
    (`RunningDaemons.ended_by`). With `record_output`, the services'
    output lines go into the `record` too (`OutputRecorded`)."""
    width = max((len(i) for i in daemons.ids), default=1)
    printer = Printer(console, live=console.is_terminal, width=width)
    server = None
    if control is not None:
        server = ControlServer(control, lambda text: printer.say(text, markup=False))
        # First of all: a second `up` of the same file starts nothing, writes nothing.
        server.open()
    try:
        # Before anything starts (the printer's thread included): a record that
        # cannot be written is a mistake on the command line.
        stream = None if record is None else _open_record(record)
    except BaseException:
        if server is not None:
            server.release()
        raise
    handler = _OutputLines(printer)
    OUTPUT_LOGGER.addHandler(handler)
    restarts = _WatchRestarts(printer)
    WATCH_LOGGER.addHandler(restarts)
    watch_level = WATCH_LOGGER.level
    WATCH_LOGGER.setLevel(logging.INFO)
    level = OUTPUT_LOGGER.level
    OUTPUT_LOGGER.setLevel(logging.INFO)
    OUTPUT_LOGGER.propagate = False
    code = 1
    try:
        printer.start()
        with _ignoring(IGNORED_SIGNALS):
            stops = tuple(s for s in STOP_SIGNALS if not (ignore_hangup and s == signal.SIGHUP))
            code = await _run(
                daemons,
                printer,
                console,
                stream,
                until_ready,
                timeout,
                server,
                stops,
                build_options or {},
                handler if record_output else None,
            )
        return code
    finally:
        if server is not None:
            server.release()
        OUTPUT_LOGGER.removeHandler(handler)
        WATCH_LOGGER.removeHandler(restarts)
        WATCH_LOGGER.setLevel(watch_level)
        OUTPUT_LOGGER.setLevel(level)
        OUTPUT_LOGGER.propagate = True
        if stream is not None:
            with suppress(OSError):  # a failed write was said when it happened
                stream.close()
        if not printer.close() and exit_if_stuck:
            os._exit(code)


def _open_record(record: Path) -> IO[str]:
    """The `--record` file, opened for writing; `ValueError` naming it if it cannot be."""
    try:
        record.parent.mkdir(parents=True, exist_ok=True)
        return record.open("w", encoding="utf-8")
    except OSError as error:
        raise ValueError(f"--record {record}: cannot write: {_reason(error)}") from error


def _reason(error: OSError) -> str:
    """`no space left on device`: how the rest of `up`'s messages put it."""
    return os.strerror(error.errno).lower() if error.errno else str(error)


@contextmanager
def _ignoring(signals: tuple[int, ...]) -> Iterator[None]:
    previous = {number: signal.signal(number, signal.SIG_IGN) for number in signals}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


class _Reporter:
    """The host of an `up` run: each event is recorded, and printed in plain
    mode, the moment it happens, so the printed lines keep the order of
    what happened (a service's output after the spawn that started it)."""

    def __init__(self, inner: Host, printer: Printer, record: IO[str] | None, plain: bool) -> None:
        self.inner = inner
        self.printer = printer
        self.record_to = record
        self.plain = plain
        self.processes = Processes()
        self.events = EventHub()
        """Each event, for the control API's event streams."""
        self.running: RunningDaemons | None = None
        self.changed = False
        self._start: float | None = None
        self._stopping: dict[str, None] = {}
        """Who is stopping now, in the order they began."""
        self._list_due = False
        self._listed_at = -LIST_INTERVAL

    def set_health(self, report: HealthReported) -> None:
        self.inner.set_health(report)

    def record(self, event: Event) -> None:
        # Before the user's host, which may raise: the event is in the
        # system's history either way, so the live streams must have it too.
        self.processes.see(event)
        self.events.publish(event)
        self.inner.record(event)
        self.changed = True
        self._write_record(event)
        if not self.plain:
            return
        if self._start is None:
            self._start = event.at
        at = event.at - self._start
        self.printer.say(f"{at:8.3f}s {describe_event(event)}", markup=False)
        if isinstance(event, Transitioned) and event.source is not event.dest:
            if event.dest is LifecycleState.STOPPING:
                self._stopping[event.entry] = None
            elif event.source is LifecycleState.STOPPING:
                self._stopping.pop(event.entry, None)
            else:
                return
            running = self.running
            if running is not None and running.is_terminating:
                # The event line says what changed; the whole list, which
                # can be long, comes from `_list_stopping`, at most once a second.
                self._list_due = True

    def _write_record(self, event: Event | OutputRecorded) -> None:
        """Append `event` to the `--record` file. A write that fails (a full
        disk) is said once and ends the recording, not the run."""
        stream = self.record_to
        if stream is None:
            return
        try:
            dump_events([event], stream)
            stream.flush()
        except OSError as error:
            self.record_to = None
            self.printer.say(
                f"[bold red]--record {escape(str(stream.name))}: cannot write: {_reason(error)}; "
                "recording stopped, the run goes on[/]"
            )

    def record_output(self, entry: str, stream: str, line: str) -> None:
        """`--record-output`: a service's output line, on the clock of the events."""
        self._write_record(OutputRecorded(anyio.current_time(), entry, stream, line))

    def list_stopping(self, now: float) -> None:
        """Print who is still stopping, if it changed and a second has passed."""
        if not self._list_due or now - self._listed_at < LIST_INTERVAL:
            return
        self._list_due = False
        self._listed_at = now
        stopping = list(self._stopping)
        listed = ", ".join(stopping) if stopping else "nothing"
        count = f" ({len(stopping)})" if len(stopping) > 1 else ""
        self.printer.say(f"still stopping{count}: {listed}", markup=False)


async def _run(
    daemons: Daemons,
    printer: Printer,
    console: Console,
    record: IO[str] | None,
    until_ready: bool,
    timeout: float | None,
    server: ControlServer | None,
    stops: tuple[int, ...],
    build_options: dict[str, Any],
    recorded_output: _OutputLines | None = None,
) -> int:
    plain = not console.is_terminal
    reporter = _Reporter(daemons.host or MemoryHost(), printer, record, plain=plain)
    if recorded_output is not None and record is not None:
        recorded_output.record = reporter.record_output
    running = daemons.build(host=reporter, **build_options)
    reporter.running = running
    outcome = 0
    started = time.monotonic()
    closing = anyio.Event()
    # Listening before anything starts: a signal from then on is handled.
    listened = cast(tuple[signal.Signals, ...], STOP_SIGNALS + NOTED_SIGNALS)
    # The control server's own task group, outside supervision's: it serves
    # while the system stops, and closes once everything has stopped.
    async with anyio.create_task_group() as control:
        try:
            with anyio.open_signal_receiver(*listened) as signals:
                # Said once a signal is handled: a Ctrl-C from whoever reads
                # the socket or the URL stops the system in order (before, it
                # reached asyncio's own handler, which left `up` hanging).
                if server is not None:
                    for line in server.announce():
                        printer.say(line, markup=False)
                async with running, anyio.create_task_group() as tasks:
                    if os.getpid() == 1:
                        tasks.start_soon(_reap_orphans)
                    if plain:
                        tasks.start_soon(_list_stopping, reporter)
                    else:
                        tasks.start_soon(_show_live, running, reporter)
                    waiting = CancelScope()
                    handling = _Signals(running, printer, waiting, tasks, stops)
                    tasks.start_soon(handling.receive, signals)
                    if server is not None:
                        state = ControlState(
                            running,
                            reporter.processes,
                            server.options.config,
                            started,
                            handling.shutdown_requested,
                            reporter.events,
                            server.web_base,
                        )
                        control.start_soon(server.serve, state, closing)
                    outcome = await _supervise(running, printer, waiting, until_ready, timeout)
                    tasks.cancel_scope.cancel()
        finally:
            reporter.events.finish()
            closing.set()
    killed = handling.killed
    ended = running.ended_by
    if ended is not None and not killed:
        outcome = ended.returncode
        printer.say(f"{ended.entry} ended the run: exit code {outcome}", markup=False)
    printer.say_last("all stopped" + (", some by SIGKILL" if killed else ""))
    return KILLED if killed else outcome


async def _supervise(
    running: RunningDaemons,
    printer: Printer,
    waiting: CancelScope,
    until_ready: bool,
    timeout: float | None,
) -> int:
    """Until everything has stopped; the exit code."""
    outcome = 0
    if until_ready:
        try:
            with waiting:
                await running.wait_ready(timeout)
                printer.say("[green]everything is ready[/]; shutting down in order")
            if waiting.cancelled_caught:
                outcome = INTERRUPTED
        except SystemTerminatedError:
            outcome = INTERRUPTED
        except NotReadyError as error:
            timed_out = isinstance(error, WaitTimeoutError) and timeout is not None
            after = f" (after {timeout:g} s)" if timed_out else ""
            head, _, reasons = str(error).partition("\n")
            printer.say(f"[bold red]{escape(head)}[/]{after}")
            if reasons:
                printer.say(reasons, markup=False)
            outcome = 1
        await running.term()
    else:
        await running.wait_stopped()
    return outcome


class _Signals:
    """What `up` does with each signal it receives."""

    def __init__(
        self,
        running: RunningDaemons,
        printer: Printer,
        waiting: CancelScope,
        tasks: TaskGroup,
        stops: tuple[int, ...] = STOP_SIGNALS,
    ) -> None:
        self.running = running
        self.stops = stops
        self.printer = printer
        self.waiting = waiting
        self.tasks = tasks
        self.asked = 0
        """Stop signals received from outside."""
        self.killed = False

    async def receive(self, signals: AsyncIterator[signal.Signals]) -> None:
        async for received in signals:
            self.handle(received)

    def shutdown_requested(self) -> None:
        """`POST /v1/shutdown`: as a first Ctrl-C."""
        if not self.running.is_terminating:
            self.printer.say("[yellow]shutdown asked through the control API: stopping in order[/]")
            self.waiting.cancel()
            self.tasks.start_soon(self.running.term)

    def handle(self, received: int) -> None:
        name = signal_name(received)
        if received not in self.stops:
            what = "Ctrl-Z" if received == getattr(signal, "SIGTSTP", None) else name
            if self.stops == STOP_SIGNALS:
                how = "Ctrl-C, SIGTERM, SIGHUP or SIGQUIT stop in order"
            else:
                how = "detached: SIGTERM, SIGINT or `healthdaemons down` stop it in order"
            self.printer.say(f"[yellow]{what} ignored: {how}[/]")
            return
        self.asked += 1
        running = self.running
        if self.asked > 1:
            self.printer.say("[bold red]stopping now: SIGKILL to every process group left[/]")
            self.killed = True
            running.kill()
        elif running.is_terminating:
            self.printer.say(
                f"[yellow]{name}: already stopping in order; send it again to kill what is left[/]"
            )
        else:
            self.printer.say(f"[yellow]{name}: stopping in order, dependents first[/]")
            self.waiting.cancel()
            # Not awaited here: this task keeps listening for a second signal.
            self.tasks.start_soon(running.term)


async def _reap_orphans() -> None:
    """As a container's PID 1: the orphans of every tree are reparented to
    `up`, which reaps them (not its own children: see `reap_orphans`)."""
    while True:
        reap_orphans()
        await anyio.sleep(REAP_INTERVAL)


async def _list_stopping(reporter: _Reporter) -> None:
    """Plain output: the list of who is still stopping, once it is due."""
    while True:
        await anyio.sleep(LIST_INTERVAL / 4)
        reporter.list_stopping(time.monotonic())


async def _show_live(running: RunningDaemons, reporter: _Reporter) -> None:
    printer = reporter.printer

    def show() -> None:
        # As many rows as the terminal has lines (it may have been resized).
        rows = fitting_rows(printer.height)
        printer.show(table(running, reporter.processes, rows))

    show()
    try:
        while True:
            # Redrawn after events (at most 10 times a second) and every
            # second for the uptimes.
            for _ in range(10):
                await anyio.sleep(0.1)
                if reporter.changed:
                    break
            reporter.changed = False
            show()
    finally:
        show()
