"""`term()` and leaving the block: ordered, shared, bounded (docs/spec.md section 6)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import anyio
import pytest

from coordinator import (
    Daemons,
    ErrorReported,
    Event,
    ExecFn,
    HealthCheckResult,
    LifecycleState,
    ProcessSignalled,
    Ready,
    Transitioned,
)
from coordinator.triggers import cooldown_trigger
from statemachines import LifecycleEvent

from .support import Switch, check_invariants, first_time, forever, transitions

L = LifecycleEvent
S = LifecycleState


def chain(stop_delays: list[float]) -> Daemons:
    system = Daemons.of()
    previous: list[str] = []
    for i, delay in enumerate(stop_delays):
        system = system.add_daemon(
            f"d{i}", exec=forever(delay), ready=Ready(f"D{i}", Switch()), requires=previous
        )
        previous = [f"d{i}"]
    return system


def signal_order(history: Sequence[Event]) -> list[str]:
    return [e.entry for e in history if isinstance(e, Transitioned) and e.event is L.SIGNAL]


async def test_term_stops_dependents_before_their_dependencies() -> None:
    system = chain([0.01, 0.02, 0.0, 0.01])
    async with system.build() as running:
        await running.wait_ready(timeout=5)
        await running.term()
        assert all(running.state(i) is S.STOPPED for i in running.ids)
    assert signal_order(running.history) == ["d3", "d2", "d1", "d0"]
    check_invariants(system.entries, running.history)


async def test_each_entry_is_signalled_as_soon_as_its_own_dependents_stopped() -> None:
    # Two independent branches: the quick one's root must not wait for the slow branch.
    system = (
        Daemons.of()
        .add_daemon("quick-root", exec=forever(), ready=Ready("Q", Switch()))
        .add_daemon(
            "quick", exec=forever(0.01), ready=Ready("q", Switch()), requires=["quick-root"]
        )
        .add_daemon("slow-root", exec=forever(), ready=Ready("S", Switch()))
        .add_daemon("slow", exec=forever(0.5), ready=Ready("s", Switch()), requires=["slow-root"])
    )
    async with system.build() as running:
        await running.wait_ready(timeout=5)
        await running.term()
    history = running.history
    assert first_time(history, "quick-root", L.SIGNAL) < first_time(history, "slow", L.GONE)
    assert first_time(history, "slow-root", L.SIGNAL) >= first_time(history, "slow", L.GONE)
    check_invariants(system.entries, history)


async def test_term_is_idempotent_and_shared_each_process_is_signalled_once() -> None:
    system = chain([0.02, 0.02, 0.02])
    async with system.build() as running:
        await running.wait_ready(timeout=5)
        async with anyio.create_task_group() as group:
            for _ in range(5):
                group.start_soon(running.term)
        await running.term()
        assert all(running.state(i) is S.STOPPED for i in running.ids)
    signals = Counter(e.entry for e in running.history if isinstance(e, ProcessSignalled))
    assert signals == {"d0": 1, "d1": 1, "d2": 1}
    assert signal_order(running.history) == ["d2", "d1", "d0"]


async def test_a_cancelled_term_caller_does_not_interrupt_the_shutdown() -> None:
    system = chain([0.0, 1.0])
    async with system.build() as running:
        await running.wait_ready(timeout=5)
        with anyio.move_on_after(0.05):
            await running.term()
        assert running.state("d1") is S.STOPPING
        await running.wait_stopped()
    assert signal_order(running.history) == ["d1", "d0"]


async def test_leaving_the_block_by_exception_shuts_down_in_order_and_reraises_it() -> None:
    system = chain([0.01, 0.01, 0.01])
    running = system.build()
    with pytest.raises(ValueError, match="boom") as caught:  # noqa: PT012
        async with running:
            await running.wait_ready(timeout=5)
            raise ValueError("boom")
    assert type(caught.value) is ValueError
    assert all(running.state(i) is S.STOPPED for i in running.ids)
    assert signal_order(running.history) == ["d2", "d1", "d0"]


async def test_leaving_the_block_by_cancellation_shuts_down_in_order() -> None:
    system = chain([0.01, 0.01, 0.01])
    running = system.build()
    with anyio.move_on_after(0.2) as scope:
        async with running:
            await running.wait_ready(timeout=5)
            await anyio.sleep_forever()
    assert scope.cancelled_caught
    assert all(running.state(i) is S.STOPPED for i in running.ids)
    assert signal_order(running.history) == ["d2", "d1", "d0"]


async def test_term_before_entering_means_nothing_ever_starts() -> None:
    running = chain([0.0, 0.0]).build()
    await running.term()
    async with running:
        await anyio.sleep(0.05)
    assert transitions(running.history) == [("d1", "term", "stopped"), ("d0", "term", "stopped")]


async def test_term_racing_the_build_means_nothing_starts() -> None:
    running = chain([0.0, 0.0]).build()
    async with anyio.create_task_group() as group:
        group.start_soon(running.term)  # runs as soon as entering first yields
        async with running:
            await anyio.sleep(0.05)
    assert transitions(running.history) == [("d1", "term", "stopped"), ("d0", "term", "stopped")]


async def test_term_while_starting_stops_what_started_and_nothing_starts_afterwards() -> None:
    slow = Switch(ok=False)
    system = (
        Daemons.of()
        .add_daemon(
            "db", exec=forever(), ready=Ready("Database", slow, trigger=cooldown_trigger(0.01))
        )
        .add_daemon("web", exec=forever(), ready=Ready("Web", Switch()), requires=["db"])
    )
    async with system.build() as running:
        await anyio.sleep(0.03)
        await running.term()
        slow.ok = True
        await anyio.sleep(0.05)
    assert transitions(running.history, "web") == [("web", "term", "stopped")]
    assert [event for _, event, _ in transitions(running.history, "db")] == [
        "launch",
        "term",
        "signal",
        "gone",
    ]


async def test_nothing_restarts_after_term() -> None:
    system = chain([0.0, 0.0])
    async with system.build() as running:
        await running.wait_ready(timeout=5)
        await running.term()
        count = len(running.history)
        await anyio.sleep(0.1)
        assert len(running.history) == count


async def test_a_function_that_ignores_cancellation_is_abandoned_after_its_timeout() -> None:
    async def stubborn(_: object) -> None:
        try:
            await anyio.sleep_forever()
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.sleep(0.5)

    system = (
        Daemons.of()
        .add_daemon("base", exec=forever(), ready=Ready("Base", Switch()))
        .add_daemon(
            "stubborn",
            exec=ExecFn(stubborn, sigterm_timeout=0.1),
            ready=Ready("Stubborn", Switch()),
            requires=["base"],
        )
    )
    async with system.build() as running:
        await running.wait_ready(timeout=5)
        started = anyio.current_time()
        await running.term()
        elapsed = anyio.current_time() - started
    assert elapsed < 0.45
    errors = [e for e in running.history if isinstance(e, ErrorReported)]
    assert len(errors) == 1
    assert errors[0].entry == "stubborn"
    assert "abandoned" in errors[0].message
    assert signal_order(running.history) == ["stubborn", "base"]


async def test_an_in_flight_health_check_is_cancelled_by_term() -> None:
    async def hangs() -> HealthCheckResult:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    system = Daemons.of().add_daemon("db", exec=forever(), ready=Ready("Database", hangs))
    async with system.build() as running:
        await anyio.sleep(0.05)
        with anyio.fail_after(5):
            await running.term()
    assert running.state("db") is S.STOPPED


async def test_an_empty_system_builds_waits_and_terms() -> None:
    async with Daemons.of().build() as running:
        await running.wait_ready(timeout=1)
        await running.term()
    assert running.history == []


async def test_entering_under_a_cancelled_scope_does_not_hang() -> None:
    running = chain([0.0, 0.0]).build()
    with anyio.fail_after(5), anyio.move_on_after(0):
        async with running:
            await anyio.sleep_forever()
    assert all(running.state(i) is S.STOPPED for i in running.ids)


async def test_the_blocks_exception_survives_a_deadline_that_passes_during_shutdown() -> None:
    running = chain([0.0, 0.3]).build()
    with pytest.raises(ValueError, match="boom"), anyio.move_on_after(0.1):  # noqa: PT012
        async with running:
            await running.wait_ready(timeout=5)
            raise ValueError("boom")
    assert signal_order(running.history) == ["d1", "d0"]


async def test_waiting_after_the_system_has_stopped_returns_at_once() -> None:
    async with chain([0.0]).build() as running:
        await running.wait_ready(timeout=5)
    with anyio.fail_after(1):
        assert not await running.wait_until(lambda: running.state("d0") is S.READY)
        await running.wait_stopped()
