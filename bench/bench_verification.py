"""Benchmark of verification: simulated runs, `verify` and `explore`.

Run by `make bench` as `.venv/bin/python bench/bench_verification.py`.

The baseline, measured in the same run: the same system built from
in-process daemons (an `ExecFn` awaiting `anyio.sleep_forever()`, a check
that succeeds at once), run on trio's mock clock until ready, then
terminated. One simulated run of the system (`simulate` with a healthy
schedule: the same life, simulated processes instead of functions) is
reported as a ratio to it, and so is one run of the explorer. Then the
wall time of `verify` (the worst case and 100 schedules) and of `explore`
with the states it reached: the full search against the reduced one
(sleep sets; subsumption by operator budget) for small systems, and the
targets of issue 17 (demo stack and
shop.toml explored completely in under 10 s each, a chain of 8 in under
60 s, `verify` of 100 schedules of a 50-service system in under 30 s).
"""

from __future__ import annotations

import argparse
import functools
import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import trio.testing
from targets import Target
from targets import report as report_targets

from coordinator import Command, Daemons, ExecFn, HealthCheckResult, Ready
from coordinator.testing import ExplorationReport, FaultSchedule, explore, simulate, verify
from coordinator.testing._explore import search_states

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SHOP = str(EXAMPLES / "verify" / "shop.toml")
DEMO = str(EXAMPLES / "demo.toml")
CHAIN_8_STATES = 3000


def ok() -> HealthCheckResult:
    return HealthCheckResult.success()


async def forever(_: object) -> None:
    await anyio.sleep_forever()


def chain(length: int, *, in_process: bool) -> Daemons:
    system = Daemons.of()
    for i in range(length):
        exec_ = ExecFn(forever, 5.0) if in_process else Command(["server"], sigterm_timeout=5.0)
        requires = [f"s{i - 1}"] if i else []
        system = system.add_daemon(f"s{i}", exec=exec_, ready=Ready(f"S{i}", ok), requires=requires)
    return system


def plain_run(system: Daemons) -> None:
    async def main() -> None:
        async with system.build() as running:
            await running.wait_ready()

    clock = trio.testing.MockClock(autojump_threshold=0)
    anyio.run(main, backend="trio", backend_options={"clock": clock})


def timed(action: Callable[[], object], repeat: int) -> float:
    """The median wall time of `action`, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def explored(system: Daemons | str, **limits: int) -> tuple[ExplorationReport, float]:
    start = time.perf_counter()
    report = explore(system, **limits)
    return report, time.perf_counter() - start


def per_run(took: float, report: ExplorationReport) -> str:
    return f"{took / report.runs * 1000:.2f} ms a run"


def before_and_after(system: Daemons | str, operator_actions: int) -> str:
    """The full search and the reduced one, in the same run; the former
    explorer ran one run per transition of the full search (and no more)."""
    figures = []
    former = 0
    for reduce in (False, True):
        start = time.perf_counter()
        report, _ = search_states(system, operator_actions=operator_actions, reduce=reduce)
        took = time.perf_counter() - start
        figures.append(f"{report.states} states {report.runs} runs {took:.1f} s")
        former = former or report.transitions + 1
    return f"  former: {former} runs  full: {figures[0]}  reduced: {figures[1]}"


def chain_growth() -> str:
    """Chains of 3 and 4 explored completely, and what their growth per
    service makes of a chain of 8 at the same cost per run."""
    found = []
    for length in (3, 4):
        report, took = explored(chain(length, in_process=False))
        print(f"{f'chain of {length}':>12}  {took:6.1f} s  {per_run(took, report)}  {report}")
        found.append((report, took))
    (small, _), (large, took) = found
    growth = large.runs / small.runs
    runs_8 = large.runs * growth**4
    hours = runs_8 * took / large.runs / 3600
    return (
        f"{'':>12}  runs grow {growth:.1f}x per service: a complete chain of 8 would take "
        f"about {runs_8:,.0f} runs, {hours:.0f} h at this cost per run"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="skip the searches that take minutes")
    args = parser.parse_args()
    print("one run, median of 20, as a ratio to a plain in-process run on the mock clock")
    print(f"{'services':>8}  {'plain ms':>9}  {'simulated':>9}")
    for length in (4, 16, 64):
        plain = chain(length, in_process=True)
        simulated = chain(length, in_process=False)
        base = timed(functools.partial(plain_run, plain), 20)
        sim = timed(functools.partial(simulate, simulated, FaultSchedule()), 20)
        print(f"{length:>8}  {base * 1000:>9.2f}  {sim / base:>8.2f}x")
    print()
    print(f"verify, 100 schedules (median of {args.repeat})")
    took_50 = math.inf
    for length in (4, 16, 50):
        system = chain(length, in_process=False)
        took = timed(functools.partial(verify, system, max_examples=100), args.repeat)
        print(f"{length:>8} services  {took:6.2f} s  ({101 / took:.0f} runs/s)")
        took_50 = took
    print()
    print("explore, operator_actions=0: runs of the former explorer (one per transition),")
    print("the full search (one step more per run, no sleep sets) and the reduced one")
    for length in (2, 3):
        print(f"{length:>8} services" + before_and_after(chain(length, in_process=False), 0))
    print(f"{'shop':>8}         " + before_and_after(SHOP, 0))
    print(f"{'demo':>8}         " + before_and_after(DEMO, 0))
    print()
    print("explore with its defaults (one operator action per path)")
    verified = f"verify, 100 schedules of a chain of 50: {took_50:.1f} s (< 30 s)"
    targets = [Target(took_50 < 30, verified)]
    for name, config in (("demo stack", DEMO), ("shop.toml", SHOP)):
        report, took = explored(config)
        print(f"{name:>12}  {took:6.1f} s  {per_run(took, report)}  {report}")
        passed = report.complete and took < 10
        text = f"explore {name} completely: {took:.1f} s (< 10 s), {report}"
        targets.append(Target(passed, text))
    if args.quick:
        targets.append(Target(None, "explore a chain of 8 (skipped: --quick)"))
    else:
        print(chain_growth())
        # Cut short: the complete search of a chain of 8 is out of reach (its
        # states grow about 4x per service: docs/performance.md).
        report, took = explored(chain(8, in_process=False), max_states=CHAIN_8_STATES)
        print(f"{'chain of 8':>12}  {took:6.1f} s  {per_run(took, report)}  {report}")
        passed = report.complete and took < 60
        targets.append(Target(passed, f"explore a chain of 8: {took:.1f} s (< 60 s), {report}"))
    report_targets("bench_verification", targets)


if __name__ == "__main__":
    main()
