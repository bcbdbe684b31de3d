"""Benchmark of the web console: a real Chromium showing a supervisor of 200 daemons.

Run by `make bench` as `.venv/bin/python bench/bench_web.py`. The supervisor,
its control server and the web listener (`up --web`) run in the bench's
process on asyncio, as `healthdaemons up --web` runs them; the page runs in
Debian's headless Chromium (/usr/bin/chromium, or `HEALTHDAEMONS_CHROMIUM`),
driven by Playwright from a process of its own (`--browser`), which the
bench asks for things one line at a time. The load: `--count` (200) real
daemons, each a small Python printing a line every 5 s (40 lines a second in
all, so the page's log fills up to its bound), ready by an in-process check.

* latency: with the page open and showing every entry, a driver restarts
  entries (round robin, `running.restart`, as `POST .../restart` does) so
  that `--rate` (50) events a second are published, for `--soak` seconds.
  Each event's `at` is `time.monotonic()` when the supervisor made it
  (asyncio's clock; CLOCK_MONOTONIC, the same in every process). The page
  collects `Date.now()` in a `healthdaemons:applied` listener (installed
  before its scripts run), which the page dispatches once its DOM shows the
  event; that wall-clock time is turned into the monotonic clock with
  `time.time() - time.monotonic()` measured in the bench's process. Events
  are matched by (type, entry, at, step). Reported: p50 and p95 of the event
  -> DOM time over the whole run (goal: p95 < 200 ms), the p95 of the first
  and the last interval, and how many of the events published during the
  run the page applied (goal: all; none lost).
* the page over time, in the same run: 20 times evenly spaced over the run, after a
  garbage collection (`HeapProfiler.collectGarbage`), Chrome's
  `Performance.getMetrics`: JSHeapUsedSize, Nodes, and the main thread's
  busy time (TaskDuration; ScriptDuration, the part running JavaScript), as
  a share of each interval. First and last are reported; "flat" (the goal)
  means that from the middle of the run to its end the heap grew by less
  than 20% + 1 MiB, the DOM by less than 10% + 200 nodes, and the busy share
  by less than 1.5x + 2 points: the page's history is bounded.
  The issue asks for 10 minutes (`--soak 600`, the default); `make bench`
  passes a shorter one. A reference, with no goal: `--timeline still`
  unticks the page's "live" timeline once it shows every entry, so that
  the page stops asking for the run's timeline after each second of events
  (where the page's time goes).
* term: once every entry is ready and, in one of the two runs, the page
  shows them all and has been open for `--window` seconds, `term()` is
  timed (from the call to every process group gone), `--repeat` times each,
  alternated. Goal: the median with the page open within 1.2x of the
  median without it (the same web listener, no browser).

The exit code is 0 even when a goal is missed (a report); 1 only when
something could not be measured (no browser, a page that never showed the
entries, an exception, a process left behind).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from bench_control import PRINTER, percentile
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
    event_json,
)
from coordinator._host import DEFAULT_HISTORY_LIMIT
from coordinator.errors import SystemTerminatingError
from healthdaemons._control_api import ControlState
from healthdaemons._control_options import ControlOptions
from healthdaemons._control_paths import ControlPaths
from healthdaemons._control_server import ControlServer
from healthdaemons._control_streams import EventHub
from healthdaemons._up_table import Processes
from healthdaemons._web_page import web_url
from viz import timeline_svg

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 120.0
PAGE_TIMEOUT_MS = 60_000
"""How long the page may take to show every entry (a loaded 2-core machine)."""
SETTLE = 10.0
"""Seconds the page has, after the load stops, to apply what is still coming."""
TICK = 0.02
SAMPLES = 20
"""Samples of the page's figures over a run, evenly spaced."""

GOAL_P95 = 0.200
GOAL_TERM_RATIO = 1.2
FLAT_HEAP = (1.2, 1 << 20)
FLAT_NODES = (1.1, 200)
FLAT_BUSY = (1.5, 0.02)
SATURATED = 0.9

