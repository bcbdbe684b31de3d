"""`healthdaemons web FILE`: the web console of a system that already runs
(`up --detach`), in a process of its own.

It serves the page as `up --web` does (`_web_page`, the same token rules),
and forwards every `/v1/...` request to the system's control socket, a new
connection each, streams chunk by chunk as they come. So it outlives the
system: while none runs, `/v1/*` answers 503; once one runs again (a new
`up` of the same file), the page's next requests reach it, with the same
token (`_web_token`). Ctrl-C or SIGTERM end it.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from pathlib import Path

import anyio
import httpx
from starlette.types import Message, Receive, Scope, Send

from ._client_transport import Transport
from ._control_api import BODY_TIMEOUT, MAX_BODY
from ._control_guard import RequestGuard, json_error
from ._control_options import parse_listen
from ._control_paths import ControlPaths
from ._control_server import serve_on, tcp_socket
from ._control_streams import cancel_on_disconnect
from ._web_page import WebConsole, web_url
from ._web_token import web_token

__all__ = ["Forwarder", "run_web"]

CONNECT_TIMEOUT = 5.0
"""Seconds to connect to the control socket: it is local, so an `up` that
does not accept by then is stuck."""
_DROPPED = frozenset(
    {b"connection", b"keep-alive", b"transfer-encoding", b"date", b"server", b"host"}
)
"""Headers not passed on: they belong to one connection, or the server sets them."""
_PASSED = frozenset({b"content-type", b"accept", b"last-event-id"})
"""The request headers passed on (the unix socket needs no token; the body
is sent whole, with a length of its own)."""


class Forwarder:
    """ASGI app: each request sent on to the control socket at `socket`, its
    answer sent back as it arrives; 503 while nothing answers there."""

    def __init__(self, socket: Path, named: str) -> None:
        self._socket = socket
        self._absent = (
            f"no system is running for {named} (nothing answers at {socket}); "
            f"`healthdaemons up {named} --detach` starts one"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = None
        with anyio.move_on_after(BODY_TIMEOUT):
            body = await _body(receive)
        if body is None:
            await json_error(send, 408, f"request body not received within {BODY_TIMEOUT:g} s")
            return
        if len(body) > MAX_BODY:
            await json_error(send, 413, f"request body too large (at most {MAX_BODY} bytes)")
            return
        headers = [(k, v) for k, v in scope["headers"] if k.lower() in _PASSED]
        # The path as sent (an entry id may be percent-encoded), and its query.
        path: bytes = scope.get("raw_path") or scope["path"].encode()
        query: bytes = scope["query_string"]
        target = (path + (b"?" + query if query else b"")).decode("latin-1")
        async with httpx.AsyncClient(
            transport=Transport(self._socket),
            base_url="http://healthdaemons",
            timeout=httpx.Timeout(None, connect=CONNECT_TIMEOUT),
        ) as client:
            request = client.build_request(scope["method"], target, headers=headers, content=body)
            try:
                answer = await client.send(request, stream=True)
            except httpx.TransportError:
                # No socket, a socket left by a killed `up`, or one that
                # closed before answering (an `up` going away).
                await json_error(send, 503, self._absent)
                return
            try:
                await _relay(answer, receive, send)
            finally:
                await answer.aclose()


async def _lifespan(receive: Receive, send: Send) -> None:
    """Nothing to set up or tear down, said as the server expects to hear it."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _relay(answer: httpx.Response, receive: Receive, send: Send) -> None:
    """The answer, chunk by chunk, until it ends, the system goes away
    (the stream just ends, as when the system stops), or the client does."""
    headers = [(k, v) for k, v in answer.headers.raw if k.lower() not in _DROPPED]
    await send({"type": "http.response.start", "status": answer.status_code, "headers": headers})
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(cancel_on_disconnect, receive, tasks.cancel_scope)
        try:
            async for chunk in answer.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except httpx.TransportError:
            pass
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        tasks.cancel_scope.cancel()


async def _body(receive: Receive) -> bytes:
    """The request's body, read no further than past `MAX_BODY`."""
    body = bytearray()
    while True:
        message: Message = await receive()
        if message["type"] != "http.request":
            return bytes(body)
        body += message.get("body", b"")
        if len(body) > MAX_BODY or not message.get("more_body", False):
            return bytes(body)


def run_web(config: str | None, control_socket: str | None, web: str, remote: bool) -> int:
    """`healthdaemons web`: serve until SIGINT or SIGTERM; `ValueError` for a
    config file that does not exist, a bad or busy `--web` address."""
    if config is not None and not os.path.isfile(config):
        raise ValueError(f"{config}: no such config file")
    host, port = parse_listen(web, remote=remote, flag="--web")
    if config is not None:
        paths, named = ControlPaths.for_config(config), config
    else:
        assert control_socket is not None
        paths, named = ControlPaths.beside(control_socket), control_socket
    listener = tcp_socket(host, port, flag="--web")
    try:
        token = web_token(paths.web_token)
        console = WebConsole(Forwarder(paths.socket, named), token=token, config=named)
        app = RequestGuard(console, token=None, listen_host=host, report=_say)
        bound_host, bound_port = listener.getsockname()[:2]
        print(f"web console: {web_url(bound_host, bound_port, token=token)}", flush=True)
        print(f"forwarding to the system of {named} (socket {paths.socket})", flush=True)
        anyio.run(_serve, app, listener)
    finally:
        listener.close()
    return 0


async def _serve(app: RequestGuard, listener: socket.socket) -> None:
    closing = anyio.Event()
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with anyio.create_task_group() as tasks:

            async def stop_on_signal() -> None:
                async for received in signals:
                    _say(f"{signal.Signals(received).name}: stopping")
                    closing.set()
                    return

            tasks.start_soon(stop_on_signal)
            await serve_on(app, listener, closing, _say)
            tasks.cancel_scope.cancel()


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
