"""Benchmark of the control plane: a supervisor serving its API while clients follow it.

Run by `make bench` as `.venv/bin/python bench/bench_control.py`. Each figure
is compared with a baseline measured in the same run (docs/performance.md):

* load: `--count` (200) real daemons, each a small Python printing a line every 5 s,
  each checked every `CHECK_PERIOD` (1 s) by an in-process check that notes
  when it runs, with the control server on a unix socket in the same event
  loop, as `healthdaemons up` runs it. Once all are ready, `--clients` (100)
  clients in another process each follow every entry's output and the event
  stream, for `--window` (10) seconds; then `term()` is timed. The baseline is
  the same run without clients. Goals: `term()` within 1.2x of the baseline,
  and the mean check period within 5% of the baseline's.
* latency: through the socket, with `--count` entries, from another process:
  p50 and p99 of `GET /v1/entries`, and of a restart round trip (`POST
  .../restart` until the `spawned` event of the entry's new process).
* ps: `healthdaemons ps --socket S` from process start to exit, against a bare
  `python3 -I -c pass`, median of `--runs`; and which of hypothesis, trio,
  viz, graphviz, rich it imported (none should be).
* slow reader: a client asks to follow every entry's output and never reads,
  while 20 daemons print as fast as they can for `--window` seconds: the
  supervisor's RSS growth against the ring buffers' bound.

The exit code is 0 even when a goal is missed (a report); 1 only when
something could not be measured.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import aclosing
from pathlib import Path

import anyio
from bench_processes import become_subreaper, measure, require_all_stopped, sweep_children
from targets import Target, report

from coordinator import (
    Command,
    Daemons,
    Event,
    HealthCheckResult,
    HealthReported,
    Ready,
    RunningDaemons,
)
from coordinator.triggers import cooldown_trigger
from healthdaemons import ControlClient
from healthdaemons._control_api import ControlState
from healthdaemons._control_options import ControlOptions
from healthdaemons._control_paths import ControlPaths
from healthdaemons._control_server import ControlServer
from healthdaemons._control_streams import EventHub
from healthdaemons._up_table import Processes

PRINTER = [
    sys.executable,
    "-I",
    "-S",
    "-c",
    "import time\nwhile True:\n    print('tick', flush=True)\n    time.sleep(5)",
]
"""A line every 5 s from each: 40 lines a second from 200, 4,000 sent to 100
followers. One process, not a shell and its `sleep`: a group of one stops as
fast as a `sleep` does, so the baseline is the supervisor's own speed."""
FLOOD = (
    "while :; do echo 'a line of output that is about eighty bytes long, to fill the buffers'; done"
)
SLEEP = ["sleep", "1000"]
CHECK_PERIOD = 1.0
READY_TIMEOUT = 120.0
FLOODERS = 20
FLOOD_LINES = 1000
FLOOD_BYTES = 1 << 20

GOAL_TERM_RATIO = 1.2
GOAL_PERIOD_DRIFT = 0.05


class PeriodCheck:
    """Succeeds at once, noting when it ran."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def __call__(self) -> HealthCheckResult:
        self.times.append(time.monotonic())
        return HealthCheckResult.success()


def system(count: int, command: str | list[str], checks: list[PeriodCheck] | None) -> Daemons:
    daemons = Daemons.of()
    for i in range(count):
        check = PeriodCheck()
        if checks is not None:
            checks.append(check)
        daemons = daemons.add_daemon(
            f"d{i}",
            exec=Command(command),
            ready=Ready(display=f"Daemon {i}", fn=check, trigger=cooldown_trigger(CHECK_PERIOD)),
        )
    return daemons


class _Recorder:
    """The host: pid and spawn time per entry, as `up`'s reporter keeps them."""

    def __init__(self) -> None:
        self.processes = Processes()
        self.events = EventHub()

    def set_health(self, report: HealthReported) -> None:
        pass

    def record(self, event: Event) -> None:
        self.processes.see(event)
        self.events.publish(event)