COLLECTOR = """
window.__benchApplied = [];
document.addEventListener("healthdaemons:applied", (e) => {
  const d = e.detail || {};
  window.__benchApplied.push([Date.now(), d.type, d.entry ?? null, d.at, d.step ?? null]);
});
"""
"""Installed before the page's own scripts: what was applied, and when (wall clock, ms)."""
ROWS = "table#entries tbody tr[data-entry]"
METRICS = (
    "JSHeapUsedSize",
    "Nodes",
    "TaskDuration",
    "ScriptDuration",
    "LayoutDuration",
    "RecalcStyleDuration",
)
PANELS = ("#entries", "#graph", "#log", "#timeline", "#lifecycle")
CENSUS = """(panels) => Object.fromEntries(panels.map((p) => {
  const box = document.querySelector(p);
  return [p, box ? box.getElementsByTagName("*").length : 0];
}))"""
"""Elements in each panel: where the DOM's nodes are."""

Key = tuple[str, str | None, float, int | None]


def key_of(record: dict[str, Any]) -> Key:
    return (record["type"], record.get("entry"), record["at"], record.get("step"))


def clock_offset() -> float:
    """time.time() - time.monotonic(), the smallest-gap reading of a few."""
    readings = []
    for _ in range(20):
        before = time.monotonic()
        wall = time.time()
        after = time.monotonic()
        readings.append((after - before, wall - (before + after) / 2))
    return min(readings)[1]


# The supervisor, serving the page.


def ready_at_once() -> HealthCheckResult:
    return HealthCheckResult.success()


def printers(count: int) -> Daemons:
    daemons = Daemons.of()
    for i in range(count):
        daemons = daemons.add_daemon(
            f"d{i}", exec=Command(PRINTER), ready=Ready(display=f"Daemon {i}", fn=ready_at_once)
        )
    return daemons


@dataclass
class PublishingHost:
    """`up`'s host, as far as the page sees it: pids, and every event to the streams;
    the keys of the events published since `watching` was set."""

    processes: Processes = field(default_factory=Processes)
    events: EventHub = field(default_factory=EventHub)
    watching: bool = False
    published: list[Key] = field(default_factory=list)

    def set_health(self, report: HealthReported) -> None:
        pass

    def record(self, event: Event) -> None:
        self.processes.see(event)
        self.events.publish(event)
        if self.watching:
            self.published.append(key_of(event_json(event)))


async def serving_web(
    count: int,
    directory: Path,
    body: Callable[[RunningDaemons, PublishingHost, str], Awaitable[None]],
) -> None:
    """`count` printers with the control server and the web listener (port 0),
    and `body(running, host, url)` meanwhile; the streams end and the server
    closes once the system has stopped, as in `up`."""
    host = PublishingHost()
    options = ControlOptions(ControlPaths.beside(directory / "ctl.sock"), web=("127.0.0.1", 0))
    server = ControlServer(options, print)
    server.open()
    address = server.web_address
    assert address is not None and server.web_token is not None
    url = web_url(*address, token=server.web_token)
    closing = anyio.Event()
    failed: Exception | None = None
    try:
        async with anyio.create_task_group() as control:
            running = printers(count).build(host=host)
            async with running:
                state = ControlState(
                    running, host.processes, None, time.monotonic(), lambda: None, host.events
                )
                control.start_soon(server.serve, state, closing)
                try:
                    await running.wait_ready(READY_TIMEOUT)
                    await body(running, host, url)
                except Exception as error:
                    # Raised once the server has closed as in `up`, not
                    # through its task group (cancelled, it would say more).
                    failed = error
                await running.term()
            host.events.finish()
            closing.set()
    finally:
        server.release()
    if failed is not None:
        raise failed


# The browser, in a process of its own.


