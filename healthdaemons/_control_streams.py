"""The live streams of the control API, as server-sent events: output lines
(`event: line`) and events (`event: event`), `event: lost` when the reader
fell behind and skipped ahead, `event: end` once the system has stopped.

A stream never slows the system: output is read from the ring buffers (a
slow reader skips ahead, `OutputFollower`), and events are put at once, as
`up`'s host records them, into a bounded queue of each stream's own
(`EventHub`), whose oldest events a slow reader loses. Either way a stream holds at
most a fixed number of items, however slow its reader.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import Any

import anyio
from anyio.abc import TaskGroup
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from coordinator import Event, OutputFollower, OutputLine, RunningDaemons, event_json

__all__ = [
    "EVENT_QUEUE",
    "KEEP_ALIVE",
    "EventHub",
    "ServerSentEvents",
    "output_json",
    "output_stream",
]

KEEP_ALIVE = 15.0
"""Seconds between two keep-alive comments on an idle stream."""
BATCH = 500
"""Output lines sent in one write, at most."""
EVENT_QUEUE = 1000
"""Events a stream keeps for its reader, at most; older ones are lost."""
_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-store"),
]


def message(name: str, data: Any) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


Messages = Callable[[TaskGroup], AsyncGenerator[bytes, None]]


class ServerSentEvents(Response):
    """A response streaming `messages` until they end or the client goes.
    (A Starlette `Response` only to be one to the router: it sends itself.)"""

    def __init__(self, messages: Messages) -> None:
        super().__init__(media_type="text/event-stream")
        self._messages = messages

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_cancel_on_disconnect, receive, tasks)
            # Closed however the loop ends (a client gone mid-send too), so
            # that the stream's `finally` runs now, not when collected.
            async with aclosing(self._messages(tasks)) as chunks:
                async for chunk in chunks:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            tasks.cancel_scope.cancel()


async def _cancel_on_disconnect(receive: Receive, tasks: TaskGroup) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    tasks.cancel_scope.cancel()


def output_json(line: OutputLine) -> dict[str, Any]:
    return {"entry": line.entry, "stream": line.stream, "at": line.wall_time, "text": line.text}


def output_stream(follower: OutputFollower) -> ServerSentEvents:
    async def messages(tasks: TaskGroup) -> AsyncGenerator[bytes, None]:
        lost = 0
        while True:
            with anyio.move_on_after(KEEP_ALIVE) as idle:
                line = await anext(follower, None)
            if idle.cancelled_caught:
                yield b": keep-alive\n\n"
                continue
            # What else is ready goes in the same write: one send per
            # batch, not per line, keeps a hundred followers cheap.
            lines = [] if line is None else [line, *follower.available(BATCH - 1)]
            chunk = [message("line", output_json(each)) for each in lines]
            if follower.lost != lost:
                chunk.insert(0, message("lost", {"lost": follower.lost - lost}))
                lost = follower.lost
            if line is None:
                yield b"".join(chunk) + message("end", {})
                return
            yield b"".join(chunk)

    return ServerSentEvents(messages)


class _EventQueue:
    """The messages of the events a stream has not sent yet: at most `limit`,
    the oldest lost first."""

    def __init__(self, limit: int, ended: bool) -> None:
        self.messages: deque[bytes] = deque()
        self.limit = limit
        self.lost = 0
        self.ended = ended
        self._arrived = anyio.Event()

    def add(self, encoded: bytes) -> None:
        if len(self.messages) >= self.limit:
            self.messages.popleft()
            self.lost += 1
        self.messages.append(encoded)
        self._arrived.set()

    def end(self) -> None:
        self.ended = True
        self._arrived.set()

    async def arrival(self) -> None:
        await self._arrived.wait()
        self._arrived = anyio.Event()


class EventHub:
    """Every event of the system, handed to each live event stream as it is
    recorded.

    `up`'s host feeds it (`publish`, as each event is recorded, right after
    the system's history has it), so that an event is encoded once however
    many streams follow, no task wakes per event per stream, and a stream
    that starts with the history gets exactly what came before it.
    """

    def __init__(self) -> None:
        self._queues: set[_EventQueue] = set()
        self.finished = False

    def publish(self, event: Event) -> None:
        if self._queues:
            encoded = message("event", event_json(event))
            for queue in self._queues:
                queue.add(encoded)

    def finish(self) -> None:
        """The system has stopped: every stream ends once it has sent the rest."""
        self.finished = True
        for queue in self._queues:
            queue.end()

    def _attach(self) -> _EventQueue:
        queue = _EventQueue(EVENT_QUEUE, ended=self.finished)
        self._queues.add(queue)
        return queue

    def stream(self, running: RunningDaemons, *, history: bool) -> ServerSentEvents:
        async def messages(tasks: TaskGroup) -> AsyncGenerator[bytes, None]:
            # Both at once, with no await between: no event is missed or sent twice.
            queue = self._attach()
            earlier = list(running.history) if history else []
            try:
                if earlier:
                    yield b"".join(message("event", event_json(e)) for e in earlier)
                lost = 0
                while True:
                    if queue.messages:
                        chunk = []
                        if queue.lost != lost:
                            chunk.append(message("lost", {"lost": queue.lost - lost}))
                            lost = queue.lost
                        chunk.extend(queue.messages)
                        queue.messages.clear()
                        yield b"".join(chunk)
                    if queue.ended:
                        yield message("end", {})
                        return
                    with anyio.move_on_after(KEEP_ALIVE) as idle:
                        await queue.arrival()
                    if idle.cancelled_caught:
                        yield b": keep-alive\n\n"
            finally:
                self._queues.discard(queue)

        return ServerSentEvents(messages)