async def serving(
    daemons: Daemons,
    socket_path: Path,
    body: Callable[[RunningDaemons], Awaitable[None]],
    after: Callable[[], Awaitable[None]] | None = None,
    output_lines: int = 1000,
    output_bytes: int = 1 << 20,
) -> None:
    """Run `daemons` with the control server on `socket_path`, and `body` meanwhile;
    `after` once the system has stopped, while the server still answers (as
    `up` keeps answering until its clients have read the ends of their streams)."""
    recorder = _Recorder()
    server = ControlServer(ControlOptions(ControlPaths.beside(socket_path)), print)
    server.open()
    closing = anyio.Event()
    try:
        async with anyio.create_task_group() as control:
            running = daemons.build(
                host=recorder, output_lines=output_lines, output_bytes=output_bytes
            )
            async with running:
                state = ControlState(
                    running,
                    recorder.processes,
                    None,
                    time.monotonic(),
                    lambda: None,
                    recorder.events,
                )
                control.start_soon(server.serve, state, closing)
                await body(running)
                await running.term()
            recorder.events.finish()
            if after is not None:
                await after()
            closing.set()
    finally:
        server.release()


# The load: followers against none.


def client_process(mode: str, socket_path: Path, *arguments: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, "--client", mode, str(socket_path), *arguments],
        stdout=subprocess.PIPE,
        text=True,
    )


def await_line(process: subprocess.Popen[str], expected: str) -> None:
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if line != expected:
        raise RuntimeError(f"client process said {line!r}, not {expected!r}")


async def load(count: int, clients: int, window: float) -> tuple[float, float, float, int]:
    """(term seconds, mean check period, the supervisor's CPU seconds during
    term, items the clients read) with `clients` followers."""
    checks: list[PeriodCheck] = []
    outcome: list[float] = []
    followers = None

    async def body(running: RunningDaemons) -> None:
        nonlocal followers
        await running.wait_ready(READY_TIMEOUT)
        if clients:
            followers = client_process("follow", socket_path, str(clients))
            await anyio.to_thread.run_sync(await_line, followers, "following")
        begin = time.monotonic()
        await anyio.sleep(window)
        end = time.monotonic()
        periods = [
            later - earlier
            for check in checks
            for earlier, later in zip(check.times, check.times[1:], strict=False)
            if earlier >= begin and later <= end
        ]
        gc.collect()
        started = time.perf_counter()
        cpu = time.process_time()
        await running.term()
        cpu = time.process_time() - cpu
        outcome.extend([time.perf_counter() - started, statistics.fmean(periods), cpu])
        require_all_stopped(running, count)

    read = 0

    async def after() -> None:
        nonlocal read
        if followers is not None:
            # Their streams end with the system's block, after term().
            out, _ = await anyio.to_thread.run_sync(followers.communicate)
            read = int(out.split()[-1])

    with tempfile.TemporaryDirectory() as directory:
        socket_path = Path(directory) / "ctl.sock"
        await serving(system(count, PRINTER, checks), socket_path, body, after)
    return outcome[0], outcome[1], outcome[2], read


async def follow_all(socket_path: Path, clients: int) -> None:
    """`clients` clients, each following every entry's output and the events to the end."""
    read = 0
    connected = 0
    all_connected = anyio.Event()

    async def one() -> None:
        nonlocal read, connected
        async with ControlClient(socket_path, timeout=60) as client:

            async def output() -> None:
                nonlocal read
                async with aclosing(client.follow_output(lines=0)) as lines:
                    async for _ in lines:
                        read += 1

            async def events() -> None:
                nonlocal read, connected
                async with aclosing(client.follow_events()) as stream:
                    connected += 1
                    if connected == clients:
                        all_connected.set()
                    async for _ in stream:
                        read += 1

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(output)
                tasks.start_soon(events)

    async with anyio.create_task_group() as tasks:
        for _ in range(clients):
            tasks.start_soon(one)
        await all_connected.wait()
        print("following", flush=True)
    print(f"read {read}", flush=True)


# Latency through the socket.


