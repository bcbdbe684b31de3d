"""The event queue of a live event stream: bounded, the oldest events lost
first and counted, however slow its reader (docs/api.md)."""

from __future__ import annotations

import anyio

from coordinator import ErrorReported, Event
from healthdaemons._control_streams import _EventQueue, message


async def test_a_reader_that_falls_behind_loses_the_oldest_events_and_is_told() -> None:
    send, receive = anyio.create_memory_object_stream[Event](10_000)
    for number in range(1500):
        send.send_nowait(ErrorReported(float(number), None, str(number)))
    send.close()
    queue = _EventQueue(1000)
    await queue.fill(receive)
    assert queue.ended and queue.lost == 500 and len(queue.events) == 1000
    assert [e.at for e in queue.events] == [float(n) for n in range(500, 1500)]


def test_a_message_is_one_event_and_one_line_of_json() -> None:
    assert message("lost", {"lost": 3}) == b'event: lost\ndata: {"lost":3}\n\n'
    assert message("line", {"text": "a\nb"}) == b'event: line\ndata: {"text":"a\\nb"}\n\n'
