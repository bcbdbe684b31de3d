"""Memory per running in-process entry: the issue's target is 20 KiB (as
`bench/bench_coordinator.py` measures it, on a 4,000-entry chain), here on a
smaller chain, whose share of fixed costs makes each entry look heavier."""

from __future__ import annotations

import gc
import tracemalloc

from coordinator import Daemons, HealthCheckResult, Ready

from .support import forever

ENTRIES = 1000
BYTES_PER_ENTRY = 20 * 1024


def healthy() -> HealthCheckResult:
    return HealthCheckResult.success()


def chain(n: int) -> Daemons:
    system = Daemons.of()
    shared = forever()
    for i in range(n):
        requires = [f"e{i - 1}"] if i else []
        system = system.add_daemon(
            f"e{i}", exec=shared, ready=Ready(f"E{i}", healthy), requires=requires
        )
    return system


async def test_a_running_in_process_entry_costs_at_most_20_kib() -> None:
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        async with chain(ENTRIES).build() as running:
            await running.wait_ready(timeout=600)
            gc.collect()
            per_entry = (tracemalloc.get_traced_memory()[0] - before) / ENTRIES
            await running.term()
    finally:
        tracemalloc.stop()
    assert per_entry <= BYTES_PER_ENTRY, f"{per_entry / 1024:.1f} KiB per entry"


def independent(n: int) -> Daemons:
    system = Daemons.of()
    shared = forever()
    for i in range(n):
        system = system.add_daemon(f"e{i}", exec=shared, ready=Ready(f"E{i}", healthy))
    return system


async def test_term_leaves_nothing_for_the_cyclic_collector() -> None:
    """Stopping frees what it stops by reference counting: a cancellation kept
    in a cycle with its traceback's frames (by a task's handle, or by anyio's
    `task_done`) left about 35 to 70 objects per entry to the collector, whose
    passes then took much of `term()` (docs/performance.md)."""
    entries = 200
    for system in (chain(entries), independent(entries)):
        async with system.build() as running:
            await running.wait_ready(timeout=600)
            gc.collect()
            gc.disable()
            try:
                await running.term()
                left = gc.collect()
            finally:
                gc.enable()
        # A few objects at most, whatever the size: none per entry.
        assert left < entries // 4, f"{left} objects in cycles after term() of {entries}"