class Browser:
    """The `--browser` process: one command a line, one JSON answer a line."""

    def __init__(self, url: str, directory: Path) -> None:
        self._errors = (directory / "browser.err").open("w+")
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--browser", url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._errors,
            text=True,
        )

    def ask_now(self, *command: str) -> Any:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(" ".join(command) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            self._errors.seek(0)
            tail = self._errors.read()[-2000:]
            raise RuntimeError(f"the browser process ended: {tail}")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"the page, on {command[0]}: {answer['error']}")
        return answer["ok"]

    async def ask(self, *command: str) -> Any:
        return await anyio.to_thread.run_sync(self.ask_now, *command)

    def close(self) -> None:
        try:
            if self.process.poll() is None:
                self.ask_now("close")
            self.process.wait(timeout=60)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            for stream in (self.process.stdin, self.process.stdout, self._errors):
                if stream is not None:
                    stream.close()


def browser_process(url: str) -> None:
    """Serve the bench's commands with a page of a headless Chromium."""
    sys.path.insert(0, str(ROOT))
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    from tests.browser.chromium import chromium_page

    def reply(**answer: Any) -> None:
        print(json.dumps(answer), flush=True)

    with tempfile.TemporaryDirectory() as directory, chromium_page(Path(directory)) as page:
        page.add_init_script(COLLECTOR)
        cdp = page.context.new_cdp_session(page)
        cdp.send("Performance.enable")
        for line in sys.stdin:
            command, *arguments = line.split()
            try:
                if command == "close":
                    reply(ok=None)
                    return
                if command == "open":
                    page.goto(url)
                    count = int(arguments[0])
                    try:
                        # A locator, not a JavaScript predicate: the page's CSP forbids eval.
                        page.locator(ROWS).nth(count - 1).wait_for(
                            state="attached", timeout=PAGE_TIMEOUT_MS
                        )
                    except PlaywrightTimeout:
                        shown = page.locator(ROWS).count()
                        reply(error=f"{shown} of {count} rows ({ROWS}) after {PAGE_TIMEOUT_MS} ms")
                        continue
                    page.wait_for_selector(
                        "#connection[data-status=connected]",
                        state="attached",
                        timeout=PAGE_TIMEOUT_MS,
                    )
                    reply(ok=None)
                elif command == "still":
                    page.uncheck("#timeline-live")
                    reply(ok=None)
                elif command == "applied":
                    reply(ok=page.evaluate("() => window.__benchApplied.splice(0)"))
                elif command == "metrics":
                    cdp.send("HeapProfiler.collectGarbage")
                    found = cdp.send("Performance.getMetrics")["metrics"]
                    metrics = {m["name"]: m["value"] for m in found if m["name"] in METRICS}
                    reply(ok={**metrics, **page.evaluate(CENSUS, list(PANELS))})
                elif command == "status":
                    reply(ok=page.get_attribute("#connection", "data-status", timeout=1000))
                elif command == "shown":
                    wanted = arguments[0]
                    page.wait_for_selector(
                        f"#connection[data-status={wanted}]", state="attached", timeout=30_000
                    )
                    reply(ok=None)
                else:
                    reply(error=f"unknown command {command!r}")
            except Exception as error:
                reply(error=f"{type(error).__name__}: {str(error).splitlines()[0]}")


# The load: restarts at a steady rate of events.


async def restart_quietly(running: RunningDaemons, entry: str) -> None:
    try:
        await running.restart(entry)
    except SystemTerminatingError:
        pass


async def steady_events(
    running: RunningDaemons, host: PublishingHost, rate: float, until: Callable[[], bool]
) -> None:
    """Restart entries, one at a time in turn, whenever fewer than `rate`
    events a second have been published since the start, until `until()`."""
    ids = sorted(running.ids, key=lambda i: int(i[1:]))
    begin = time.monotonic()
    first = len(host.published)
    turn = 0
    async with anyio.create_task_group() as restarts:
        while not until():
            if len(host.published) - first < rate * (time.monotonic() - begin):
                restarts.start_soon(restart_quietly, running, ids[turn % len(ids)])
                turn += 1
            await anyio.sleep(TICK)


