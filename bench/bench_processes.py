"""Benchmark of commands: real processes spawned, checked and stopped by the coordinator.

Run by `make bench` as `.venv/bin/python bench/bench_processes.py`; `--repeat N`
keeps the best of N runs, `--idle-seconds S` sets the idle window (0 skips it),
`--backends` chooses the event loops: `asyncio` and `trio` by default, and
`asyncio-pidfd`, asyncio with a `PidfdChildWatcher` installed by the bench
(what Python 3.12 uses by default on Linux; 3.11 starts a thread per child).
The coordinator's own process layer watches pidfds itself, so that variant
now changes only `anyio+pipes` and the fallback where pidfds are missing.
`--large N` sets the count of the large runs (2000; 0 skips them).
`--no-chains` skips the chains and the stubborn services (to compare two
versions of the process layer quickly; their goals then say `-`).

Each measurement runs in a fresh event loop with the real clock. The floors
are measured in the same run, just before each round of the coordinator's
measurements, so that the ratios compare like with like on a noisy machine.

* spawn: `--count` (200) `sleep 1000` daemons, no dependencies, each with a
  check that returns `HealthCheckResult.success()` at once (default trigger).
  `ready`: from `system.build()` to `wait_ready()` returning; `term`:
  `await running.term()`, until every process group is gone. The floor:
  `subprocess.Popen(["sleep", "1000"], start_new_session=True)` as many times,
  then `os.killpg(pid, SIGTERM)` to every group, then `wait()` for each.
* references (no goal), to tell where the time goes, on the same `--count`:
  `floor+pipes`, the floor with stdin from /dev/null and stdout and stderr
  piped (as every command runs), the pipes closed after the reap;
  `anyio+pipes`, `anyio.open_process` with the same arguments, both pipes
  drained by tasks, `wait()` and `aclose()` for each (no coordinator);
  `own-layer`, the coordinator's own process layer (`spawn_child`: pidfds
  and pipes in one epoll set read by one task for all the children, anyio's
  where pidfds are missing), its output discarded, `wait()` and `aclose()`
  for each (no coordinator);
  `in-process`, the coordinator with `ExecFn` daemons (no process at all).
* chain-log: `--chain` (20) services, each requiring the previous one, each
  a tiny Python listener (`sys.executable -I -S`) on its own free port that
  binds, listens, prints `listening` and serves; ready by `log_line`.
* chain-port: the same chain of the same listeners, ready by
  `check_port_listening(port)` under the default trigger. Measured right
  after chain-log, on the same backend, in every run; the goal is their
  ratio (port / log, best against best).
* stubborn: 10 services that ignore SIGTERM (`trap '' TERM`, inherited by
  the `sleep` they run), `sigterm_timeout=1`: `term()` until all are gone
  (SIGTERM, 1 s, SIGKILL).
* large: the floor and `spawn` again with `--large` (2000) sleep daemons,
  with the references `floor+pipes`, `anyio+pipes`, `own-layer` and
  `in-process` at that size, the floor
  measured just before each round. Targets: build to ready and `term()` at
  most 3x the floor of the same size, and each grows at most 1.1x the growth
  in entries from `--count` to `--large` (11x from 200 to 2,000). The bench
  raises its own soft `RLIMIT_NOFILE` to the hard limit first and prints the
  limits; when the hard limits cannot hold `--large` daemons (file
  descriptors, or processes and threads for a user other than root), it
  skips the large measurements and says why. `--large 0` skips them.
* idle: the supervisor's CPU time (`time.process_time()`, all its threads)
  over `--idle-seconds` (30) once `--count` sleep daemons are ready, with
  their default checks (every 30 s while successful). Measured once per
  backend, not repeated; then again with `--large` daemons (goal: under
  0.5 s per 30 s).

The goals are printed as PASS/MISS lines. The exit code is 0 even when a
goal is missed (this is a report); it is 1 only when something could not be
measured at all (an exception, a process left behind).
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import functools
import gc
import math
import os
import platform
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any, Protocol, TypeVar

import anyio
from anyio.abc import ByteReceiveStream, Process
from targets import Target, report

from coordinator import (
    Command,
    Daemons,
    ExecFn,
    HealthCheckResult,
    ProcessExited,
    ProcessSpawned,
    Ready,
    RunningDaemons,
)
from coordinator._child_process import ChildProcess, pidfd_works, spawn_child
from coordinator._process_table import all_processes
from coordinator.checks import check_port_listening, log_line

T = TypeVar("T")

SLEEP = ["sleep", "1000"]
STUBBORN_COMMAND = "trap '' TERM; echo ready; sleep 1000"
"""`echo ready` comes after the trap, so a service is ready only once it ignores
SIGTERM; the ignored disposition survives the fork and exec of `sleep`."""
LISTENER = (
    "import socket, sys\n"
    "s = socket.socket()\n"
    "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind(('127.0.0.1', int(sys.argv[1])))\n"
    "s.listen()\n"
    "print('listening', flush=True)\n"
    "while True:\n"
    "    s.accept()[0].close()\n"
)
"""Both chains run this: it binds, listens, says so, then serves (SIGTERM ends it)."""
STUBBORN_COUNT = 10
STUBBORN_SIGTERM_TIMEOUT = 1.0
READY_TIMEOUT = 60.0
BACKENDS = ("asyncio", "asyncio-pidfd", "trio")
DEFAULT_BACKENDS = ("asyncio", "trio")

GOAL_SPAWN_RATIO = 3.0
GOAL_CHAIN_PORT_OVER_LOG = 1.5
GOAL_STUBBORN = 1.1
GOAL_IDLE_CPU_PER_30S = 0.1
GOAL_LARGE_IDLE_CPU_PER_30S = 0.5
GOAL_LARGE_GROWTH = 1.1
"""From `--count` to `--large` entries, the time may grow 1.1x as much as the
number of entries: 11x from 200 to 2,000."""

FDS_PER_DAEMON = 4
"""Held by the supervisor for each command: its two pipes' ends, and a pidfd
or a watcher's descriptor (three in all on pidfds, one more on anyio's layer
with asyncio's pidfd watcher); the spawn briefly holds the child's ends too."""
THREADS_PER_DAEMON = 2
"""A process, and at most one waiter thread (asyncio's on Python 3.11)."""
SPARE_FDS = 256

PR_SET_CHILD_SUBREAPER = 36


# Helpers.


class CountingCheck:
    """A check that succeeds at once and counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> HealthCheckResult:
        self.calls += 1
        return HealthCheckResult.success()


def free_ports(count: int) -> list[int]:
    """`count` distinct ports that were free a moment ago (bound to port 0, then closed)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def live_groups() -> set[int]:
    """The process groups that have a live (not zombie) member, from `/proc`."""
    return {p.pgrp for p in all_processes() if p.alive}


def require_all_stopped(running: RunningDaemons, count: int) -> None:
    """Not timed: every entry stopped, and no live process left in any group it spawned.

    Zombies do not count: a `sleep` orphaned by its killed shell is reparented
    to this process (a subreaper), and reaped by `sweep_children` after the run.
    """
    stopped = running.statistics().stopped
    if stopped != count:
        raise RuntimeError(f"term() returned with {stopped} of {count} stopped")
    spawned = {e.pid for e in running.history if isinstance(e, ProcessSpawned) and e.pid}
    alive = sorted(spawned & live_groups())
    if alive:
        raise RuntimeError(f"process groups still alive after term(): {alive}")


def chain_requires(i: int) -> list[str]:
    return [f"c{i - 1}"] if i else []


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """Start-up (spawn, or build to ready) and shutdown, in seconds."""

    ready: float
    term: float


# The floors and references: no coordinator.


def raw_floor(count: int, pipes: bool = False) -> Lifecycle:
    """`Popen` `count` times; then `killpg` every group, and `wait()` for each."""
    processes: list[subprocess.Popen[bytes]] = []
    streams = subprocess.PIPE if pipes else None
    try:
        begin = time.perf_counter()
        for _ in range(count):
            processes.append(
                subprocess.Popen(
                    SLEEP,
                    start_new_session=True,
                    stdin=subprocess.DEVNULL if pipes else None,
                    stdout=streams,
                    stderr=streams,
                )
            )
        spawn = time.perf_counter() - begin
        begin = time.perf_counter()
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait()
            if process.stdout is not None:
                process.stdout.close()
            if process.stderr is not None:
                process.stderr.close()
        stop = time.perf_counter() - begin
    finally:
        for process in processes:
            if process.returncode is None:
                kill_group(process.pid)
                process.wait()
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()
    return Lifecycle(spawn, stop)


async def drain(stream: ByteReceiveStream) -> None:
    try:
        async for _ in stream:
            pass
    except (anyio.ClosedResourceError, anyio.BrokenResourceError):
        pass


async def anyio_processes(count: int) -> Lifecycle:
    """`anyio.open_process` as the coordinator calls it; both pipes drained by tasks."""
    processes: list[Process] = []
    env = dict(os.environ)
    try:
        async with anyio.create_task_group() as drains:
            begin = time.perf_counter()
            for _ in range(count):
                process = await anyio.open_process(
                    SLEEP,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env=env,
                    start_new_session=True,
                )
                processes.append(process)
                assert process.stdout is not None
                assert process.stderr is not None
                drains.start_soon(drain, process.stdout)
                drains.start_soon(drain, process.stderr)
            spawn = time.perf_counter() - begin
            term = await stop_children(processes)
    finally:
        await kill_left(processes)
    return Lifecycle(spawn, term)


class Child(Protocol):
    """What anyio's `Process` and the coordinator's `ChildProcess` share."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    async def wait(self) -> int: ...

    async def aclose(self) -> None: ...


async def stop_children(children: Sequence[Child]) -> float:
    """`killpg` every group, then `wait()` and `aclose()` each: the seconds it took."""
    await anyio.sleep(0.2)  # let every reader reach its first wait
    begin = time.perf_counter()
    for child in children:
        os.killpg(child.pid, signal.SIGTERM)

    async def stop(child: Child) -> None:
        await child.wait()
        await child.aclose()

    async with anyio.create_task_group() as stops:
        for child in children:
            stops.start_soon(stop, child)
    return time.perf_counter() - begin


def kill_group(pgid: int) -> None:
    """SIGKILL a process group that may be gone already."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


async def kill_left(children: Sequence[Child]) -> None:
    """After a failed measurement: nothing of it left running."""
    with anyio.CancelScope(shield=True):
        for child in children:
            if child.returncode is None:
                kill_group(child.pid)
            await child.aclose()


class DiscardedOutput:
    """An output sink that keeps nothing."""

    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


async def own_layer(count: int) -> Lifecycle:
    """The coordinator's process layer (`spawn_child`) alone: spawn, then
    `killpg` every group, and `wait()` and `aclose()` for each."""
    children: list[ChildProcess] = []
    env = dict(os.environ)
    output = DiscardedOutput()
    async with anyio.create_task_group() as readers:
        try:
            begin = time.perf_counter()
            for i in range(count):
                with anyio.CancelScope(shield=True):
                    child = await spawn_child(
                        SLEEP,
                        cwd=None,
                        env=env,
                        pass_fds=(),
                        user=None,
                        group=None,
                        extra_groups=None,
                        stdout=output,
                        stderr=output,
                        task_group=readers,
                        name=f"child {i}",
                    )
                children.append(child)
            spawn = time.perf_counter() - begin
            term = await stop_children(children)
        finally:
            await kill_left(children)
    return Lifecycle(spawn, term)


async def serve_forever(_subcontainer: object) -> None:
    await anyio.sleep_forever()


async def in_process(count: int) -> Lifecycle:
    system = Daemons.of()
    exec_ = ExecFn(serve_forever)
    check = CountingCheck()
    for i in range(count):
        system = system.add_daemon(f"s{i}", exec=exec_, ready=Ready(display=f"S {i}", fn=check))
    return await run_lifecycle(system)


# The coordinator with commands.


async def run_lifecycle(
    system: Daemons, check: Callable[[RunningDaemons], None] | None = None
) -> Lifecycle:
    """Build to all ready, then `term()`; `check` looks at the stopped system."""
    gc.collect()
    begin = time.perf_counter()
    async with system.build() as running:
        await running.wait_ready(timeout=READY_TIMEOUT)
        ready = time.perf_counter() - begin
        begin = time.perf_counter()
        await running.term()
        term = time.perf_counter() - begin
        require_all_stopped(running, len(system))
        if check is not None:
            check(running)
    return Lifecycle(ready, term)


def sleep_system(count: int, check: Callable[[], HealthCheckResult]) -> Daemons:
    system = Daemons.of()
    for i in range(count):
        system = system.add_daemon(
            f"s{i}", exec=Command(SLEEP), ready=Ready(display=f"Sleep {i}", fn=check)
        )
    return system


async def spawn_many(count: int) -> Lifecycle:
    return await run_lifecycle(sleep_system(count, CountingCheck()))


def listener_chain(length: int, ready: Callable[[int], Ready]) -> Daemons:
    """`length` listeners, each requiring the one before, each ready by `ready(port)`."""
    system = Daemons.of()
    for i, port in enumerate(free_ports(length)):
        system = system.add_daemon(
            f"c{i}",
            exec=Command([sys.executable, "-I", "-S", "-c", LISTENER, str(port)]),
            ready=ready(port),
            requires=chain_requires(i),
        )
    return system


async def chain_log(length: int) -> Lifecycle:
    def announced(port: int) -> Ready:
        return Ready(display=f"Listener {port}", fn=log_line("listening"))

    return await run_lifecycle(listener_chain(length, announced))


async def chain_port(length: int) -> Lifecycle:
    def polled(port: int) -> Ready:
        check = functools.partial(check_port_listening, port)
        return Ready(display=f"Listener {port}", fn=check)

    return await run_lifecycle(listener_chain(length, polled))


async def stubborn(count: int) -> Lifecycle:
    system = Daemons.of()
    for i in range(count):
        system = system.add_daemon(
            f"t{i}",
            exec=Command(STUBBORN_COMMAND, sigterm_timeout=STUBBORN_SIGTERM_TIMEOUT),
            ready=Ready(display=f"Stubborn {i}", fn=log_line("ready")),
        )
    return await run_lifecycle(system, _ended_by_sigkill)


def _ended_by_sigkill(running: RunningDaemons) -> None:
    endings = {e.description for e in running.history if isinstance(e, ProcessExited)}
    if endings != {"signal SIGKILL"}:
        raise RuntimeError(f"stubborn services should end by SIGKILL, not {sorted(endings)}")


@dataclass(frozen=True, slots=True)
class Idle:
    cpu: float
    wall: float
    checks: int
    threads: int
    waitpid_threads: int
    ready: float


async def idle(count: int, seconds: float) -> Idle:
    check = CountingCheck()
    system = sleep_system(count, check)
    gc.collect()
    begin = time.perf_counter()
    async with system.build() as running:
        await running.wait_ready(timeout=READY_TIMEOUT)
        ready = time.perf_counter() - begin
        threads = threading.enumerate()
        waitpid_threads = sum(t.name.startswith("asyncio-waitpid-") for t in threads)
        gc.collect()
        checks = check.calls
        cpu = time.process_time()
        wall = time.perf_counter()
        await anyio.sleep(seconds)
        cpu = time.process_time() - cpu
        wall = time.perf_counter() - wall
        checks = check.calls - checks
        await running.term()
        require_all_stopped(running, count)
    return Idle(cpu, wall, checks, len(threads), waitpid_threads, ready)


# Running and reporting.


failures: list[str] = []


async def with_pidfd_watcher(fn: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
    """Run `fn` with asyncio's `PidfdChildWatcher` (Python 3.11's default starts
    a thread per child); the previous watcher is put back afterwards."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        previous = asyncio.get_child_watcher()
        watcher = asyncio.PidfdChildWatcher()
        watcher.attach_loop(asyncio.get_running_loop())
        asyncio.set_child_watcher(watcher)
    try:
        return await fn(*args)
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            asyncio.set_child_watcher(previous)
            watcher.close()


def measure(
    label: str, backend: str, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any
) -> T | None:
    """One measurement in a fresh event loop; an exception is reported, not raised."""
    gc.collect()
    try:
        if backend == "asyncio-pidfd":
            return anyio.run(with_pidfd_watcher, fn, *args, backend="asyncio")
        return anyio.run(fn, *args, backend=backend)
    except Exception as error:
        message = f"{label} ({backend}): {type(error).__name__}: {error}"
        failures.append(message)
        print(f"  !! ERROR {message}", flush=True)
        return None
    finally:
        left = sweep_children()
        if left:
            message = f"{label} ({backend}): left {len(left)} processes alive: {', '.join(left)}"
            failures.append(message)
            print(f"  !! ERROR {message}", flush=True)


@dataclass
class Series:
    """Every run's figure of one metric (seconds)."""

    values: list[float] = field(default_factory=list)

    @property
    def best(self) -> float:
        return min(self.values, default=math.nan)

    def spread(self) -> str:
        if len(self.values) < 2:
            return "-"
        return f"{fmt_s(min(self.values))}-{fmt_s(max(self.values))}"


def fmt_s(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds:.3f}"


def fmt_x(ratio: float) -> str:
    return "-" if math.isnan(ratio) else f"{ratio:.2f}x"


def ratio(a: float, b: float) -> float:
    if math.isnan(a) or math.isnan(b) or b <= 0:
        return math.nan
    return a / b


TABLE = "{metric:<20} {backend:<14} {best:>8} {spread:>13} {floor:>8} {ratio:>7}"
LARGE_TABLE = TABLE.replace("{metric:<20}", "{metric:<26}") + " {growth:>7}"
LARGE = "large "
"""The prefix of the metrics measured with `--large` daemons."""


def become_subreaper() -> bool:
    """Orphaned grandchildren come back to this process, so none can escape the sweep."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)


def sweep_children() -> list[str]:
    """Reap this process's zombie children; kill and reap any live one, and describe it.

    Called between event loops only, when no child watcher waits for anything:
    zombies are the orphans a killed group leaves (reparented here, as this
    process is a subreaper); a live child is a process that escaped a stop.
    """
    me = os.getpid()
    alive: list[str] = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stat:
                raw = stat.read()
        except OSError:
            continue
        head, _, rest = raw.rpartition(b")")
        fields = rest.split()
        if int(fields[1]) != me:
            continue
        pid = int(name)
        if fields[0] not in (b"Z", b"X"):
            command = head.partition(b"(")[2].decode(errors="replace")
            alive.append(f"pid {pid} ({command})")
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    return alive


def user_tasks(uid: int) -> int:
    """The processes and threads of user `uid` now: what `RLIMIT_NPROC` counts."""
    tasks = 0
    with os.scandir("/proc") as entries:
        for entry in entries:
            if not entry.name.isdigit():
                continue
            try:
                if entry.stat().st_uid == uid:
                    tasks += len(os.listdir(f"/proc/{entry.name}/task"))
            except OSError:
                continue
    return tasks


def limit_text(value: int) -> str:
    return "unlimited" if value == resource.RLIM_INFINITY else str(value)


def raise_limits(count: int) -> str | None:
    """Raise the soft file limit to the hard one, and check that `count` daemons fit.

    Prints what was raised and the limits; returns why the large measurements
    cannot run (a hard limit too low), or `None`.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        print(f"raised the soft RLIMIT_NOFILE from {limit_text(soft)} to {limit_text(hard)}")
    open_fds = len(os.listdir("/proc/self/fd"))
    fds_needed = open_fds + FDS_PER_DAEMON * count + SPARE_FDS
    print(
        f"RLIMIT_NOFILE {limit_text(hard)} (soft = hard); {count} daemons need about"
        f" {fds_needed} ({open_fds} open now)"
    )
    if hard != resource.RLIM_INFINITY and hard < fds_needed:
        return f"the hard RLIMIT_NOFILE {hard} is below the {fds_needed} descriptors needed"
    soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
    uid = os.getuid()
    tasks_needed = user_tasks(uid) + THREADS_PER_DAEMON * count + SPARE_FDS
    if uid == 0:
        print(f"RLIMIT_NPROC {limit_text(soft)}/{limit_text(hard)}: not enforced for root")
        return None
    if soft != hard and (soft != resource.RLIM_INFINITY and soft < tasks_needed):
        resource.setrlimit(resource.RLIMIT_NPROC, (hard, hard))
        print(f"raised the soft RLIMIT_NPROC from {limit_text(soft)} to {limit_text(hard)}")
        soft = hard
    print(
        f"RLIMIT_NPROC {limit_text(soft)}/{limit_text(hard)}; {count} daemons need about"
        f" {tasks_needed} processes and threads of uid {uid}"
    )
    if soft != resource.RLIM_INFINITY and soft < tasks_needed:
        return f"the hard RLIMIT_NPROC {hard} is below the {tasks_needed} tasks needed"
    return None


class Bench:
    """The series of every metric, by (metric, backend); the floors under backend `-`."""

    def __init__(
        self,
        count: int,
        chain: int,
        backends: Sequence[str],
        large: int = 0,
        chains: bool = True,
    ) -> None:
        self.count = count
        self.chain = chain
        self.chains = chains
        self.large = large
        self.backends = list(backends)
        self.series: dict[tuple[str, str], Series] = {}

    def add(self, metric: str, backend: str, value: float) -> None:
        self.series.setdefault((metric, backend), Series()).values.append(value)

    def last(self, metric: str, backend: str = "-") -> float:
        found = self.series.get((metric, backend))
        return found.values[-1] if found is not None and found.values else math.nan

    def best(self, metric: str, backend: str = "-") -> float:
        found = self.series.get((metric, backend))
        return found.best if found is not None else math.nan

    def record(
        self, name: str, backend: str, life: Lifecycle | None, ready: bool = True, size: str = ""
    ) -> None:
        """`size`: the prefix of the large measurements' metrics (`LARGE`), else empty."""
        if life is None:
            return
        if ready:
            self.add(f"{size}{name} ready", backend, life.ready)
        self.add(f"{size}{name} term", backend, life.term)
        against = (
            f" ({fmt_x(ratio(life.ready, self.last(f'{size}floor ready')))} /"
            f" {fmt_x(ratio(life.term, self.last(f'{size}floor term')))} the floor)"
            if name in self.against_floor()
            else ""
        )
        shown = f"ready {fmt_s(life.ready)} s, " if ready else ""
        label = f"{name} {self.large}" if size else name
        print(f"  {backend:<13} {label:<12} {shown}term {fmt_s(life.term)} s{against}", flush=True)

    def against_floor(self) -> tuple[str, ...]:
        return ("floor+pipes", "anyio+pipes", "own-layer", "in-process", "spawn")

    def run_once(self) -> None:
        count, chain = self.count, self.chain
        gc.collect()
        for name, pipes in (("floor", False), ("floor+pipes", True)):
            try:
                life: Lifecycle | None = raw_floor(count, pipes)
            except OSError as error:
                failures.append(f"{name}: {error}")
                print(f"  !! ERROR {name}: {error}")
                life = None
            finally:
                sweep_children()
            self.record(name, "-", life)
        for backend in self.backends:
            self.record("anyio+pipes", backend, measure("anyio", backend, anyio_processes, count))
            self.record("own-layer", backend, measure("own-layer", backend, own_layer, count))
            self.record("in-process", backend, measure("in-process", backend, in_process, count))
            self.record("spawn", backend, measure("spawn", backend, spawn_many, count))
            if not self.chains:
                continue
            self.record("chain-log", backend, measure("chain-log", backend, chain_log, chain))
            self.record("chain-port", backend, measure("chain-port", backend, chain_port, chain))
            life = measure("stubborn", backend, stubborn, STUBBORN_COUNT)
            self.record("stubborn", backend, life, ready=False)

    def run_large(self) -> None:
        """The floor, then the coordinator and its references, with `large` daemons."""
        large = self.large
        gc.collect()
        for name, pipes in (("floor", False), ("floor+pipes", True)):
            try:
                life: Lifecycle | None = raw_floor(large, pipes)
            except OSError as error:
                failures.append(f"{name} {large}: {error}")
                print(f"  !! ERROR {name} {large}: {error}")
                life = None
            finally:
                sweep_children()
            self.record(name, "-", life, size=LARGE)
        for backend in self.backends:
            for name, fn in (
                ("anyio+pipes", anyio_processes),
                ("own-layer", own_layer),
                ("in-process", in_process),
                ("spawn", spawn_many),
            ):
                life = measure(f"{name} {large}", backend, fn, large)
                self.record(name, backend, life, size=LARGE)

    def print_large_table(self, repeat: int) -> None:
        count, large = self.count, self.large
        print(f"\n== Results with {large} daemons (best of {repeat}) ==")
        print(
            f"ratio: against the floor of {large}, best against best; growth: the best\n"
            f"with {large} against the best with {count} ({large / count:g}x the entries).\n"
            "Rows marked * are references, with no goal.\n"
        )
        self._print_rows(self._rows(large, f"{large} "), LARGE, LARGE_TABLE)

    def large_targets(self) -> list[Target]:
        count, large = self.count, self.large
        growth_limit = GOAL_LARGE_GROWTH * large / count
        targets: list[Target] = []
        for phase, what in (("ready", "build to ready"), ("term", "term()")):
            floor = self.best(f"{LARGE}floor {phase}")
            for backend in self.backends:
                best = self.best(f"{LARGE}spawn {phase}", backend)
                against = ratio(best, floor)
                passed = None if math.isnan(against) else against <= GOAL_SPAWN_RATIO
                targets.append(
                    Target(
                        passed,
                        f"{large} sleeps: {what} <= 3x floor ({backend}): {fmt_x(against)}"
                        f" ({fmt_s(best)} s / {fmt_s(floor)} s)",
                    )
                )
        for phase, what in (("ready", "build to ready"), ("term", "term()")):
            for backend in self.backends:
                growth = ratio(
                    self.best(f"{LARGE}spawn {phase}", backend),
                    self.best(f"spawn {phase}", backend),
                )
                passed = None if math.isnan(growth) else growth <= growth_limit
                targets.append(
                    Target(
                        passed,
                        f"{count} -> {large} sleeps: {what} grows <= {growth_limit:g}x"
                        f" ({backend}): {fmt_x(growth)}",
                    )
                )
        return targets

    def print_table(self, repeat: int) -> None:
        count, chain = self.count, self.chain
        print(f"\n== Results (best of {repeat}; spread: best-worst over the runs) ==")
        print(
            "ratio: against the floor of the same phase (spawn for ready, stop for term),\n"
            f"best against best. Rows marked * are references, with no goal. n = {count}.\n"
        )
        rows = self._rows(count, "")
        for metric, label in (
            ("chain-log ready", f"chain-log {chain} ready"),
            ("chain-log term", f"* chain-log {chain} term"),
            ("chain-port ready", f"chain-port {chain} ready"),
            ("chain-port term", f"* chain-port {chain} term"),
            ("stubborn term", f"stubborn {STUBBORN_COUNT} term"),
        ):
            rows.extend((metric, backend, label) for backend in self.backends)
        self._print_rows(rows, "", TABLE)

    def _rows(self, count: int, size: str) -> list[tuple[str, str, str]]:
        """(metric, backend, label) of the floors, the references and the
        goal's rows, for `count` daemons (`size` in the references' labels)."""
        rows: list[tuple[str, str, str]] = [
            ("floor ready", "-", f"floor spawn {count}"),
            ("floor term", "-", f"floor stop {count}"),
            ("floor+pipes ready", "-", f"* floor+pipes {size}spawn"),
            ("floor+pipes term", "-", f"* floor+pipes {size}stop"),
        ]
        for metric, label in (
            ("anyio+pipes ready", f"* anyio+pipes {size}spawn"),
            ("anyio+pipes term", f"* anyio+pipes {size}stop"),
            ("own-layer ready", f"* own-layer {size}spawn"),
            ("own-layer term", f"* own-layer {size}stop"),
            ("in-process ready", f"* in-process {size}ready"),
            ("in-process term", f"* in-process {size}term"),
            ("spawn ready", f"spawn {count} ready"),
            ("spawn term", f"spawn {count} term"),
        ):
            rows.extend((metric, backend, label) for backend in self.backends)
        return rows

    def _print_rows(self, rows: list[tuple[str, str, str]], prefix: str, table: str) -> None:
        """The rows measured, each against its floor (`prefix`: which size's);
        a `table` with a growth column also against the same row's default size."""
        header = table.format(
            metric="measurement",
            backend="backend",
            best="best s",
            spread="spread s",
            floor="floor s",
            ratio="ratio",
            growth="growth",
        )
        print(header)
        print("-" * len(header))
        for metric, backend, label in rows:
            found = self.series.get((f"{prefix}{metric}", backend))
            if found is None:
                continue
            name, phase = metric.rsplit(" ", 1)
            floor = math.nan
            if name in self.against_floor():
                floor = self.best(f"{prefix}floor {phase}")
            print(
                table.format(
                    metric=label,
                    backend=backend,
                    best=fmt_s(found.best),
                    spread=found.spread(),
                    floor=fmt_s(floor),
                    ratio=fmt_x(ratio(found.best, floor)),
                    growth=fmt_x(ratio(found.best, self.best(metric, backend))),
                )
            )

    def targets(self) -> list[Target]:
        count, chain = self.count, self.chain
        targets: list[Target] = []

        def goal(metric: str, limit: float, text: str, against_floor: bool = False) -> None:
            for backend in self.backends:
                value = self.best(metric, backend)
                if against_floor:
                    value = ratio(value, self.best(f"floor {metric.rsplit(' ', 1)[1]}"))
                    shown = fmt_x(value)
                else:
                    shown = f"{fmt_s(value)} s"
                passed = None if math.isnan(value) else value <= limit
                targets.append(Target(passed, f"{text} ({backend}): {shown}"))

        goal("spawn ready", GOAL_SPAWN_RATIO, f"{count} sleeps: build to ready <= 3x floor", True)
        goal("spawn term", GOAL_SPAWN_RATIO, f"{count} sleeps: term() <= 3x floor", True)
        for backend in self.backends:
            polled = ratio(
                self.best("chain-port ready", backend), self.best("chain-log ready", backend)
            )
            targets.append(
                Target(
                    None if math.isnan(polled) else polled <= GOAL_CHAIN_PORT_OVER_LOG,
                    f"chain of {chain} ready by port check <= 1.5x the same chain ready"
                    f" by log line ({backend}): {fmt_x(polled)}",
                )
            )
        goal(
            "stubborn term",
            GOAL_STUBBORN,
            f"{STUBBORN_COUNT} ignoring SIGTERM, sigterm_timeout=1: term() < 1.1 s",
        )
        return targets


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement (best)")
    parser.add_argument("--idle-seconds", type=float, default=30.0, help="idle window; 0 skips")
    parser.add_argument("--count", type=int, default=200, help="sleep daemons (spawn, idle)")
    parser.add_argument("--chain", type=int, default=20, help="length of the chains")
    parser.add_argument(
        "--large", type=int, default=2000, help="sleep daemons of the large runs; 0 skips them"
    )
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(DEFAULT_BACKENDS))
    parser.add_argument(
        "--no-chains", action="store_true", help="skip the chains and the stubborn services"
    )
    args = parser.parse_args(argv)
    repeat = max(1, args.repeat)
    idle_seconds: float = args.idle_seconds
    bench = Bench(
        args.count, args.chain, args.backends, max(0, args.large), chains=not args.no_chains
    )

    begin = time.perf_counter()
    subreaper = become_subreaper()
    print("healthdaemons processes benchmark")
    print(
        f"python {platform.python_version()}, anyio {version('anyio')}, trio {version('trio')},"
        f" {platform.system()} {platform.release()}, {os.cpu_count()} CPUs,"
        f" best of {repeat}{', subreaper' if subreaper else ''}"
    )
    print(f"port listeners: {sys.executable} -I -S")
    layer = "pidfd + epoll" if pidfd_works() else "anyio's (no pidfd here)"
    print(f"the coordinator's process layer: {layer}")
    large_skipped = raise_limits(bench.large) if bench.large else "--large 0"
    if large_skipped is not None:
        print(f"the large measurements are skipped: {large_skipped}")

    for run in range(1, repeat + 1):
        print(f"\n-- run {run} of {repeat} (ratios: ready / term against this run's floor) --")
        bench.run_once()
        if large_skipped is None:
            print(f"  -- {bench.large} daemons --", flush=True)
            bench.run_large()

    idle_counts = [(bench.count, GOAL_IDLE_CPU_PER_30S)]
    if large_skipped is None:
        idle_counts.append((bench.large, GOAL_LARGE_IDLE_CPU_PER_30S))
    idles: dict[tuple[int, str], Idle] = {}
    for count, _ in idle_counts if idle_seconds > 0 else []:
        print(f"\n-- idle: {count} sleep daemons, {idle_seconds:g} s window --", flush=True)
        for backend in bench.backends:
            result = measure(f"idle {count}", backend, idle, count, idle_seconds)
            if result is not None:
                idles[count, backend] = result
                print(
                    f"  {backend:<13} cpu {fmt_s(result.cpu)} s over {result.wall:.1f} s,"
                    f" {result.checks} checks in the window; {result.threads} threads"
                    f" ({result.waitpid_threads} waitpid) once ready",
                    flush=True,
                )

    bench.print_table(repeat)
    targets = bench.targets()
    if large_skipped is None:
        bench.print_large_table(repeat)
        targets.extend(bench.large_targets())
    else:
        targets.append(Target(None, f"the large runs: skipped: {large_skipped}"))
    for count, per_30s in idle_counts if idle_seconds > 0 else []:
        # The goal is per 30 s; another window scales it.
        limit = per_30s * idle_seconds / 30.0
        for backend in bench.backends:
            found = idles.get((count, backend))
            text = f"supervisor CPU, {idle_seconds:g} s idle, {count} sleeps < {limit:g} s"
            shown = "-" if found is None else f"{fmt_s(found.cpu)} s"
            passed = None if found is None else found.cpu < limit
            targets.append(Target(passed, f"{text} ({backend}): {shown}"))

    report("bench_processes", targets)

    left = sweep_children()
    if left:
        failures.append(f"{len(left)} processes left behind: {', '.join(left)}")
    for failure in failures:
        print(f"!! ERROR {failure}")
    print(f"run time {time.perf_counter() - begin:.1f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
