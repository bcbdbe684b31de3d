"""Events: monotonic times, JSON lines written and read back, subscriptions
(docs/spec.md section 7)."""

from __future__ import annotations

import io
from pathlib import Path

import anyio
import pytest

from coordinator import (
    Daemons,
    Event,
    HealthCheckResult,
    HealthReported,
    MemoryHost,
    Ready,
    Transitioned,
    dump_events,
    load_events,
)
from coordinator._host import DEFAULT_HISTORY_LIMIT
from coordinator.testing import StartSystem, UncleanShutdown, check_clean_shutdown
from coordinator.triggers import cooldown_trigger

from .support import Switch, finishes, forever


def system() -> Daemons:
    return (
        Daemons.of()
        .add_daemon("db", exec=forever(), ready=Ready("Database", Switch()))
        .add_oneshot("migrate", exec=finishes(), requires=["db"])
    )


async def test_history_is_ordered_by_monotonic_time_and_also_reaches_the_host() -> None:
    host = MemoryHost()
    hosted = Daemons.of(host=host).add_daemon(
        "db", exec=forever(), ready=Ready("Database", Switch())
    )
    async with hosted.build() as running:
        await running.wait_ready(timeout=5)
    times = [e.at for e in running.history]
    assert times == sorted(times)
    assert host.events == running.history
    assert set(host.health) == {"db"}


async def test_events_round_trip_through_json_lines(tmp_path: Path) -> None:
    async with system().build() as running:
        await running.wait_ready(timeout=5)
    path = tmp_path / "run.jsonl"
    dump_events(running.history, path)
    assert load_events(path) == running.history
    lines = path.read_text().splitlines()
    assert len(lines) == len(running.history)
    assert '"type":"transitioned"' in lines[0]
    buffer = io.StringIO()
    dump_events(running.history, buffer)
    buffer.seek(0)
    assert load_events(buffer) == running.history


async def test_subscribers_see_every_event_and_the_stream_ends_with_the_system() -> None:
    seen: list[Event] = []
    running = system().build()
    async with anyio.create_task_group() as group:
        stream = running.subscribe()

        async def read() -> None:
            async with stream:
                async for event in stream:
                    seen.append(event)

        group.start_soon(read)
        async with running:
            await running.wait_ready(timeout=5)
    assert seen == running.history
    assert any(isinstance(e, Transitioned) for e in seen)
    assert any(isinstance(e, HealthReported) for e in seen)


async def test_a_slow_subscriber_loses_events_but_never_blocks_the_system() -> None:
    running = system().build()
    stream = running.subscribe(max_buffer_size=1)
    async with running:
        await running.wait_ready(timeout=5)
    assert running.statistics().dropped_events == len(running.history) - 1
    stream.close()


class Flapping:
    """A check that alternates success and failure: two events per call."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> HealthCheckResult:
        self.calls += 1
        if self.calls % 2:
            return HealthCheckResult.success()
        return HealthCheckResult.failure("flap")


class KeepingHost(MemoryHost):
    """Keeps every event, to compare the history with."""

    def __init__(self) -> None:
        super().__init__(history_limit=None)


def flapping(host: MemoryHost | None = None) -> Daemons:
    ready = Ready("Flapping", Flapping(), grace_period=0, trigger=cooldown_trigger(0.001))
    return Daemons.of(host=host).add_health_check("flapping", ready=ready)


async def test_the_history_keeps_the_latest_events_and_statistics_count_the_rest() -> None:
    host = KeepingHost()
    async with flapping(host).build(history_limit=50) as running:
        assert await running.wait_until(lambda: len(host.events) >= 500, timeout=60)
        stats = running.statistics()
        history = running.history
        assert 50 <= len(history) <= 55
        assert history == host.events[-len(history) :]  # the latest, in order
        assert stats.events == len(host.events)
        assert stats.history_dropped == len(host.events) - len(history)


async def test_by_default_the_history_and_the_default_host_keep_ten_thousand_events() -> None:
    assert DEFAULT_HISTORY_LIMIT == 10_000
    async with flapping().build() as running:
        enough = DEFAULT_HISTORY_LIMIT + DEFAULT_HISTORY_LIMIT // 10 + 10
        assert await running.wait_until(lambda: running.statistics().events >= enough, timeout=60)
        events = running.host.events  # type: ignore[attr-defined]
        assert DEFAULT_HISTORY_LIMIT <= len(running.history) <= enough
        assert running.statistics().history_dropped > 0
        assert DEFAULT_HISTORY_LIMIT <= len(events) <= enough
        assert events[-1] == running.history[-1]


async def test_history_limit_none_keeps_every_event() -> None:
    async with flapping().build(history_limit=None) as running:
        assert await running.wait_until(lambda: running.statistics().events >= 300, timeout=60)
        assert len(running.history) == running.statistics().events
        assert len(running.host.events) == len(running.history)  # type: ignore[attr-defined]
        assert running.statistics().history_dropped == 0
        assert isinstance(running.history[0], Transitioned)  # the first event is still there


@pytest.mark.parametrize("limit", [-1, 1.5, True, "10"])
def test_a_bad_history_limit_is_refused(limit: object) -> None:
    with pytest.raises(ValueError, match="history_limit must be an integer"):
        flapping().build(history_limit=limit)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="history_limit must be an integer"):
        MemoryHost(history_limit=limit)  # type: ignore[arg-type]


async def test_start_system_keeps_the_whole_history_for_its_checks() -> None:
    # Past the default limit: the invariants are still checked on all of it.
    async with StartSystem() as start_system:
        running = await start_system(flapping())
        enough = DEFAULT_HISTORY_LIMIT + DEFAULT_HISTORY_LIMIT // 5
        assert await running.wait_until(lambda: running.statistics().events >= enough, timeout=60)
    assert running.statistics().history_dropped == 0


async def test_a_shutdown_check_says_so_when_the_history_was_cut() -> None:
    async with flapping().build(history_limit=10) as running:
        assert await running.wait_until(lambda: running.statistics().events >= 100, timeout=60)
    with pytest.raises(UncleanShutdown, match=r"oldest \d+ events were dropped"):
        check_clean_shutdown(running)
