"""How `ControlClient` talks HTTP: an httpx transport on anyio and h11, one
connection per request, over a unix socket or TCP.

httpx's own transport is httpcore, which imports trio whenever it is
installed (a tenth of a second): the client commands must start quickly,
and a request to a local socket needs no pool, TLS nor HTTP/2.
"""

from __future__ import annotations

import math
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import anyio
import h11
import httpx
from anyio.abc import ByteStream

__all__ = ["Transport"]

_CHUNK = 65536


class Transport(httpx.AsyncBaseTransport):
    """Requests sent to the unix socket at `socket`, or, without one, by TCP
    to the request's host and port."""

    def __init__(self, socket: Path | None = None) -> None:
        self._socket = socket

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        limits = request.extensions.get("timeout", {})
        stream = await self._connect(request.url, limits.get("connect"))
        try:
            connection = h11.Connection(h11.CLIENT)
            reading = _Reading(stream, connection, limits.get("read"))
            await reading.send(_request(request))
            body = await request.aread()
            if body:
                await reading.send(h11.Data(data=body))
            await reading.send(h11.EndOfMessage())
            answer = await reading.answer()
        except BaseException:
            await anyio.aclose_forcefully(stream)
            raise
        return httpx.Response(
            answer.status_code,
            headers=answer.headers,
            stream=reading,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": answer.reason},
        )

    async def _connect(self, url: httpx.URL, limit: float | None) -> ByteStream:
        try:
            with _bounded(limit):
                if self._socket is not None:
                    return await anyio.connect_unix(self._socket)
                return await anyio.connect_tcp(url.host, url.port or 80)
        except TimeoutError as error:
            raise httpx.ConnectTimeout(f"no connection within {limit} s") from error
        except OSError as error:
            raise httpx.ConnectError(str(error)) from error


def _request(request: httpx.Request) -> h11.Request:
    # One request per connection: the server may close it once answered.
    headers = [(k, v) for k, v in request.headers.raw if k.lower() != b"connection"]
    target = request.url.raw_path
    return h11.Request(
        method=request.method, target=target, headers=[*headers, (b"Connection", b"close")]
    )


def _bounded(limit: float | None) -> AbstractContextManager[object]:
    if limit is None or math.isinf(limit):
        return nullcontext()
    return anyio.fail_after(limit)


class _Reading(httpx.AsyncByteStream):
    """One connection: the request sent, the answer's head, then its body as a stream."""

    def __init__(self, stream: ByteStream, connection: h11.Connection, limit: float | None) -> None:
        self._stream = stream
        self._connection = connection
        self._limit = limit

    async def send(self, event: h11.Event) -> None:
        data = self._connection.send(event)
        try:
            if data:
                await self._stream.send(data)
        except (OSError, anyio.BrokenResourceError) as error:
            raise httpx.WriteError(str(error) or "the connection closed") from error

    async def answer(self) -> h11.Response:
        while True:
            event = await self._next()
            if isinstance(event, h11.Response):
                return event
            if not isinstance(event, h11.InformationalResponse):
                raise httpx.RemoteProtocolError(f"no answer, but {type(event).__name__}")

    # An iterator, not an async generator: one left unfinished (a stream
    # the reader leaves) has nothing to finalize, on trio too.
    def __aiter__(self) -> _Reading:
        return self

    async def __anext__(self) -> bytes:
        event = await self._next()
        if not isinstance(event, h11.Data):
            raise StopAsyncIteration  # the end of the message
        return bytes(event.data)

    async def aclose(self) -> None:
        await anyio.aclose_forcefully(self._stream)

    async def _next(self) -> object:
        connection = self._connection
        while True:
            try:
                event = connection.next_event()
            except h11.RemoteProtocolError as error:
                raise httpx.RemoteProtocolError(str(error)) from error
            if event is not h11.NEED_DATA:
                return event
            connection.receive_data(await self._receive())

    async def _receive(self) -> bytes:
        try:
            with _bounded(self._limit):
                return await self._stream.receive(_CHUNK)
        except anyio.EndOfStream:
            return b""
        except TimeoutError as error:
            raise httpx.ReadTimeout(f"no answer within {self._limit} s") from error
        except (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError) as error:
            raise httpx.ReadError(str(error) or "the connection closed") from error
