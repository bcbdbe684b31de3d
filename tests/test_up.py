"""`healthdaemons up`'s printing and table, in-process (the command itself is
tested with real processes in `processes/test_up.py`)."""

from __future__ import annotations

import errno
import io
import re
import threading
import time
from pathlib import Path

import anyio
import pytest
from rich.console import Console

from coordinator import Daemons, ExecFn, Ready
from healthdaemons._up import run_up
from healthdaemons._up_printer import Printer
from healthdaemons._up_table import Processes, table, title

from .support import Switch, forever


def _plain() -> tuple[Console, io.StringIO]:
    output = io.StringIO()
    return Console(file=output, force_terminal=False, width=100, soft_wrap=True), output


async def test_a_chain_of_100_lists_who_is_still_stopping_about_once_a_second() -> None:
    system = Daemons.of()
    for index in range(100):
        requires = [f"s{index - 1}"] if index else []
        system = system.add_daemon(
            f"s{index}",
            exec=forever(stop_delay=0.01),
            ready=Ready(None, Switch()),
            requires=requires,
        )
    console, output = _plain()
    started = time.monotonic()
    assert await run_up(system, console=console, until_ready=True, timeout=60) == 0
    seconds = time.monotonic() - started
    lines = output.getvalue().splitlines()
    lists = [line for line in lines if line.startswith("still stopping")]
    assert len(lists) <= seconds + 2, lists  # one a second at most, not one per change
    assert sum(map(len, lines)) < 100 * 1000  # linear in the entries
    assert lines[-1] == "all stopped"


FULL_DISK = Path("/dev/full")
"""Every write to it fails with ENOSPC, as on a full disk."""


@pytest.mark.skipif(not FULL_DISK.exists(), reason="needs /dev/full")
async def test_a_record_that_cannot_be_written_is_said_once_and_the_run_goes_on() -> None:
    system = Daemons.of().add_daemon("db", exec=forever(), ready=Ready(None, Switch()))
    console, output = _plain()
    code = await run_up(system, console=console, until_ready=True, timeout=60, record=FULL_DISK)
    assert code == 0
    lines = output.getvalue().splitlines()
    assert [line for line in lines if "cannot write" in line] == [
        "--record /dev/full: cannot write: no space left on device; "
        "recording stopped, the run goes on"
    ]
    assert any(line.endswith("db           stopping -> stopped  (gone)") for line in lines)
    assert lines[-1] == "all stopped"


def crash_loop() -> ExecFn:
    async def run(_: object) -> None:
        raise RuntimeError("boom")

    return ExecFn(run)


def _render(table: object) -> str:
    console = Console(file=io.StringIO(), width=200, force_terminal=False)
    console.print(table)
    assert isinstance(console.file, io.StringIO)
    return console.file.getvalue()


async def test_the_table_shows_a_crash_loop_and_no_health_once_stopped() -> None:
    system = (
        Daemons.of()
        .add_daemon("db", exec=forever(), ready=Ready("Database", Switch(message="accepting")))
        .add_daemon("app", exec=crash_loop(), ready=Ready("App", Switch(ok=False)))
    )
    async with system.build() as running:
        await running.wait_until(lambda: running.statistics().restarts["app"] >= 2, timeout=30)
        await running.wait_until(lambda: running.health("db") is not None, timeout=30)
        processes = Processes()
        for event in running.history:
            processes.see(event)
        drawn = _render(table(running, processes))
        app = next(line for line in drawn.splitlines() if " app " in line)
        assert "starting" in app
        assert "crashed (RuntimeError: boom, restart 2" in app
        assert "accepting" in drawn
    for event in running.history:
        processes.see(event)
    drawn = _render(table(running, processes))
    assert "accepting" not in drawn  # the health of a stopped service is gone
    assert "crashed" not in drawn


class _Sink(io.StringIO):
    """A stream that takes nothing until released, then fails if told to."""

    def __init__(self, error: OSError | None = None) -> None:
        super().__init__()
        self.released = threading.Event()
        self.error = error

    def write(self, text: str) -> int:
        self.released.wait(10)
        if self.error is not None:
            raise self.error
        return super().write(text)