# Latency and the page over time.


@dataclass
class Sample:
    at: float
    """Seconds since the load began."""
    metrics: dict[str, float]
    applied: list[tuple[Key, float]]
    """The events the page applied since the previous sample, and when (monotonic clock)."""
    supervisor_cpu: float
    """The bench process's CPU seconds (supervisor and server) since the previous sample."""
    latencies: list[float] = field(default_factory=list)
    """Event -> DOM, seconds, of those of them published during the run."""


@dataclass
class PageRun:
    samples: list[Sample] = field(default_factory=list)
    published: int = 0
    applied: int = 0
    duplicates: int = 0
    seconds: float = 0.0
    status: str = ""
    timeline: tuple[int, float, int] = (0, math.nan, 0)
    """The events kept, the seconds to draw their timeline, its size in bytes."""


async def page_run(count: int, rate: float, soak: float, still: bool) -> PageRun:
    outcome = PageRun()
    samples = max(1, min(SAMPLES, int(soak)))
    offset = clock_offset()

    async def body(running: RunningDaemons, host: PublishingHost, url: str) -> None:
        browser = Browser(url, directory)
        try:
            await browser.ask("open", str(count))
            if still:
                await browser.ask("still")
            await browser.ask("applied")  # what the page applied while it opened

            async def sample(since: float, cpu: float) -> Sample:
                metrics = await browser.ask("metrics")
                applied = [
                    ((kind, entry, at, step), now_ms / 1000 - offset)
                    for now_ms, kind, entry, at, step in await browser.ask("applied")
                ]
                return Sample(time.monotonic() - since, metrics, applied, time.process_time() - cpu)

            host.watching = True
            begin = time.monotonic()
            cpu = time.process_time()
            outcome.samples.append(await sample(begin, cpu))
            end = begin + soak
            async with anyio.create_task_group() as load:
                load.start_soon(steady_events, running, host, rate, lambda: time.monotonic() >= end)
                for number in range(1, samples + 1):
                    await anyio.sleep_until(begin + soak * number / samples)
                    cpu, previous = time.process_time(), cpu
                    outcome.samples.append(await sample(begin, previous))
            outcome.seconds = time.monotonic() - begin
            host.watching = False
            published = set(host.published)
            outcome.published = len(published)
            # What is still on its way counts in the last interval.
            settle = time.monotonic() + SETTLE
            while time.monotonic() < settle:
                shown = {key for s in outcome.samples for key, _ in s.applied}
                if published <= shown:
                    break
                await anyio.sleep(0.5)
                more = await browser.ask("applied")
                outcome.samples[-1].applied.extend(
                    ((kind, entry, at, step), now_ms / 1000 - offset)
                    for now_ms, kind, entry, at, step in more
                )
            seen: set[Key] = set()
            for each in outcome.samples:
                for key, shown_at in each.applied:
                    if key not in published:
                        continue
                    if key in seen:
                        outcome.duplicates += 1
                        continue
                    seen.add(key)
                    each.latencies.append(shown_at - key[2])
            outcome.applied = len(seen)
            outcome.status = await browser.ask("status")
            # What the server draws for the page at most once a second while events come.
            events = list(running.history)
            drawing = time.perf_counter()
            svg = timeline_svg(events, width=1200)
            outcome.timeline = (len(events), time.perf_counter() - drawing, len(svg))
        finally:
            await anyio.to_thread.run_sync(browser.close)

    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        await serving_web(count, directory, body)
    return outcome


# term() with and without the page.