async def latency(count: int, samples: int) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {}

    async def body(running: RunningDaemons) -> None:
        await running.wait_ready(READY_TIMEOUT)
        measurer = client_process("latency", socket_path, str(count), str(samples))
        out, _ = await anyio.to_thread.run_sync(measurer.communicate)
        found.update(json.loads(out.splitlines()[-1]))

    with tempfile.TemporaryDirectory() as directory:
        socket_path = Path(directory) / "ctl.sock"
        daemons = Daemons.of()
        for i in range(count):
            daemons = daemons.add_daemon(
                f"d{i}", exec=Command(SLEEP), ready=Ready(display=None, fn=PeriodCheck())
            )
        await serving(daemons, socket_path, body)
    return found


async def measure_latency(socket_path: Path, count: int, samples: int) -> None:
    listing: list[float] = []
    restart: list[float] = []
    send, spawned = anyio.create_memory_object_stream[str](10_000)

    async def pump(client: ControlClient) -> None:
        async with aclosing(client.follow_events()) as events:
            async for event in events:
                if isinstance(event, dict) and event["type"] == "spawned":
                    await send.send(str(event["entry"]))

    async def restarted(client: ControlClient, entry: str, within: float | None) -> bool:
        await client.restart(entry)
        with anyio.move_on_after(within):
            async for spawned_entry in spawned:
                if spawned_entry == entry:
                    return True
        return False

    async with ControlClient(socket_path, timeout=60) as client:
        for _ in range(samples):
            begin = time.perf_counter()
            await client.entries()
            listing.append(time.perf_counter() - begin)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(pump, client)
            # Until the stream is surely subscribed: a restart it sees.
            while not await restarted(client, "d0", 1.0):
                pass
            for i in range(samples):
                begin = time.perf_counter()
                await restarted(client, f"d{i % count}", None)
                restart.append(time.perf_counter() - begin)
            tasks.cancel_scope.cancel()
    print(json.dumps({"entries": listing, "restart": restart}), flush=True)


# `healthdaemons ps`, end to end.


IMPORTS_TO_AVOID = ("hypothesis", "trio", "viz", "graphviz", "rich")


def timed_runs(argv: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        begin = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - begin)
    return statistics.median(times)


async def ps(runs: int) -> tuple[float, float, list[str]]:
    found: list[float] = []
    imported: list[str] = []

    async def body(running: RunningDaemons) -> None:
        await running.wait_ready(READY_TIMEOUT)
        command = [sys.executable, "-m", "healthdaemons", "ps", "--socket", str(socket_path)]
        bare = [sys.executable, "-I", "-c", "pass"]
        found.append(await anyio.to_thread.run_sync(timed_runs, command, runs))
        found.append(await anyio.to_thread.run_sync(timed_runs, bare, runs))
        probe = await anyio.run_process([sys.executable, "-X", "importtime", *command[1:]])
        names = {
            line.split("|")[-1].strip()
            for line in probe.stderr.decode().splitlines()
            if "|" in line
        }
        imported.extend(n for n in names if n.split(".")[0] in IMPORTS_TO_AVOID)

    with tempfile.TemporaryDirectory() as directory:
        socket_path = Path(directory) / "ctl.sock"
        await serving(system(10, SLEEP, None), socket_path, body)
    return found[0], found[1], sorted(imported)


