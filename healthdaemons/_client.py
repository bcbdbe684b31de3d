"""`ControlClient`: a running `healthdaemons up`, seen and acted on from another
process through its control API (docs/spec.md section 11), over the unix
socket or over TCP with the token.

Only httpx, anyio, h11 and the standard library are loaded here (not even
httpcore, see `_client_transport`): the `ps`, `logs`, `restart` ...
commands are built on this module, and must start quickly. Works on
asyncio and trio alike.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterable
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, NotRequired, TypedDict, cast
from urllib.parse import quote

import httpx

from ._client_transport import Transport
from ._control_paths import ControlPaths

__all__ = [
    "ConnectionLostError",
    "ControlClient",
    "ControlError",
    "EntryStatus",
    "NoSystemError",
    "OutputLine",
    "Skipped",
    "SupervisorStatus",
    "TerminatingError",
    "UnknownEntryError",
    "WaitOutcome",
]


class ControlError(Exception):
    """A request that the running system refused or could not answer.
    `status` is the HTTP status of the answer, if one came."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class NoSystemError(ControlError):
    """Nothing answers at the control socket: no `up` runs for this file, or
    the socket was left behind by one that was killed."""


class UnknownEntryError(ControlError):
    """The system has no entry of that id (404); the message suggests the closest one."""


class TerminatingError(ControlError):
    """The system is shutting down and takes no more actions (409)."""


class ConnectionLostError(ControlError):
    """The connection closed before the answer or the stream was complete
    (the `up` process died, say)."""


class Health(TypedDict):
    result: str
    message: str | None


class EntryStatus(TypedDict):
    """One entry, as `GET /v1/entries/{id}` describes it."""

    id: str
    name: str | None
    kind: str
    state: str
    held: bool
    """Stopped by an operator (or its restart policy), until `start` or `restart`."""
    ended: bool
    """Held because its restart policy ended it (an exit 0 under
    `restart = "on-failure"` or `"no"`)."""
    health: Health | None
    pid: int | None
    restarts: int
    uptime: float | None
    """Seconds since its current process spawned."""
    requires: list[str]
    waiting_for: list[str]
    """The entries it requires that are not ready now."""


class SupervisorStatus(TypedDict):
    """The `up` process itself (`GET /v1/health`)."""

    status: str
    """`running`, or `stopping` once the ordered shutdown has begun."""
    pid: int
    config: str | None
    entries: int
    ready: int
    uptime: float
    web: NotRequired[str | None]
    """The web console's address without its token (`up --web`); absent from an older `up`."""


class OutputLine(TypedDict):
    """A line that an entry printed."""

    entry: str
    stream: str
    """`stdout` or `stderr`."""
    at: float
    """Wall-clock time, in seconds since the epoch."""
    text: str


class WaitOutcome(TypedDict, total=False):
    ready: bool
    reason: str
    """Why not ready: the timeout ran out, or the system shut down."""
    waiting: list[EntryStatus]


@dataclass(frozen=True)
class Skipped:
    """Items that a stream left out because this reader fell behind."""

    count: int


_NO_READ_LIMIT = httpx.Timeout(None, connect=5.0)
"""For the requests that last as long as what they wait for (an action, a
`wait`, a stream): only connecting is bounded."""


