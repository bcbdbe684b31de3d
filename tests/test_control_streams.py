"""The event queues of the live event streams: bounded, the oldest events lost
first and counted, however slow its reader (docs/api.md)."""

from __future__ import annotations

from coordinator import ErrorReported, event_json
from healthdaemons._control_streams import EventHub, message


def test_a_reader_that_falls_behind_loses_the_oldest_events_and_is_told() -> None:
    hub = EventHub()
    hub.publish(ErrorReported(0.0, None, "before anyone follows"))
    queue = hub._attach()
    for number in range(1500):
        hub.publish(ErrorReported(float(number), None, str(number)))
    assert queue.lost == 500 and len(queue.messages) == 1000
    expected = [
        message("event", event_json(ErrorReported(float(n), None, str(n))))
        for n in range(500, 1500)
    ]
    assert list(queue.messages) == expected
    hub.finish()
    assert queue.ended
    assert hub._attach().ended  # a stream that starts after the end ends at once


def test_a_message_is_one_event_and_one_line_of_json() -> None:
    assert message("lost", {"lost": 3}) == b'event: lost\ndata: {"lost":3}\n\n'
    assert message("line", {"text": "a\nb"}) == b'event: line\ndata: {"text":"a\\nb"}\n\n'