async def term_run(count: int, with_page: bool, window: float) -> tuple[float, float, str]:
    """(term seconds, the supervisor's CPU seconds during term, the page's status after)."""
    found: list[float] = []
    status = ["-"]

    async def body(running: RunningDaemons, host: PublishingHost, url: str) -> None:
        browser = Browser(url, directory) if with_page else None
        try:
            if browser is not None:
                await browser.ask("open", str(count))
            await anyio.sleep(window)
            gc.collect()
            started = time.perf_counter()
            cpu = time.process_time()
            await running.term()
            found.extend([time.perf_counter() - started, time.process_time() - cpu])
            require_all_stopped(running, count)
            host.events.finish()
            if browser is not None:
                try:
                    await browser.ask("shown", "shutdown")
                    status[0] = "shutdown"
                except RuntimeError:
                    status[0] = await browser.ask("status")
        finally:
            if browser is not None:
                await anyio.to_thread.run_sync(browser.close)

    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        await serving_web(count, directory, body)
    return found[0], found[1], status[0]


# Report.


def busy(samples: list[Sample], index: int, metric: str) -> float:
    """The share of the interval before sample `index` the page's main thread spent on `metric`."""
    earlier, later = samples[index - 1], samples[index]
    return (later.metrics[metric] - earlier.metrics[metric]) / (later.at - earlier.at)


def flat(before: float, after: float, limits: tuple[float, float]) -> bool:
    factor, slack = limits
    return after <= before * factor + slack


