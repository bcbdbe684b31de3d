"""The live streams of the control API, as server-sent events: output lines
(`event: line`) and events (`event: event`), `event: lost` when the reader
fell behind and skipped ahead, `event: end` once the system has stopped.

A stream never slows the system: output is read from the ring buffers (a
slow reader skips ahead, `OutputFollower`), and events from one ring of the
latest, which `up`'s host fills as it records them (`EventHub`; a slow
reader skips ahead there too). Either way a stream holds at
most a fixed number of items, however slow its reader.
"""

from __future__ import annotations

import itertools
import json
from collections import deque
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import Any

import anyio
from anyio import CancelScope
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from coordinator import Event, OutputFollower, OutputLine, RunningDaemons, event_json

__all__ = [
    "EVENT_QUEUE",
    "KEEP_ALIVE",
    "EventHub",
    "ServerSentEvents",
    "cancel_on_disconnect",
    "output_json",
    "output_stream",
]

KEEP_ALIVE = 15.0
"""Seconds between two keep-alive comments on an idle stream."""
BATCH = 500
"""Output lines sent in one write, at most."""
EVENT_QUEUE = 1000
"""Events kept for the streams, at most; a reader further behind loses the older ones."""
_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-store"),
]


def message(name: str, data: Any) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


Messages = Callable[[], AsyncGenerator[bytes, None]]


class ServerSentEvents(Response):
    """A response streaming `messages` until they end or the client goes.
    (A Starlette `Response` only to be one to the router: it sends itself.)"""

    def __init__(self, messages: Messages) -> None:
        super().__init__(media_type="text/event-stream")
        self._messages = messages

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(cancel_on_disconnect, receive, tasks.cancel_scope)
            # Closed however the loop ends (a client gone mid-send too), so
            # that the stream's `finally` runs now, not when collected.
            async with aclosing(self._messages()) as chunks:
                async for chunk in chunks:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            tasks.cancel_scope.cancel()


async def cancel_on_disconnect(receive: Receive, scope: CancelScope) -> None:
    """Cancel `scope` once the client has gone (a response being streamed to it)."""
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()


END_MESSAGE = message("end", {})
KEEP_ALIVE_MESSAGE = b": keep-alive\n\n"


def _batch(items: list[bytes], lost: int) -> bytes:
    """One write: first how many the reader skipped, if any, then the items."""
    head = [message("lost", {"lost": lost})] if lost else []
    return b"".join([*head, *items])


def output_json(line: OutputLine) -> dict[str, Any]:
    return {"entry": line.entry, "stream": line.stream, "at": line.wall_time, "text": line.text}


def output_stream(follower: OutputFollower) -> ServerSentEvents:
    async def messages() -> AsyncGenerator[bytes, None]:
        lost = 0
        while True:
            with anyio.move_on_after(KEEP_ALIVE) as idle:
                line = await anext(follower, None)
            if idle.cancelled_caught:
                yield KEEP_ALIVE_MESSAGE
                continue
            # What else is ready goes in the same write: one send per
            # batch, not per line, keeps a hundred followers cheap.
            lines = [] if line is None else [line, *follower.available(BATCH - 1)]
            chunk = _batch(
                [message("line", output_json(each)) for each in lines], follower.lost - lost
            )
            lost = follower.lost
            if line is None:
                yield chunk + END_MESSAGE
                return
            yield chunk

    return ServerSentEvents(messages)


class EventHub:
    """The latest events, as messages, for every live event stream.

    `up`'s host feeds it (`publish`, as each event is recorded, right after
    the system's history has it). Each event is encoded once and kept once,
    in one ring of the latest `EVENT_QUEUE`, however many streams follow:
    a stream reads it from its own place on, and one that falls further
    behind than the ring skips ahead and is told how much it lost. So an
    event costs the system one append, whatever the number of streams, and
    a stream that starts with the history gets exactly what came before it.
    """

    def __init__(self, keep: int = EVENT_QUEUE) -> None:
        self._messages: deque[bytes] = deque(maxlen=keep)
        self._next = 0
        """The number of the next message to come."""
        self._arrived: anyio.Event | None = None
        """Set when something comes; made by the first stream to wait (an
        `anyio.Event` needs a running event loop)."""
        self._streams = 0
        self.finished = False

    def publish(self, event: Event) -> None:
        if self._streams:  # no one to keep it for: a stream starts with the history
            self._messages.append(message("event", event_json(event)))
            self._next += 1
            self._wake()

    def finish(self) -> None:
        """The system has stopped: every stream ends once it has sent the rest."""
        self.finished = True
        self._wake()

    def _wake(self) -> None:
        if self._arrived is not None:
            self._arrived.set()
            self._arrived = None

    async def _arrival(self) -> None:
        if self._arrived is None:
            self._arrived = anyio.Event()
        await self._arrived.wait()

    def _since(self, number: int) -> tuple[list[bytes], int]:
        """The messages from `number` on that are still kept, and how many
        before them are not."""
        oldest = self._next - len(self._messages)
        lost = max(0, oldest - number)
        return list(itertools.islice(self._messages, number + lost - oldest, None)), lost

    def stream(self, running: RunningDaemons, *, history: bool) -> ServerSentEvents:
        async def messages() -> AsyncGenerator[bytes, None]:
            # Both at once, with no await between: no event is missed or sent twice.
            self._streams += 1
            number = self._next
            earlier = list(running.history) if history else []
            try:
                if earlier:
                    yield b"".join(message("event", event_json(e)) for e in earlier)
                while True:
                    items, lost = self._since(number)
                    number = self._next
                    if items or lost:
                        yield _batch(items, lost)
                        continue  # more may have come meanwhile
                    if self.finished:
                        yield END_MESSAGE
                        return
                    with anyio.move_on_after(KEEP_ALIVE) as idle:
                        await self._arrival()
                    if idle.cancelled_caught:
                        yield KEEP_ALIVE_MESSAGE
            finally:
                self._streams -= 1

        return ServerSentEvents(messages)
