"""The live streams of the control API, as server-sent events: output lines
(`event: line`) and events (`event: event`), `event: lost` when the reader
fell behind and skipped ahead, `event: end` once the system has stopped.

A stream never slows the system: output is read from the ring buffers (a
slow reader skips ahead, `OutputFollower`), and events are moved at once
from the system's subscription into a bounded queue of the stream's own,
whose oldest events a slow reader loses. Either way a stream holds at
most a fixed number of items, however slow its reader.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from anyio.abc import TaskGroup
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from coordinator import Event, OutputFollower, OutputLine, RunningDaemons, event_json

__all__ = [
    "EVENT_QUEUE",
    "KEEP_ALIVE",
    "ServerSentEvents",
    "event_stream",
    "output_json",
    "output_stream",
]

KEEP_ALIVE = 15.0
"""Seconds between two keep-alive comments on an idle stream."""
EVENT_QUEUE = 1000
"""Events a stream keeps for its reader, at most; older ones are lost."""
_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-store"),
]


def message(name: str, data: Any) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


Messages = Callable[[TaskGroup], AsyncIterator[bytes]]


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
            async for chunk in self._messages(tasks):
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
    async def messages(tasks: TaskGroup) -> AsyncIterator[bytes]:
        lost = 0
        while True:
            with anyio.move_on_after(KEEP_ALIVE) as idle:
                line = await anext(follower, None)
            if idle.cancelled_caught:
                yield b": keep-alive\n\n"
                continue
            if follower.lost != lost:
                yield message("lost", {"lost": follower.lost - lost})
                lost = follower.lost
            if line is None:
                yield message("end", {})
                return
            yield message("line", output_json(line))

    return ServerSentEvents(messages)


class _EventQueue:
    """The events a stream has not sent yet: at most `limit`, the oldest lost first."""

    def __init__(self, limit: int) -> None:
        self.events: deque[Event] = deque()
        self.limit = limit
        self.lost = 0
        self.ended = False
        self._arrived = anyio.Event()

    async def fill(self, subscription: anyio.abc.ObjectReceiveStream[Event]) -> None:
        async with subscription:
            async for event in subscription:
                if len(self.events) >= self.limit:
                    self.events.popleft()
                    self.lost += 1
                self.events.append(event)
                self._arrived.set()
        self.ended = True
        self._arrived.set()

    async def arrival(self) -> None:
        await self._arrived.wait()
        self._arrived = anyio.Event()


def event_stream(running: RunningDaemons, *, history: bool) -> ServerSentEvents:
    # Subscribed now, in the request: no event falls between the history and the stream.
    subscription = running.subscribe(EVENT_QUEUE)
    earlier = list(running.history) if history else []

    async def messages(tasks: TaskGroup) -> AsyncIterator[bytes]:
        queue = _EventQueue(EVENT_QUEUE)
        tasks.start_soon(queue.fill, subscription)
        for event in earlier:
            yield message("event", event_json(event))
        lost = 0
        while True:
            while queue.events:
                if queue.lost != lost:
                    yield message("lost", {"lost": queue.lost - lost})
                    lost = queue.lost
                yield message("event", event_json(queue.events.popleft()))
            if queue.ended:
                yield message("end", {})
                return
            with anyio.move_on_after(KEEP_ALIVE) as idle:
                await queue.arrival()
            if idle.cancelled_caught:
                yield b": keep-alive\n\n"

    return ServerSentEvents(messages)
