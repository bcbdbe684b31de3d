"""Events: monotonic times, JSON lines written and read back, subscriptions (SPEC section 7)."""

from __future__ import annotations

import io
from pathlib import Path

import anyio

from coordinator import (
    Daemons,
    Event,
    HealthReported,
    MemoryHost,
    Ready,
    Transitioned,
    dump_events,
    load_events,
)

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
