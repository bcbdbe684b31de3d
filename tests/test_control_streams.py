"""The event queues of the live event streams: bounded, the oldest events lost
first and counted, however slow its reader (docs/api.md)."""

from __future__ import annotations

from contextlib import aclosing

import anyio

from coordinator import Daemons, ErrorReported, HealthCheckResult, Ready, event_json
from healthdaemons._control_streams import EventHub, message

from .support import forever


def test_a_reader_that_falls_behind_loses_the_oldest_events_and_is_told() -> None:
    hub = EventHub(keep=1000)
    hub.publish(ErrorReported(0.0, None, "before anyone follows"))
    hub._streams = 1  # as a stream does when it starts, reading from message 0
    for number in range(1500):
        hub.publish(ErrorReported(float(number), None, str(number)))
    kept, lost = hub._since(0)
    assert lost == 500
    assert kept == [
        message("event", event_json(ErrorReported(float(n), None, str(n))))
        for n in range(500, 1500)
    ]
    # A reader that kept up gets only what is new, and loses nothing.
    hub.publish(ErrorReported(1500.0, None, "1500"))
    assert hub._since(1500) == (
        [message("event", event_json(ErrorReported(1500.0, None, "1500")))],
        0,
    )


async def test_every_stream_reads_each_event_once_and_ends_with_the_system() -> None:
    async with (
        Daemons.of()
        .add_daemon("idle", exec=forever(), ready=Ready(display=None, fn=HealthCheckResult.success))
        .build() as running
    ):
        hub = EventHub()
        read: dict[int, list[bytes]] = {}

        async def follow(reader: int) -> None:
            chunks = []
            async with aclosing(hub.stream(running, history=reader == 0)._messages()) as messages:
                async for chunk in messages:
                    chunks.append(chunk)
            read[reader] = chunks

        async with anyio.create_task_group() as tasks:
            for reader in range(3):
                tasks.start_soon(follow, reader)
            await anyio.sleep(1)
            for number in range(5):
                hub.publish(ErrorReported(float(number), None, str(number)))
                if number == 2:
                    await anyio.sleep(1)
            hub.finish()
    every = [message("event", event_json(ErrorReported(float(n), None, str(n)))) for n in range(5)]
    for reader in (1, 2):
        assert b"".join(read[reader]) == b"".join(every) + message("end", {})
    assert b"".join(read[0]).endswith(b"".join(every) + message("end", {}))


def test_a_message_is_one_event_and_one_line_of_json() -> None:
    assert message("lost", {"lost": 3}) == b'event: lost\ndata: {"lost":3}\n\n'
    assert message("line", {"text": "a\nb"}) == b'event: line\ndata: {"text":"a\\nb"}\n\n'
