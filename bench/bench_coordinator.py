"""Benchmark of the coordinator: start-up, shutdown and memory of large systems.

Run by `make bench` as `.venv/bin/python bench/bench_coordinator.py`; `--quick`
for a small run, `--sizes N [N ...]` to choose the system sizes.

Every system is in-process: each entry is a daemon whose `ExecFn` awaits
`anyio.sleep_forever()`, with a `Ready` whose check returns
`HealthCheckResult.success()` synchronously, under the default trigger (one
check at once after launch, then one every 30 s: nothing polls while measured).
Three shapes of dependency graph, all built from the same list of edges:

* chain: each entry requires the previous one (n rounds of shutdown);
* fan: one root, every other entry requires it (2 rounds);
* dag: a seeded random DAG, each entry requires 1 to 3 random earlier ones.

Measured, on the asyncio backend with the real clock, each in a fresh event loop:

* ready: from `system.build()` to `await running.wait_ready()` returning;
* term: `await running.term()`;
* the same shutdown done in rounds, as upstream's `Daemons._term` does (each
  round: the entries with no remaining dependents, stopped concurrently, the
  whole round awaited before the next), over bare entries of the same kind
  (the same function in a task, plus a task standing for the check loop; a
  stop cancels both and waits for both). Two versions: `scan`, upstream's
  per-round scan but through a precomputed map of dependents (O(n + e) a
  round, so O(n^2) for a chain), and `incr`, the rounds kept incrementally
  (O(n + e) in all): the cheapest any round-based shutdown can be. Upstream's
  literal scan (O(n^2) a round, O(n^3) for a chain) is timed on small chains
  only; at 4000 entries it would take hours.
* memory: tracemalloc, bytes per entry of a built, running, ready system;
* term() of 200 independent daemons on asyncio and on trio (not a target):
  the coordinator's own share of stopping 200 real daemons, the goal of
  bench_processes.py, with no process at all.

Targets: term() of a 4000 chain under 1 s; term() and build-to-ready each
grow at most 4.5x for 4x the entries (every pair of sizes where one is 4x
the other, every shape); term() 10x faster than upstream's rounds; memory
per entry at most 20 KiB.

The targets are printed as PASS/MISS lines. The exit code is 0 even when a
target is missed (this is a report); it is 1 only when something could not be
measured at all (an exception, a system that did not stop).
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import random
import sys
import time
import tracemalloc
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any, TypeVar

import anyio
from anyio.abc import TaskGroup
from targets import Target, report

from coordinator import Daemons, ExecFn, HealthCheckResult, Ready

T = TypeVar("T")

Graph = list[tuple[int, ...]]
"""`graph[i]`: the indices of the entries that entry `i` requires (all `< i`)."""

SHAPES = ("chain", "fan", "dag")
FULL_SIZES = (1000, 4000, 5000, 10000, 20000)
QUICK_SIZES = (250, 1000)
FULL_LITERAL_SIZES = (250, 500)
QUICK_LITERAL_SIZES = (100, 200)
TARGET_CHAIN = 4000
TARGET_TERM_SECONDS = 1.0
TARGET_GROWTH = 4.5
TARGET_SPEEDUP = 10.0
TARGET_BYTES_PER_ENTRY = 20 * 1024
READY_TIMEOUT = 600.0
SMALL_TERM_COUNT = 200
BACKENDS = ("asyncio", "trio")
SCAN_WORK_LIMIT = 16_000_000
"""Above this many entries x rounds, the `scan` rounds are extrapolated (as n x rounds)
from the largest size measured, not run: on a 20000 chain they take minutes."""

KIB = 1024


# Graphs.


def make_graph(shape: str, n: int, seed: int) -> Graph:
    if n <= 0:
        return []
    if shape == "chain":
        return [(), *((i - 1,) for i in range(1, n))]
    if shape == "fan":
        return [(), *((0,) for _ in range(1, n))]
    if shape == "dag":
        rng = random.Random(seed)
        graph: Graph = [()]
        for i in range(1, n):
            graph.append(tuple(sorted(rng.sample(range(i), rng.randint(1, min(3, i))))))
        return graph
    raise ValueError(f"unknown shape {shape!r}")


def dependents_of(graph: Graph) -> list[list[int]]:
    dependents: list[list[int]] = [[] for _ in graph]
    for i, requires in enumerate(graph):
        for j in requires:
            dependents[j].append(i)
    return dependents


def rounds_of(graph: Graph) -> int:
    """How many rounds a round-based shutdown takes: the longest path, in entries."""
    height = [1] * len(graph)
    for i in reversed(range(len(graph))):
        for j in graph[i]:
            height[j] = max(height[j], height[i] + 1)
    return max(height, default=0)


def stop_bounds(graph: Graph, delays: Sequence[float]) -> tuple[float, float]:
    """Ideal shutdown times: (critical path, rounds) for these stop durations."""
    dependents = dependents_of(graph)
    finish = [0.0] * len(graph)
    level = [0] * len(graph)
    for i in reversed(range(len(graph))):
        after = max((finish[k] for k in dependents[i]), default=0.0)
        finish[i] = after + delays[i]
        level[i] = max((level[k] + 1 for k in dependents[i]), default=0)
    slowest: dict[int, float] = {}
    for i, lv in enumerate(level):
        slowest[lv] = max(slowest.get(lv, 0.0), delays[i])
    return max(finish, default=0.0), sum(slowest.values())


# In-process entries: the same function for the coordinator and the bare rounds.


def daemon_fn(stop_delay: float = 0.0) -> Callable[[object], Coroutine[Any, Any, None]]:
    """What every entry runs: wait forever; when cancelled, take `stop_delay` s to stop."""

    async def serve(_subcontainer: object) -> None:
        try:
            await anyio.sleep_forever()
        finally:
            if stop_delay:
                with anyio.CancelScope(shield=True):
                    await anyio.sleep(stop_delay)

    return serve


def healthy() -> HealthCheckResult:
    return HealthCheckResult.success()


def make_system(graph: Graph, delays: Sequence[float] | None = None) -> Daemons:
    system = Daemons.of()
    shared = ExecFn(daemon_fn())
    for i, requires in enumerate(graph):
        exec_ = shared if delays is None or not delays[i] else ExecFn(daemon_fn(delays[i]))
        system = system.add_daemon(
            f"e{i}",
            exec=exec_,
            ready=Ready(display=f"Entry {i}", fn=healthy),
            requires=[f"e{j}" for j in requires],
        )
    return system


class GcClock:
    """Wall time spent in the cyclic garbage collector (a `gc.callbacks` hook)."""

    def __init__(self) -> None:
        self.total = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.total += time.perf_counter() - self._started


GC_CLOCK = GcClock()


@dataclass(frozen=True, slots=True)
class Lifecycle:
    ready: float
    ready_gc: float
    term: float
    term_gc: float


async def run_lifecycle(system: Daemons) -> Lifecycle:
    gc_begin = GC_CLOCK.total
    begin = time.perf_counter()
    async with system.build() as running:
        await running.wait_ready(timeout=READY_TIMEOUT)
        ready = time.perf_counter() - begin
        ready_gc = GC_CLOCK.total - gc_begin
        # Not timed: the collector's debt from start-up is not charged to term().
        gc.collect()
        gc_begin = GC_CLOCK.total
        begin = time.perf_counter()
        await running.term()
        term = time.perf_counter() - begin
        term_gc = GC_CLOCK.total - gc_begin
        stopped = running.statistics().stopped
    if stopped != len(system):
        raise RuntimeError(f"term() returned with {stopped} of {len(system)} stopped")
    return Lifecycle(ready, ready_gc, term, term_gc)


class Countdown:
    """Sets `done` once `tick()` has been called `count` times."""

    def __init__(self, count: int) -> None:
        self.left = count
        self.done = anyio.Event()
        if count <= 0:
            self.done.set()

    def tick(self) -> None:
        self.left -= 1
        if self.left == 0:
            self.done.set()


class BareEntry:
    """An entry without a coordinator: its function in a task, and a task
    standing for its check loop (waiting for the next check)."""

    __slots__ = (
        "check_done",
        "check_scope",
        "dependencies",
        "fn",
        "id",
        "process_done",
        "process_scope",
        "subcontainer",
    )

    def __init__(self, index: int, dependencies: list[BareEntry], stop_delay: float) -> None:
        self.id = f"e{index}"
        self.dependencies = dependencies
        self.fn = daemon_fn(stop_delay)
        self.subcontainer: object | None = None
        self.process_scope = anyio.CancelScope()
        self.check_scope = anyio.CancelScope()
        self.process_done = anyio.Event()
        self.check_done = anyio.Event()

    def start(self, task_group: TaskGroup, started: Countdown) -> None:
        task_group.start_soon(self._process, started)
        task_group.start_soon(self._check, started)

    async def _process(self, started: Countdown) -> None:
        with self.process_scope:
            started.tick()
            await self.fn(None)
        self.process_done.set()

    async def _check(self, started: Countdown) -> None:
        with self.check_scope:
            started.tick()
            await anyio.sleep_forever()
        self.check_done.set()

    def shares_subcontainer_with(self, other: BareEntry) -> bool:
        return self.subcontainer is not None and self.subcontainer is other.subcontainer

    async def stop(self, destroy_subcontainer: bool = False) -> None:
        self.check_scope.cancel()
        self.process_scope.cancel()
        await self.check_done.wait()
        await self.process_done.wait()


async def stop_round(entries: Sequence[BareEntry]) -> None:
    """One round: stop its entries concurrently and wait for all (`Promise.allSettled`)."""
    async with anyio.create_task_group() as task_group:
        for entry in entries:
            task_group.start_soon(entry.stop)


async def term_rounds_scan(entries: list[BareEntry]) -> None:
    """Upstream's rounds and scan, with a precomputed map of dependents:
    O(n + e) a round."""
    dependents: dict[BareEntry, list[BareEntry]] = {entry: [] for entry in entries}
    for entry in entries:
        for dependency in entry.dependencies:
            dependents[dependency].append(entry)
    remaining = dict.fromkeys(entries)
    while remaining:
        can_stop = [e for e in remaining if not any(d in remaining for d in dependents[e])]
        for entry in can_stop:
            del remaining[entry]
        await stop_round(can_stop)


async def term_rounds_incremental(entries: list[BareEntry]) -> None:
    """The same rounds, each found from the last one: O(n + e) in all."""
    pending = dict.fromkeys(entries, 0)
    for entry in entries:
        for dependency in entry.dependencies:
            pending[dependency] += 1
    current = [entry for entry, count in pending.items() if count == 0]
    while current:
        await stop_round(current)
        following: list[BareEntry] = []
        for entry in current:
            for dependency in entry.dependencies:
                pending[dependency] -= 1
                if pending[dependency] == 0:
                    following.append(dependency)
        current = following


async def term_rounds_literal(entries: list[BareEntry]) -> None:
    """Upstream's `_term`, line for line (Daemons.ts): O(n^2) a round."""
    remaining = dict.fromkeys(entries)
    while remaining:
        can_stop = [
            daemon
            for daemon in list(remaining)
            if not any(
                any(dep.id == daemon.id for dep in other.dependencies) for other in list(remaining)
            )
        ]
        if not can_stop:
            can_stop.extend(reversed(list(remaining)))
        for daemon in can_stop:
            del remaining[daemon]

        async def stop_one(daemon: BareEntry) -> None:
            destroy = not any(d.shares_subcontainer_with(daemon) for d in list(remaining))
            await daemon.stop(destroy_subcontainer=destroy)

        async with anyio.create_task_group() as task_group:
            for daemon in can_stop:
                task_group.start_soon(stop_one, daemon)


