"""Restart backoff, max_restarts, and exit classification (docs/spec.md section 4).

Backoff spans minutes of delays, so these run on trio's mock clock only.
"""

from __future__ import annotations

import itertools

import anyio
import pytest
import trio.testing

from coordinator import (
    Daemons,
    ExecFn,
    HealthCheckResult,
    HealthReported,
    LifecycleState,
    ProcessExited,
    Ready,
)
from coordinator.triggers import cooldown_trigger

from .support import Switch, check_invariants, spawn_times

S = LifecycleState


@pytest.fixture
def anyio_backend() -> object:
    return ("trio", {"clock": trio.testing.MockClock(autojump_threshold=0)})


def crash_after(seconds: list[float]) -> ExecFn:
    """Each run lives the next duration of `seconds` (then the last one), then raises."""
    runs = [0]

    async def run(_: object) -> None:
        lifetime = seconds[min(runs[0], len(seconds) - 1)]
        runs[0] += 1
        await anyio.sleep(lifetime)
        raise RuntimeError("boom")

    return ExecFn(run)


async def test_backoff_is_capped_exponential() -> None:
    system = Daemons.of().add_daemon("db", exec=crash_after([0]), ready=Ready("Db", Switch()))
    async with system.build() as running:
        await anyio.sleep(200)
    spawns = spawn_times(running.history, "db")
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(spawns)]
    assert gaps[:9] == [0, 1, 2, 4, 8, 16, 30, 30, 30]
    assert running.statistics().restarts["db"] >= 9


async def test_backoff_resets_after_a_minute_of_uptime() -> None:
    system = Daemons.of().add_daemon(
        "db", exec=crash_after([0, 0, 0, 61, 0]), ready=Ready("Db", Switch())
    )
    async with system.build() as running:
        await anyio.sleep(100)
    spawns = spawn_times(running.history, "db")
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(spawns)]
    # 0, 1, 2, then a run of 61 s: the next restart is immediate again, then 1 s.
    assert gaps[:6] == [0, 1, 2, 61, 1, 2]


async def test_max_restarts_ends_in_failing_with_a_message() -> None:
    system = (
        Daemons.of()
        .add_daemon("db", exec=crash_after([10]), ready=Ready("Db", Switch()), max_restarts=2)
        .add_health_check("web", ready=Ready("Web", Switch()), requires=["db"])
    )
    async with system.build() as running:
        await anyio.sleep(300)
        assert running.state("db") is S.FAILING
        assert running.health("db") == HealthCheckResult.failure("gave up after 2 restarts")
        assert len(spawn_times(running.history, "db")) == 3
        assert running.state("web") is S.WAITING
    check_invariants(system.entries, running.history)


async def test_a_daemon_exit_is_a_failure_it_is_restarted_and_checked_again_at_once() -> None:
    async def returns(_: object) -> None:
        await anyio.sleep(10)

    system = Daemons.of().add_daemon(
        "db", exec=ExecFn(returns), ready=Ready("Db", Switch(), grace_period=0)
    )
    async with system.build() as running:
        await running.wait_ready()
        await anyio.sleep(10.5)
    assert len(spawn_times(running.history, "db")) == 2
    reports = [
        (e.at, e.result.value, e.message)
        for e in running.history
        if isinstance(e, HealthReported) and e.at >= 10
    ]
    # The exit is a failure at once; the default trigger re-checks at once
    # (not 30 s later), and the restarted daemon is ready again.
    assert reports == [(10, "failure", "db daemon exited"), (10, "success", None)]
    exits = [e for e in running.history if isinstance(e, ProcessExited)]
    assert (exits[0].returncode, exits[0].clean) == (0, True)


async def test_a_daemon_crash_names_the_error_and_a_stop_is_clean() -> None:
    system = Daemons.of().add_daemon(
        "db", exec=crash_after([5, 1000]), ready=Ready("Db", Switch(), grace_period=0)
    )
    async with system.build() as running:
        await anyio.sleep(5.5)
    messages = [e.message for e in running.history if isinstance(e, HealthReported)]
    assert "db daemon crashed: RuntimeError: boom" in messages
    exits = [(e.clean, e.description) for e in running.history if isinstance(e, ProcessExited)]
    assert exits == [(False, "RuntimeError: boom"), (True, "cancelled")]


async def test_a_recovered_dependency_gives_a_fresh_backoff_and_grace() -> None:
    root = Switch()
    system = (
        Daemons.of()
        .add_health_check("root", ready=Ready("Root", root, trigger=cooldown_trigger(1)))
        .add_daemon(
            "db",
            exec=crash_after([0]),
            ready=Ready("Db", Switch(), grace_period=5),
            requires=["root"],
        )
    )
    async with system.build() as running:
        await anyio.sleep(40)
        root.ok = False
        assert await running.wait_until(lambda: running.state("db") is S.WAITING, timeout=5)
        lost_at = anyio.current_time()
        root.ok = True
        await anyio.sleep(10)
    spawns = [t for t in spawn_times(running.history, "db") if t > lost_at]
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(spawns)]
    assert gaps[:3] == [0, 1, 2]
    check_invariants(system.entries, running.history)
