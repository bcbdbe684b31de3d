"""Benchmark of verification: simulated runs, `verify` and `explore`.

Run by `make bench` as `.venv/bin/python bench/bench_verification.py`.

The baseline, measured in the same run: the same system built from
in-process daemons (an `ExecFn` awaiting `anyio.sleep_forever()`, a check
that succeeds at once), run on trio's mock clock until ready, then
terminated. One simulated run of the system (`simulate` with a healthy
schedule: the same life, simulated processes instead of functions) is
reported as a ratio to it, and so is one run of the explorer. Then the
wall time of `verify` (the worst case and 100 schedules) and of `explore`
with the states it reached.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable

import anyio
import trio.testing

from coordinator import Command, Daemons, ExecFn, HealthCheckResult, Ready
from coordinator.testing import FaultSchedule, explore, simulate, verify


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
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
    for length in (4, 16):
        system = chain(length, in_process=False)
        took = timed(functools.partial(verify, system, max_examples=100), args.repeat)
        print(f"{length:>8} services  {took:6.2f} s  ({101 / took:.0f} runs/s)")
    print()
    print("explore (one search each)")
    for length in (2, 3, 4, 5):
        system = chain(length, in_process=False)
        start = time.perf_counter()
        report = explore(system)
        took = time.perf_counter() - start
        print(
            f"{length:>8} services  {took:6.2f} s  {report.states:>5} states  "
            f"{report.runs:>6} runs  ({took / report.runs * 1000:.2f} ms a run)"
        )


if __name__ == "__main__":
    main()