async def run_bare_term(
    graph: Graph,
    term: Callable[[list[BareEntry]], Coroutine[Any, Any, None]],
    delays: Sequence[float] | None = None,
) -> float:
    entries: list[BareEntry] = []
    for i, requires in enumerate(graph):
        delay = delays[i] if delays is not None else 0.0
        entries.append(BareEntry(i, [entries[j] for j in requires], delay))
    started = Countdown(2 * len(entries))
    async with anyio.create_task_group() as task_group:
        for entry in entries:
            entry.start(task_group, started)
        await started.done.wait()
        begin = time.perf_counter()
        await term(entries)
        elapsed = time.perf_counter() - begin
        if not all(e.process_done.is_set() and e.check_done.is_set() for e in entries):
            raise RuntimeError("the round-based shutdown left entries running")
    return elapsed


# Memory.


@dataclass(frozen=True, slots=True)
class Memory:
    entries: int
    builder: float
    running: float
    peak: float
    events: int
    top: list[tuple[str, float]]


async def measure_memory(graph: Graph) -> Memory:
    n = len(graph)
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        system = make_system(graph)
        built = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        async with system.build() as running:
            await running.wait_ready(timeout=READY_TIMEOUT)
            gc.collect()
            current, peak = tracemalloc.get_traced_memory()
            snapshot = tracemalloc.take_snapshot()
            events = len(running.history)
            await running.term()
    finally:
        tracemalloc.stop()
    top = [
        (stat.traceback[0].filename, stat.size / n) for stat in snapshot.statistics("filename")[:8]
    ]
    return Memory(n, (built - base) / n, (current - built) / n, (peak - base) / n, events // n, top)


# Running the measurements.


failures: list[str] = []


def measure(
    label: str, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any, backend: str = "asyncio"
) -> T | None:
    """One measurement in a fresh event loop; an exception is reported, not raised."""
    gc.collect()
    try:
        return anyio.run(fn, *args, backend=backend)
    except Exception as error:
        message = f"{label}: {type(error).__name__}: {error}"
        failures.append(message)
        print(f"  !! ERROR {message}", flush=True)
        return None


def best(repeat: int, label: str, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> list[T]:
    results = [measure(label, fn, *args) for _ in range(repeat)]
    return [r for r in results if r is not None]


@dataclass
class Row:
    shape: str
    n: int
    rounds: int
    ready: float = math.nan
    ready_gc: float = math.nan
    term: float = math.nan
    term_gc: float = math.nan
    scan: float = math.nan
    incr: float = math.nan
    scan_estimated: bool = False


def fmt_s(seconds: float) -> str:
    if math.isnan(seconds):
        return "-"
    return f"{seconds:.3f}" if seconds < 100 else f"{seconds:.0f}"


def fmt_x(ratio: float) -> str:
    if math.isnan(ratio) or math.isinf(ratio):
        return "-"
    return f"{ratio:.2f}x" if ratio < 100 else f"{ratio:.0f}x"


def duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds:.0f} s ({seconds / 3600:.1f} h)"
    return f"{seconds:.0f} s" if seconds >= 100 else f"{seconds:.1f} s"


def ratio(a: float, b: float) -> float:
    if math.isnan(a) or math.isnan(b) or b <= 0:
        return math.nan
    return a / b


def percent(part: float, whole: float) -> str:
    share = ratio(part, whole)
    return "-" if math.isnan(share) else f"{share * 100:.0f}"


def us(seconds: float, n: int) -> str:
    return "-" if math.isnan(seconds) or n == 0 else f"{seconds / n * 1e6:.0f}"


TABLE = (
    "{shape:<5} {n:>6} {rounds:>6} | {ready:>7} {ready_us:>5} {ready_gc:>4} |"
    " {term:>7} {term_us:>5} {term_gc:>4} | {scan:>8} {incr:>7} | {scan_x:>7} {incr_x:>6}"
)


def print_header() -> None:
    print(
        TABLE.format(
            shape="shape",
            n="n",
            rounds="rounds",
            ready="ready s",
            ready_us="us/e",
            ready_gc="gc%",
            term="term s",
            term_us="us/e",
            term_gc="gc%",
            scan="scan s",
            incr="incr s",
            scan_x="scan/t",
            incr_x="incr/t",
        )
    )
    print("-" * 100)


def print_row(row: Row) -> None:
    print(
        TABLE.format(
            shape=row.shape,
            n=row.n,
            rounds=row.rounds,
            ready=fmt_s(row.ready),
            ready_us=us(row.ready, row.n),
            ready_gc=percent(row.ready_gc, row.ready),
            term=fmt_s(row.term),
            term_us=us(row.term, row.n),
            term_gc=percent(row.term_gc, row.term),
            scan=("~" if row.scan_estimated else "") + fmt_s(row.scan),
            incr=fmt_s(row.incr),
            scan_x=fmt_x(ratio(row.scan, row.term)),
            incr_x=fmt_x(ratio(row.incr, row.term)),
        ),
        flush=True,
    )


def main_table(sizes: Sequence[int], shapes: Sequence[str], seed: int, repeat: int) -> list[Row]:
    print(f"\n== Start-up and shutdown (best of {repeat}) ==")
    print(
        "ready: build() to wait_ready(); term: running.term(); us/e: microseconds per entry;\n"
        "gc%: share of that time spent in the cyclic garbage collector; scan / incr:\n"
        "round-based shutdown of bare entries (upstream rounds, per-round scan with a\n"
        "dependents map / rounds kept incrementally); scan/t, incr/t: how many times\n"
        "term() is faster; ~: extrapolated as entries x rounds from the largest scan run.\n"
    )
    print_header()
    rows: list[Row] = []
    for shape in shapes:
        for n in sizes:
            graph = make_graph(shape, n, seed)
            row = Row(shape, n, rounds_of(graph))
            label = f"{shape} {n}"
            lifecycles = best(repeat, f"{label} lifecycle", run_lifecycle, make_system(graph))
            if lifecycles:
                fastest = min(lifecycles, key=lambda r: r.ready)
                row.ready, row.ready_gc = fastest.ready, fastest.ready_gc
                fastest = min(lifecycles, key=lambda r: r.term)
                row.term, row.term_gc = fastest.term, fastest.term_gc
            if n * row.rounds <= SCAN_WORK_LIMIT:
                row.scan = min(
                    best(repeat, f"{label} rounds scan", run_bare_term, graph, term_rounds_scan),
                    default=math.nan,
                )
            else:
                row.scan_estimated = True
                measured = [r for r in rows if r.shape == shape and not r.scan_estimated]
                if measured and not math.isnan(measured[-1].scan):
                    last = measured[-1]
                    row.scan = last.scan * (n * row.rounds) / (last.n * last.rounds)
            row.incr = min(
                best(repeat, f"{label} rounds incr", run_bare_term, graph, term_rounds_incremental),
                default=math.nan,
            )
            rows.append(row)
            print_row(row)
    return rows


def growth(rows: list[Row]) -> list[Target]:
    """Linearity: every pair of sizes where one is 4x the other."""
    print("\n== Growth: time ratio for 4x the entries (linear = 4.00x) ==")
    targets: list[Target] = []
    found = False
    for shape in SHAPES:
        by_size = {r.n: r for r in rows if r.shape == shape}
        for small in sorted(by_size):
            large = by_size.get(4 * small)
            if large is None:
                continue
            found = True
            a = by_size[small]
            for metric in ("ready", "term", "scan", "incr"):
                g = ratio(getattr(large, metric), getattr(a, metric))
                line = f"{shape:<6} {metric:<6} {small:>6} -> {4 * small:<6} {fmt_x(g):>8}"
                if metric in ("ready", "term"):
                    gc_large, gc_small = getattr(large, metric + "_gc"), getattr(a, metric + "_gc")
                    without_gc = ratio(
                        getattr(large, metric) - gc_large, getattr(a, metric) - gc_small
                    )
                    line += f"  ({fmt_x(without_gc)} without gc)"
                if metric in ("ready", "term"):
                    passed = None if math.isnan(g) else g <= TARGET_GROWTH
                    what = "build-to-ready" if metric == "ready" else "term()"
                    targets.append(
                        Target(
                            passed,
                            f"{shape} {what} grows linearly, {small} -> {4 * small}: "
                            f"{fmt_x(g)} (at most {TARGET_GROWTH}x)",
                        )
                    )
                    line += "" if passed is None else ("  ok" if passed else "  !! FAIL")
                elif large.scan_estimated and metric == "scan":
                    line += "  (extrapolated; not a target)"
                else:
                    line += "  (not a target)"
                print(line)
    if not found:
        print("(no pair of sizes where one is 4x the other)")
    return targets


def literal_upstream(sizes: Sequence[int], seed: int, chain_term: Row | None) -> list[Target]:
    print("\n== Upstream's literal _term (O(n^2) scan a round, O(n^3) on a chain) ==")
    times: list[tuple[int, float]] = []
    for n in sizes:
        graph = make_graph("chain", n, seed)
        elapsed = measure(f"literal chain {n}", run_bare_term, graph, term_rounds_literal)
        if elapsed is None:
            continue
        growth_text = ""
        if times:
            previous_n, previous = times[-1]
            g = elapsed / previous
            exponent = math.log(g) / math.log(n / previous_n)
            growth_text = f"  {fmt_x(g)} for {n / previous_n:g}x entries (n^{exponent:.2f})"
        times.append((n, elapsed))
        print(f"chain {n:>6}: {fmt_s(elapsed):>8} s{growth_text}", flush=True)
    if not times or chain_term is None or math.isnan(chain_term.term):
        return []
    last_n, last = times[-1]
    target_n = chain_term.n
    extrapolated = last * (target_n / last_n) ** 3
    speedup = extrapolated / chain_term.term
    print(
        f"chain {target_n:>6}: ~{duration(extrapolated)} extrapolated as n^3;"
        f" term() took {fmt_s(chain_term.term)} s: {fmt_x(speedup)} faster"
    )
    return [
        Target(
            speedup >= TARGET_SPEEDUP,
            f"term() at least {TARGET_SPEEDUP:g}x faster than upstream's literal _term on a "
            f"{target_n} chain (extrapolated): {fmt_x(speedup)}",
        )
    ]


def short_path(filename: str) -> str:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if filename.startswith(root + os.sep) and "site-packages" not in filename:
        return os.path.relpath(filename, root)
    if "site-packages" in filename:
        return filename.split("site-packages" + os.sep, 1)[1]
    return os.path.join("(stdlib)", *filename.split(os.sep)[-2:])


def memory(n: int, seed: int) -> list[Target]:
    print(f"\n== Memory (tracemalloc, {n} entries, built, running and ready) ==")
    targets: list[Target] = []
    worst = 0.0
    for shape in SHAPES:
        result = measure(f"memory {shape} {n}", measure_memory, make_graph(shape, n, seed))
        if result is None:
            continue
        total = result.builder + result.running
        worst = max(worst, total)
        print(
            f"{shape:<6} {total / KIB:6.1f} KiB/entry = builder {result.builder / KIB:.1f}"
            f" + running {result.running / KIB:.1f}; peak {result.peak / KIB:.1f} KiB/entry;"
            f" {result.events} events/entry in history",
            flush=True,
        )
        if shape == SHAPES[-1] or len(SHAPES) == 1:
            print("  largest allocation sites (KiB/entry):")
            for filename, size in result.top:
                print(f"    {size / KIB:6.2f}  {short_path(filename)}")
    if worst:
        targets.append(
            Target(
                worst <= TARGET_BYTES_PER_ENTRY,
                f"memory per entry at most {TARGET_BYTES_PER_ENTRY // KIB} KiB ({n} entries): "
                f"{worst / KIB:.1f} KiB (worst shape)",
            )
        )
    return targets


def small_term(count: int, repeat: int) -> None:
    """Not a target: the coordinator's own share of stopping `count` real daemons
    (bench_processes.py's goal), with nothing to stop but in-process functions."""
    print(
        f"\n== term() of {count} independent in-process daemons (not a target; best of {repeat}) =="
    )
    graph: Graph = [() for _ in range(count)]
    for backend in BACKENDS:
        runs = [
            r
            for r in (
                measure(
                    f"term {count} {backend}", run_lifecycle, make_system(graph), backend=backend
                )
                for _ in range(repeat)
            )
            if r is not None
        ]
        if runs:
            terms = sorted(r.term for r in runs)
            print(
                f"{backend:<8} {terms[0] * 1e3:6.1f} ms, {us(terms[0], count):>4} us per entry"
                f" [spread {us(terms[0], count)}-{us(terms[-1], count)}]",
                flush=True,
            )


def uneven(n: int, seed: int) -> None:
    """Not a target: where the critical path beats rounds, with uneven stop times."""
    graph = make_graph("dag", n, seed)
    rng = random.Random(seed + 1)
    delays = [0.1 if rng.random() < 0.1 else 0.0 for _ in graph]
    ideal_path, ideal_rounds = stop_bounds(graph, delays)
    print(
        f"\n== Uneven stop times (not a target): dag of {n}, {rounds_of(graph)} rounds;"
        " 10% of entries take 0.1 s to stop =="
    )
    life = measure("uneven lifecycle", run_lifecycle, make_system(graph, delays))
    incr = measure("uneven rounds", run_bare_term, graph, term_rounds_incremental, delays)
    if life is not None:
        print(f"term():        {fmt_s(life.term)} s (its critical path alone: {ideal_path:.3f} s)")
    if incr is not None:
        print(f"rounds (incr): {fmt_s(incr)} s (its stop times alone: {ideal_rounds:.3f} s)")
    if life is not None and incr is not None:
        print(f"term() is {fmt_x(ratio(incr, life.term))} faster")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a small run (seconds)")
    parser.add_argument("--sizes", type=int, nargs="+", help="system sizes (entries)")
    parser.add_argument("--shapes", nargs="+", choices=SHAPES, default=list(SHAPES))
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement (best)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the random DAG")
    parser.add_argument("--memory-size", type=int, help="entries for the memory measurement")
    args = parser.parse_args(argv)

    sizes = sorted(set(args.sizes or (QUICK_SIZES if args.quick else FULL_SIZES)))
    literal_sizes = QUICK_LITERAL_SIZES if args.quick else FULL_LITERAL_SIZES
    memory_size = args.memory_size or (1000 if args.quick else 4000)
    begin = time.perf_counter()
    gc.callbacks.append(GC_CLOCK)

    print("healthdaemons coordinator benchmark")
    print(
        f"python {platform.python_version()}, anyio {version('anyio')}, transitions"
        f" {version('transitions')}, asyncio backend, {os.cpu_count()} CPUs, gc on"
    )
    print(
        "entries: daemons, ExecFn awaiting anyio.sleep_forever(), Ready(display, sync success,"
        " default trigger)"
    )
    print(
        f"shapes: {', '.join(args.shapes)} (dag: seed {args.seed}, 1-3 random earlier"
        f" dependencies); sizes: {' '.join(map(str, sizes))}"
    )

    rows = main_table(sizes, args.shapes, args.seed, args.repeat)
    targets: list[Target] = []

    chains = [r for r in rows if r.shape == "chain"]
    chain = next((r for r in chains if r.n == TARGET_CHAIN), None)
    scaled = False
    if chain is None and chains:
        chain = max((r for r in chains if r.n <= TARGET_CHAIN), key=lambda r: r.n, default=None)
        scaled = chain is not None
    if chain is not None:
        limit = TARGET_TERM_SECONDS * chain.n / TARGET_CHAIN
        note = f" (1 s per {TARGET_CHAIN}, scaled)" if scaled else ""
        targets.append(
            Target(
                None if math.isnan(chain.term) else chain.term < limit,
                f"term() of a {chain.n}-entry chain under {limit:g} s{note}: {fmt_s(chain.term)} s",
            )
        )
    targets += growth(rows)
    if chain is not None:
        speedup = ratio(chain.scan, chain.term)
        targets.append(
            Target(
                None if math.isnan(speedup) else speedup >= TARGET_SPEEDUP,
                f"term() at least {TARGET_SPEEDUP:g}x faster than upstream's rounds (scan with"
                f" a dependents map) on a {chain.n} chain: {fmt_x(speedup)}",
            )
        )
    if "chain" in args.shapes:
        targets += literal_upstream(literal_sizes, args.seed, chain)
    targets += memory(memory_size, args.seed)
    small_term(SMALL_TERM_COUNT, max(args.repeat, 5))
    uneven(300 if args.quick else 1000, args.seed)

    report("bench_coordinator", targets)
    for failure in failures:
        print(f"!! ERROR {failure}")
    print(f"run time {time.perf_counter() - begin:.1f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