class ControlClient:
    """A client of one running system. Use it as an async context manager
    (`async with ControlClient.for_config("stack.toml") as client:`), or call
    `aclose()` when done.

    Give the unix socket (`socket`), or a TCP `url` (`http://127.0.0.1:8700`,
    from `up --listen`) and its `token`. `timeout` bounds each quick request;
    actions, `wait` and the streams last as long as what they wait for.
    """

    def __init__(
        self,
        socket: str | os.PathLike[str] | None = None,
        *,
        url: str | None = None,
        token: str | None = None,
        timeout: float = 30.0,
        config: str | os.PathLike[str] | None = None,
    ) -> None:
        if (socket is None) == (url is None):
            raise ValueError("give either the control socket or a TCP url, not both or neither")
        if url is not None and not url.startswith("http://"):
            # The server speaks plain HTTP, and so does the transport: an
            # https:// url would go out unencrypted, to port 80.
            raise ValueError(f"the control API is plain HTTP: give an http:// url, not {url!r}")
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        if socket is not None:
            self.socket: Path | None = Path(socket)
            of = f"for {os.fspath(config)} " if config is not None else ""
            self._absent = f"no system is running {of}(no control socket at {socket})"
            transport = Transport(self.socket)
            base = "http://localhost"
        else:
            self.socket = None
            self._absent = f"no system is running at {url}"
            transport = Transport()
            base = cast(str, url)
        self._http = httpx.AsyncClient(
            transport=transport, base_url=base, headers=headers, timeout=timeout
        )

    @classmethod
    def for_config(cls, config: str | os.PathLike[str], *, timeout: float = 30.0) -> ControlClient:
        """The client of the system that `healthdaemons up CONFIG` runs."""
        return cls(ControlPaths.for_config(config).socket, config=config, timeout=timeout)

    async def __aenter__(self) -> ControlClient:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # The system and its entries

    async def health(self) -> SupervisorStatus:
        """The supervisor's liveness: its pid, `running` or `stopping`, how many are ready."""
        return cast(SupervisorStatus, await self._json("GET", "/v1/health"))

    async def entries(self) -> list[EntryStatus]:
        """Every entry, in the order they were added."""
        answer = await self._json("GET", "/v1/entries")
        return cast(list[EntryStatus], answer["entries"])

    async def entry(self, id: str) -> EntryStatus:
        """One entry; `UnknownEntryError` if there is none of that id."""
        return cast(EntryStatus, await self._json("GET", _entry_path(id)))

    # Operator actions (docs/spec.md section 10): each returns the entry after it.

    async def stop(self, id: str) -> EntryStatus:
        """Hold the entry: its dependents stop first, then it; returns once it has stopped."""
        return await self._act(id, "stop")

    async def start(self, id: str) -> EntryStatus:
        """Release a held entry; it starts again once its dependencies are ready."""
        return await self._act(id, "start")

    async def restart(self, id: str) -> EntryStatus:
        """A fresh launch, its dependents cascading; returns once it has launched again."""
        return await self._act(id, "restart")

    async def _act(self, id: str, action: str) -> EntryStatus:
        path = f"{_entry_path(id)}/{action}"
        return cast(EntryStatus, await self._json("POST", path, timeout=_NO_READ_LIMIT))

    async def wait(self, ids: Iterable[str] = (), timeout: float | None = None) -> WaitOutcome:
        """Wait until the entries (all if none are named) are ready: `{"ready": True}`,
        or `ready` false with a `reason` and the entries still `waiting` when
        `timeout` runs out or the system shuts down."""
        body = {"entries": list(ids), "timeout": timeout}
        answer = await self._json("POST", "/v1/wait", body=body, timeout=_NO_READ_LIMIT)
        return cast(WaitOutcome, answer)

    async def shutdown(self) -> None:
        """Start the ordered shutdown and return at once (see `follow_events` for its end)."""
        await self._json("POST", "/v1/shutdown")

    # Output, events, graph

    async def output(self, entry: str | None = None, lines: int | None = None) -> list[OutputLine]:
        """The last `lines` lines (the server's default if None) of one entry, or of all."""
        answer = await self._json("GET", "/v1/output", params=_output_params(entry, lines))
        return cast(list[OutputLine], answer["lines"])

    async def follow_output(
        self, entry: str | None = None, lines: int | None = None
    ) -> AsyncGenerator[OutputLine | Skipped, None]:
        """The last `lines` lines, then each line as it is printed, until the
        system stops. Close it (`contextlib.aclosing`) if you leave early."""
        params = {**_output_params(entry, lines), "follow": "true"}
        async with (
            self._subscribe("/v1/output", params) as messages,
            aclosing(_items(messages, "line")) as items,
        ):
            async for item in items:
                yield cast(OutputLine | Skipped, item)

    async def events(self) -> list[dict[str, Any]]:
        """The events kept so far, as JSON objects (those `up --record` writes)."""
        answer = await self._json("GET", "/v1/events")
        return cast(list[dict[str, Any]], answer["events"])

    async def follow_events(
        self, history: bool = False
    ) -> AsyncGenerator[dict[str, Any] | Skipped, None]:
        """Each event from now on (after those kept so far, with `history`),
        until the system stops. Close it (`contextlib.aclosing`) if you leave early."""
        async with self.subscribe_events(history) as events:
            async for item in events:
                yield item

    @asynccontextmanager
    async def subscribe_events(
        self, history: bool = False
    ) -> AsyncIterator[AsyncIterator[dict[str, Any] | Skipped]]:
        """`follow_events`, subscribed once entered: an event that happens
        after (of an action taken inside the block, say) is never missed.

            async with client.subscribe_events() as events:
                await client.restart("web")
                async for event in events: ...
        """
        params = {"follow": "true", "history": "true" if history else "false"}
        async with (
            self._subscribe("/v1/events", params) as messages,
            aclosing(_items(messages, "event")) as events,
        ):
            yield events

    async def graph(self, format: Literal["dot", "svg"] = "dot") -> str:
        """The system graph with the live states, as DOT source or SVG."""
        async with self._request("GET", "/v1/graph", params={"format": format}) as response:
            await response.aread()
            return response.text

    # HTTP

    async def _json(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: object = None,
        timeout: httpx.Timeout | None = None,
    ) -> dict[str, Any]:
        async with self._request(method, path, params, body, timeout) as response:
            return _document(await response.aread(), response)

    def _request(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None = None,
        body: object = None,
        timeout: httpx.Timeout | None = None,
    ) -> _Answer:
        request = self._http.build_request(
            method,
            path,
            params=params,
            json=body,
            timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
        )
        return _Answer(self, request)

    @asynccontextmanager
    async def _subscribe(
        self, path: str, params: dict[str, str]
    ) -> AsyncIterator[AsyncIterator[tuple[str, dict[str, Any]]]]:
        """A server-sent event stream, once its answer has begun: its messages."""
        async with (
            self._request("GET", path, params, timeout=_NO_READ_LIMIT) as response,
            aclosing(_messages(response)) as messages,
        ):
            yield messages