# A reader that never reads.


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def slow_reader(window: float) -> tuple[int, int, int]:
    """(RSS growth in bytes, the buffers' bound, lines printed meanwhile)."""
    found: list[int] = []

    async def body(running: RunningDaemons) -> None:
        await running.wait_ready(READY_TIMEOUT)
        # Let the buffers fill, so the growth is the reader's, not theirs.
        await running.wait_until(
            lambda: all(len(running.output(i)) >= FLOOD_LINES for i in running.ids), 30
        )
        gc.collect()
        before = rss()
        stuck = socket.socket(socket.AF_UNIX)
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.connect(str(socket_path))
        stuck.sendall(b"GET /v1/output?follow=true&lines=1000 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        printed = sum(running.statistics().output_dropped.values())
        await anyio.sleep(window)
        printed = sum(running.statistics().output_dropped.values()) - printed
        gc.collect()
        found.extend([rss() - before, printed])
        stuck.close()

    with tempfile.TemporaryDirectory() as directory:
        socket_path = Path(directory) / "ctl.sock"
        daemons = system(FLOODERS, FLOOD, None)
        await serving(
            daemons, socket_path, body, output_lines=FLOOD_LINES, output_bytes=FLOOD_BYTES
        )
    bound = FLOODERS * FLOOD_BYTES
    return found[0], bound, found[1]


# Report.


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--backends", nargs="+", default=["asyncio", "trio"])
    parser.add_argument("--client", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.client:
        mode, where, *rest = args.client
        if mode == "follow":
            anyio.run(follow_all, Path(where), int(rest[0]))
        else:
            anyio.run(measure_latency, Path(where), int(rest[0]), int(rest[1]))
        return 0
    if args.window < 3 * CHECK_PERIOD:
        # The mean check period needs checks of each entry two apart within it.
        parser.error(f"--window must be at least {3 * CHECK_PERIOD:g} s (3 check periods)")
    become_subreaper()
    failed = False
    targets: list[Target] = []
    print(f"control plane: {args.count} daemons, {args.clients} clients", flush=True)
    for backend in args.backends:
        runs: dict[int, list[tuple[float, float]]] = {0: [], args.clients: []}
        for _ in range(args.repeat):
            # Alternated, so that both see the same machine.
            for clients in (0, args.clients):
                got = measure("load", backend, load, args.count, clients, args.window)
                if got is None:
                    failed = True
                    continue
                term, period, cpu, read = got
                runs[clients].append((term, period))
                print(
                    f"  {backend:<8} {clients:>3} clients: term {term:.3f} s "
                    f"(supervisor CPU {cpu:.3f} s), check period {period:.4f} s, "
                    f"{read} items read",
                    flush=True,
                )
        if runs[0] and runs[args.clients]:
            # The best term (the least disturbed run), the mean period.
            term_ratio = min(t for t, _ in runs[args.clients]) / min(t for t, _ in runs[0])
            with_clients = statistics.fmean(p for _, p in runs[args.clients])
            drift = abs(with_clients / statistics.fmean(p for _, p in runs[0]) - 1)
            targets.append(
                Target(
                    term_ratio <= GOAL_TERM_RATIO,
                    f"{backend}: term with clients {term_ratio:.2f}x without"
                    f" (goal <= {GOAL_TERM_RATIO}x)",
                )
            )
            targets.append(
                Target(
                    drift < GOAL_PERIOD_DRIFT,
                    f"{backend}: check period drift {drift:.1%} (goal < {GOAL_PERIOD_DRIFT:.0%})",
                )
            )
        found = measure("latency", backend, latency, args.count, args.samples)
        if found is None:
            failed = True
        else:
            for name, values in found.items():
                print(
                    f"  {backend:<8} latency {name:<8} p50 {percentile(values, 0.5) * 1000:.1f} ms"
                    f", p99 {percentile(values, 0.99) * 1000:.1f} ms"
                )
    got_ps = measure("ps", "asyncio", ps, args.runs)
    if got_ps is None:
        failed = True
    else:
        command, bare, imported = got_ps
        print(
            f"  ps end to end {command * 1000:.0f} ms, bare python {bare * 1000:.0f} ms: "
            f"{command / bare:.1f}x; imported of {', '.join(IMPORTS_TO_AVOID)}: "
            f"{', '.join(imported) or 'none'}"
        )
        targets.append(Target(not imported, "ps imports none of them"))
    got_slow = measure("slow reader", "asyncio", slow_reader, args.window)
    if got_slow is None:
        failed = True
    else:
        growth, bound, printed = got_slow
        print(
            f"  slow reader: RSS grew {growth / 2**20:.1f} MiB while {printed} lines went "
            f"through full buffers (bound of the buffers {bound / 2**20:.0f} MiB)"
        )
        targets.append(
            Target(growth < bound, "a reader that never reads holds no more than the buffers")
        )
    report("bench_control", targets)
    left = sweep_children()
    if left:
        print(f"!! processes left: {left}")
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