def test_a_slow_sink_drops_lines_with_a_note_and_never_blocks() -> None:
    sink = _Sink()
    printer = Printer(
        Console(file=sink, force_terminal=False), live=False, width=5, max_pending=10_000
    )
    printer.start()
    started = time.monotonic()
    for number in range(50_000):
        printer.output("flood", f"line {number:05d} " + "x" * 40)
    printer.say("a message is never dropped", markup=False)
    assert time.monotonic() - started < 5  # the sink took nothing meanwhile
    sink.released.set()
    assert printer.close()
    written = sink.getvalue()
    assert "a message is never dropped" in written
    assert "output lines dropped (flood " in written
    kept = written.count("flood | line")
    dropped = sum(map(int, re.findall(r"\.\.\. (\d+) output lines dropped", written)))
    assert kept + dropped == 50_000
    assert kept <= 3 * 10_000 // 40  # what was taken before the sink blocked, and after


class _SlowSink(io.StringIO):
    """Takes about 200 KB a second, as a slow SSH session might."""

    def write(self, text: str) -> int:
        time.sleep(len(text) / 200_000)
        return super().write(text)


def test_a_slow_sink_that_keeps_taking_output_is_not_taken_for_stuck() -> None:
    sink = _SlowSink()
    console = Console(file=sink, force_terminal=False)
    printer = Printer(console, live=False, width=5, max_pending=1_000_000)
    lines = [f"line {number:05d} " + "x" * 40 for number in range(10_000)]  # 500 KB: 2.5 s
    for line in lines:
        printer.output("slow", line)
    printer.say_last("all stopped")
    printer.start()
    assert printer.close(timeout=1.5)  # each write took a third of a second, all 2.5 s
    written = sink.getvalue().splitlines()
    assert written[-1] == "all stopped"
    assert written[:-1] == [f"slow  | {line}" for line in lines]


@pytest.mark.parametrize("error", [errno.EIO, errno.EPIPE])
def test_a_failing_sink_ends_printing_quietly(error: int) -> None:
    sink = _Sink(OSError(error, "gone"))
    sink.released.set()
    printer = Printer(Console(file=sink, force_terminal=False), live=False, width=5)
    printer.start()
    printer.output("svc", "a line")
    assert printer.close()
    assert printer.failed is not None and printer.failed.errno == error
    printer.output("svc", "later lines are dropped")
    printer.say("and messages too")


def test_output_the_stream_cannot_encode_is_replaced_and_printing_goes_on() -> None:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")  # as under LANG=C without UTF-8 mode
    printer = Printer(Console(file=stream, force_terminal=False), live=False, width=3)
    printer.start()
    printer.output("uni", "ready \u2713")
    printer.say("later", markup=False)
    assert printer.close()
    assert printer.failed is None
    stream.flush()
    assert raw.getvalue() == b"uni | ready ?\nlater\n"


async def test_output_lines_reach_the_printer_in_order_with_events() -> None:
    lines = [f"line {n}" for n in range(5)]

    async def talk(_: object) -> None:
        from coordinator import OUTPUT_LOGGER

        for line in lines:
            OUTPUT_LOGGER.info("[%s] %s", "talker", line)
        await anyio.sleep_forever()

    system = Daemons.of().add_daemon("talker", exec=ExecFn(talk), ready=Ready(None, Switch()))
    console, output = _plain()
    assert await run_up(system, console=console, until_ready=True, timeout=60) == 0
    text = output.getvalue()
    assert [line for line in text.splitlines() if line.startswith("talker | ")] == [
        f"talker | {line}" for line in lines
    ]
    assert text.index("spawned") < text.index("talker | line 0")


def test_messages_are_bounded_too_when_the_sink_takes_nothing() -> None:
    sink = _Sink()
    printer = Printer(Console(file=sink, force_terminal=False), live=False, width=5)
    printer.start()
    for number in range(25_000):
        printer.say(f"event {number}", markup=False)
    sink.released.set()
    assert printer.close()
    written = sink.getvalue()
    kept = written.count("event ")
    dropped = sum(map(int, re.findall(r"\(up (\d+)\)", written)))
    assert dropped > 0
    assert kept + dropped == 25_000


async def test_the_title_names_five_of_those_still_stopping() -> None:
    system = Daemons.of()
    for index in range(8):
        system = system.add_daemon(
            f"d{index}", exec=forever(stop_delay=0.5), ready=Ready(None, Switch())
        )
    async with system.build() as running, anyio.create_task_group() as tasks:
        await running.wait_ready(timeout=30)
        tasks.start_soon(running.term)
        await running.wait_until(lambda: running.statistics().terminating, timeout=30)
        assert title(running) == "stopping: d0, d1, d2, d3, d4 and 3 more (a second Ctrl-C kills)"
    assert title(running) == "all stopped"