class _Answer:
    """One request's answer, as an async context manager: an HTTP error
    status or a failed connection raised as the `ControlError` it means."""

    def __init__(self, client: ControlClient, request: httpx.Request) -> None:
        self._client = client
        self._request = request
        self._response: httpx.Response | None = None

    async def __aenter__(self) -> httpx.Response:
        client = self._client
        try:
            response = await client._http.send(self._request, stream=True)
        except httpx.ConnectError as error:
            raise _not_connected(error, client._absent) from None
        except httpx.HTTPError as error:
            raise ConnectionLostError(_lost(error)) from error
        self._response = response
        if response.status_code >= 400:
            try:
                content = await response.aread()
            except httpx.HTTPError as error:
                raise ConnectionLostError(_lost(error)) from error
            finally:
                await response.aclose()
            raise _refused(response.status_code, content)
        return response

    async def __aexit__(self, *exc_info: object) -> None:
        if self._response is not None:
            await self._response.aclose()


async def _messages(
    response: httpx.Response,
) -> AsyncGenerator[tuple[str, dict[str, Any]], None]:
    """The (name, data) of each message of a server-sent event stream, until its `end`."""
    name, data = "message", ""
    async with aclosing(_lines(response)) as lines:
        async for line in lines:
            if line.startswith(":"):
                continue  # a keep-alive
            if line:
                field, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if field == "event":
                    name = value
                elif field == "data":
                    data = value if not data else f"{data}\n{value}"
                continue
            if name == "end":
                return
            if data:
                yield name, _parsed(data)
            name, data = "message", ""
    raise ConnectionLostError("the connection closed before the system said it had stopped")


async def _items(
    messages: AsyncIterator[tuple[str, dict[str, Any]]], kind: str
) -> AsyncGenerator[dict[str, Any] | Skipped, None]:
    """The data of the stream's `kind` messages (`line`, `event`), and a
    `Skipped` for each `lost` message."""
    async for name, data in messages:
        if name == kind:
            yield data
        elif name == "lost":
            yield Skipped(int(data["lost"]))


async def _lines(response: httpx.Response) -> AsyncGenerator[str, None]:
    """The lines of a streamed answer. httpx's line reader nests async
    generators that trio would warn about when a stream is left unfinished:
    this reads the one below them, and closes it."""
    chunks = cast(
        AsyncGenerator[bytes, None], cast(AsyncIterable[bytes], response.stream).__aiter__()
    )
    pending = b""
    try:
        async with aclosing(chunks):
            async for chunk in chunks:
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    yield line.removesuffix(b"\r").decode("utf-8", "replace")
    except httpx.HTTPError as error:
        raise ConnectionLostError(_lost(error)) from error


def _entry_path(id: str) -> str:
    return f"/v1/entries/{quote(id, safe='')}"


def _output_params(entry: str | None, lines: int | None) -> dict[str, str]:
    params = {}
    if entry is not None:
        params["entry"] = entry
    if lines is not None:
        params["lines"] = str(lines)
    return params


def _not_connected(error: httpx.ConnectError, absent: str) -> ControlError:
    """No listener (no socket file, or one left by a killed `up`) means no
    system; another reason (a socket of another user) is said as it is."""
    cause: BaseException | None = error
    while cause is not None and not isinstance(cause, OSError):
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, PermissionError):
        return ControlError(f"{absent.partition(' (')[0]}: permission denied")
    if cause is None or isinstance(cause, FileNotFoundError | ConnectionRefusedError):
        return NoSystemError(absent)
    return ControlError(f"cannot connect: {cause.strerror or cause}")


def _lost(error: httpx.HTTPError) -> str:
    return f"the connection to the system was lost ({error or type(error).__name__})"


def _refused(status: int, content: bytes) -> ControlError:
    """The error of a 4xx or 5xx answer, with the server's message."""
    try:
        message = str(json.loads(content)["error"])
    except (ValueError, TypeError, KeyError):
        message = content.decode("utf-8", "replace").strip()[:200] or f"HTTP {status}"
    kind = {404: UnknownEntryError, 409: TerminatingError}.get(status, ControlError)
    return kind(message, status)


def _document(content: bytes, response: httpx.Response) -> dict[str, Any]:
    try:
        document = json.loads(content)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise ControlError(
            f"not a JSON object in the answer to {response.request.method} "
            f"{response.request.url.path}",
            response.status_code,
        )
    return document


def _parsed(data: str) -> dict[str, Any]:
    try:
        document = json.loads(data)
    except ValueError:
        raise ControlError(f"not JSON in the stream: {data[:80]!r}") from None
    if not isinstance(document, dict):
        raise ControlError(f"not a JSON object in the stream: {data[:80]!r}")
    return document