def report_page(run: PageRun, rate: float, targets: list[Target]) -> bool:
    """Print the figures of the run, its targets into `targets`; False if the page
    dispatched no `healthdaemons:applied`."""
    samples = run.samples
    latencies = [x for s in samples for x in s.latencies]
    if not latencies:
        print(
            f"  !! ERROR the page applied none of the {run.published} events published "
            "(no healthdaemons:applied event): no latency to measure"
        )
    p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
    print(
        f"  {run.published} events published in {run.seconds:.0f} s "
        f"({run.published / run.seconds:.1f} a second, asked {rate:g}); the page applied "
        f"{run.applied} of them ({run.duplicates} twice)"
    )
    print(
        f"  event -> DOM: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
        f"max {max(latencies, default=math.nan) * 1000:.0f} ms over {len(latencies)} events; "
        f"p95 of the first interval {percentile(samples[1].latencies, 0.95) * 1000:.0f} ms, "
        f"of the last {percentile(samples[-1].latencies, 0.95) * 1000:.0f} ms"
    )
    targets.append(Target(p95 < GOAL_P95, f"event -> DOM p95 {p95 * 1000:.0f} ms (goal < 200 ms)"))
    targets.append(
        Target(
            run.applied == run.published,
            f"the page applied {run.applied} of {run.published} events (goal: all)",
        )
    )
    print(
        "  at s  heap MiB   nodes  busy  script  layout+style  p95 ms  supervisor CPU\n"
        "  (busy: the page's main thread, as a share of the interval before the sample)"
    )
    for index, each in enumerate(samples):
        row = f"  {each.at:4.0f} {each.metrics['JSHeapUsedSize'] / 2**20:9.1f} "
        row += f"{each.metrics['Nodes']:7.0f}"
        if index:
            rendering = busy(samples, index, "LayoutDuration") + busy(
                samples, index, "RecalcStyleDuration"
            )
            interval = each.at - samples[index - 1].at
            row += (
                f" {busy(samples, index, 'TaskDuration'):5.0%} "
                f"{busy(samples, index, 'ScriptDuration'):7.0%} {rendering:13.0%} "
                f"{percentile(each.latencies, 0.95) * 1000:7.0f} "
                f"{each.supervisor_cpu / interval:15.0%}"
            )
        print(row)
    middle, last = samples[len(samples) // 2], samples[-1]
    heap_flat = flat(middle.metrics["JSHeapUsedSize"], last.metrics["JSHeapUsedSize"], FLAT_HEAP)
    nodes_flat = flat(middle.metrics["Nodes"], last.metrics["Nodes"], FLAT_NODES)
    busy_flat = flat(
        busy(samples, len(samples) // 2, "TaskDuration"),
        busy(samples, len(samples) - 1, "TaskDuration"),
        FLAT_BUSY,
    )
    targets.append(
        Target(
            heap_flat and nodes_flat and busy_flat,
            f"the page stays flat from {middle.at:.0f} s to {last.at:.0f} s: heap"
            f" {middle.metrics['JSHeapUsedSize'] / 2**20:.1f}"
            f" -> {last.metrics['JSHeapUsedSize'] / 2**20:.1f} MiB, nodes "
            f"{middle.metrics['Nodes']:.0f} -> {last.metrics['Nodes']:.0f}, busy "
            f"{busy(samples, len(samples) // 2, 'TaskDuration'):.1%} -> "
            f"{busy(samples, len(samples) - 1, 'TaskDuration'):.1%}",
        )
    )
    filled = DEFAULT_HISTORY_LIMIT / (run.published / run.seconds)
    if middle.at < filled:
        print(
            f"  the supervisor's history ({DEFAULT_HISTORY_LIMIT} events, which the timeline "
            f"draws) fills after {filled:.0f} s at this rate: until then the timeline grows "
            f"towards its bound; a run of {2 * filled:.0f} s or more tells whether it stays there"
        )
    if busy(samples, len(samples) - 1, "TaskDuration") > SATURATED:
        print(
            "  the page's main thread is busy nearly all the time: flat at its ceiling, "
            "so events wait their turn (the latency above)"
        )
    for each in (samples[0], middle, last):
        census = ", ".join(f"{panel} {each.metrics[panel]:.0f}" for panel in PANELS)
        print(f"  elements at {each.at:.0f} s: {census}")
    kept, drawing, size = run.timeline
    print(
        f"  the timeline of the {kept} events kept: drawn in {drawing:.2f} s, "
        f"{size / 2**10:.0f} KiB of SVG"
    )
    print(f"  the page said {run.status!r} at the end")
    return bool(latencies)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--soak", type=float, default=600.0)
    parser.add_argument("--window", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--timeline", choices=["live", "still"], default="live")
    parser.add_argument("--browser", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.browser:
        browser_process(args.browser)
        return 0
    sys.path.insert(0, str(ROOT))
    from tests.browser.chromium import missing

    reason = missing()
    if reason is not None:
        print(f"web console: cannot measure: {reason}")
        report("bench_web", [Target(None, f"web console: cannot measure: {reason}")])
        return 1
    become_subreaper()
    failed = False
    targets: list[Target] = []
    print(
        f"web console: {args.count} daemons, {args.rate:g} events a second for "
        f"{args.soak:g} s, page in headless Chromium, timeline {args.timeline}",
        flush=True,
    )
    still = args.timeline == "still"
    run = measure("page", "asyncio", page_run, args.count, args.rate, args.soak, still)
    if run is None or not report_page(run, args.rate, targets):
        failed = True
    terms: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(args.repeat):
        # Alternated, so that both see the same machine.
        for with_page in (False, True):
            got = measure("term", "asyncio", term_run, args.count, with_page, args.window)
            if got is None:
                failed = True
                continue
            term, cpu, status = got
            terms[with_page].append(term)
            shown = f", the page then said {status!r}" if with_page else ""
            print(
                f"  term() {'with' if with_page else 'without'} the page: {term:.3f} s "
                f"(supervisor CPU {cpu:.3f} s){shown}",
                flush=True,
            )
    if terms[False] and terms[True]:
        ratio = statistics.median(terms[True]) / statistics.median(terms[False])
        targets.append(
            Target(
                ratio <= GOAL_TERM_RATIO,
                f"term() with the page {ratio:.2f}x without "
                f"(medians {statistics.median(terms[True]):.3f} s / "
                f"{statistics.median(terms[False]):.3f} s; goal <= {GOAL_TERM_RATIO}x)",
            )
        )
    report("bench_web", targets)
    left = sweep_children()
    if left:
        print(f"!! processes left: {left}")
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
