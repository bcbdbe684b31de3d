"""A stand-in for the control server of `up`: canned answers on a unix socket,
spoken with h11, to test the client's side alone (its requests, its reading
of answers and streams, its errors) on both backends.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import h11
from anyio.abc import SocketStream
from anyio.from_thread import start_blocking_portal


@dataclass
class Asked:
    """A request the fake received."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return self.target.partition("?")[0]

    @property
    def json(self) -> object:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    body: object = None
    """A JSON document, or `bytes` sent as they are."""
    stream: list[str] | None = None
    """Server-sent messages (already framed) sent one by one, as chunks."""
    cut: bool = False
    """Close the connection before the end of the stream."""


Route = Callable[[Asked], Answer]


@dataclass
class FakeServer:
    socket: Path
    routes: dict[tuple[str, str], Answer | Route] = field(default_factory=dict)
    asked: list[Asked] = field(default_factory=list)

    def answer(self, request: Asked) -> Answer:
        route = self.routes.get((request.method, request.path))
        if route is None:
            return Answer(404, {"error": f"no route {request.method} {request.path}"})
        return route(request) if callable(route) else route


def sse(name: str, data: object) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


@asynccontextmanager
async def fake_server(socket: Path) -> AsyncIterator[FakeServer]:
    server = FakeServer(socket)
    listener = await anyio.create_unix_listener(socket)
    async with listener, anyio.create_task_group() as tasks:
        tasks.start_soon(listener.serve, lambda stream: _serve(server, stream))
        yield server
        tasks.cancel_scope.cancel()


@contextmanager
def fake_server_in_a_thread(socket: Path) -> Iterator[FakeServer]:
    """The fake, served from a thread: for tests that call `main`, which runs its own loop."""
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(fake_server(socket)) as server,
    ):
        yield server


async def _serve(server: FakeServer, stream: SocketStream) -> None:
    try:
        await _answer(server, stream)
    except (anyio.BrokenResourceError, anyio.ClosedResourceError):
        pass  # the client left before the end: as it may


async def _answer(server: FakeServer, stream: SocketStream) -> None:
    async with stream:
        connection = h11.Connection(h11.SERVER)
        request: h11.Request | None = None
        body = b""
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                try:
                    connection.receive_data(await stream.receive())
                except anyio.EndOfStream:
                    return
                continue
            if isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                break
        assert request is not None
        asked = Asked(
            request.method.decode(),
            request.target.decode(),
            {k.decode(): v.decode() for k, v in request.headers},
            body,
        )
        server.asked.append(asked)
        answer = server.answer(asked)
        if answer.stream is not None:
            head = [(b"content-type", b"text/event-stream")]
            await stream.send(connection.send(h11.Response(status_code=200, headers=head)))
            for message in answer.stream:
                await stream.send(connection.send(h11.Data(data=message.encode())))
            if not answer.cut:
                await stream.send(connection.send(h11.EndOfMessage()))
            return
        content = (
            answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode()
        )
        head = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(content))]
        await stream.send(connection.send(h11.Response(status_code=answer.status, headers=head)))
        await stream.send(connection.send(h11.Data(data=content)))
        await stream.send(connection.send(h11.EndOfMessage()))
