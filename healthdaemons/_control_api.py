"""The control API of a running `up` (docs/api.md): a Starlette app over the
running system. Every answer is JSON (errors `{"error": message}` with a
4xx, or a 5xx for the server's own faults); live streams are server-sent
events (`_control_streams`). Who may ask is `_control_guard`'s business."""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from coordinator import EntryView, RunningDaemons, event_json
from coordinator.errors import SystemTerminatingError
from statemachines import LifecycleState

from ._control_drawings import Drawings
from ._control_errors import ApiError, query_flag
from ._control_openapi import openapi_document
from ._control_streams import EventHub, output_json, output_stream
from ._up_table import Processes

__all__ = ["BODY_TIMEOUT", "MAX_BODY", "ApiError", "ControlState", "build_app", "read_json"]

MAX_BODY = 64 * 1024
"""Bytes of a request body, at most: the largest one (a `wait` naming every
entry) is far smaller."""
BODY_TIMEOUT = 10.0
"""Seconds a client has to send its whole body: a client that trickles one
never holds its connection for long."""
DEFAULT_LINES = 100
DEFAULT_FOLLOW_LINES = 10


@dataclass(frozen=True)
class ControlState:
    """What the API reads and acts on."""

    running: RunningDaemons
    processes: Processes
    """pid and spawn time per entry, as the `up` reporter saw them in the events."""
    config: str | None
    started: float
    """`time.monotonic()` when `up` started."""
    shutdown: Callable[[], None]
    """Begin the ordered shutdown (`running.term()`) without waiting for it."""
    events: EventHub
    """Fed by the host with each event as it is recorded; `finish()`ed once
    the system has stopped."""
    web: str | None = None
    """The web console's address (`http://HOST:PORT/`, no token), if `up` serves one."""


def build_app(state: ControlState) -> Starlette:
    api = _Api(state)
    drawings = Drawings(state.running)
    routes = [
        Route("/v1/health", api.health, methods=["GET"]),
        Route("/v1/entries", api.entries, methods=["GET"]),
        Route("/v1/entries/{id}", api.entry, methods=["GET"]),
        Route("/v1/entries/{id}/stop", api.stop, methods=["POST"]),
        Route("/v1/entries/{id}/start", api.start, methods=["POST"]),
        Route("/v1/entries/{id}/restart", api.restart, methods=["POST"]),
        Route("/v1/wait", api.wait, methods=["POST"]),
        Route("/v1/output", api.output, methods=["GET"]),
        Route("/v1/events", api.events, methods=["GET"]),
        Route("/v1/graph", drawings.graph, methods=["GET"]),
        Route("/v1/lifecycle", drawings.lifecycle, methods=["GET"]),
        Route("/v1/timeline", drawings.timeline, methods=["GET"]),
        Route("/v1/shutdown", api.shutdown, methods=["POST"]),
        Route("/v1/openapi.json", api.openapi, methods=["GET"]),
    ]
    return Starlette(
        routes=routes,
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            # Answered, then raised on to `RequestGuard`, which reports it.
            Exception: _internal_error,
        },
    )


async def _internal_error(request: Request, error: Exception) -> Response:
    return JSONResponse({"error": f"internal error: {error!r}"}, status_code=500)


async def _api_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiError)
    return JSONResponse({"error": error.message}, status_code=error.status)


async def _http_error(request: Request, error: Exception) -> Response:
    """Starlette's own: no such path (404), a method the path has not (405)."""
    assert isinstance(error, HTTPException)
    if error.status_code == 404:
        message = f"no such endpoint: {request.method} {request.url.path} (see /v1/openapi.json)"
    elif error.status_code == 405:
        message = f"method {request.method} not allowed on {request.url.path}"
    else:
        message = str(error.detail)
    return JSONResponse({"error": message}, status_code=error.status_code, headers=error.headers)


class _Api:
    def __init__(self, state: ControlState) -> None:
        self.state = state
        self.running = state.running

    async def health(self, request: Request) -> Response:
        running = self.running
        statistics = running.statistics()
        if statistics.stopped == len(running.ids) and running.is_terminating:
            status = "stopped"
        else:
            status = "stopping" if running.is_terminating else "running"
        return JSONResponse(
            {
                "status": status,
                "pid": os.getpid(),
                "config": self.state.config,
                "entries": len(running.ids),
                "ready": statistics.ready,
                "uptime": time.monotonic() - self.state.started,
                "web": self.state.web,
            }
        )

    async def entries(self, request: Request) -> Response:
        return JSONResponse({"entries": [self._entry_json(v) for v in self.running.entry_views]})

    async def entry(self, request: Request) -> Response:
        return JSONResponse(self._entry_json(self._view(request)))

    async def stop(self, request: Request) -> Response:
        return await self._act(request, self.running.stop)

    async def start(self, request: Request) -> Response:
        return await self._act(request, self.running.start)

    async def restart(self, request: Request) -> Response:
        return await self._act(request, self.running.restart)

    async def wait(self, request: Request) -> Response:
        body = await read_json(request, default={})
        if not isinstance(body, dict) or set(body) - {"entries", "timeout"}:
            raise ApiError(400, 'the body must be {"entries": [ids], "timeout": seconds or null}')
        ids = body.get("entries") or []
        timeout = body.get("timeout")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ApiError(400, '"entries" must be a list of entry ids')
        if timeout is not None and not _seconds(timeout):
            raise ApiError(400, '"timeout" must be a number of seconds >= 0, or null')
        views = [self._view_of(i) for i in ids] or list(self.running.entry_views)
        running = self.running

        def given_up() -> list[str]:
            stuck = {*running.gave_up, *running.finished}
            return [v.id for v in views if v.id in stuck]

        def settled() -> bool:
            ready = all(v.state is LifecycleState.READY for v in views)
            return ready or running.is_terminating or bool(given_up())

        in_time = await running.wait_until(settled, timeout)
        waiting = [self._entry_json(v) for v in views if v.state is not LifecycleState.READY]
        if not waiting:
            return JSONResponse({"ready": True})
        if not in_time:
            reason = f"timed out after {timeout:g} s"
        elif given_up():
            reason = "; ".join(
                f"{id} gave up (max_restarts reached)"
                if id in running.gave_up
                else f"{id} ended (its restart policy does not run it again)"
                for id in given_up()
            )
        else:
            reason = "the system is shutting down"
        return JSONResponse({"ready": False, "reason": reason, "waiting": waiting})

    async def output(self, request: Request) -> Response:
        query = request.query_params
        entry = query.get("entry")
        if entry is not None:
            self._view_of(entry)
        follow = query_flag(query.get("follow"), "follow")
        lines = _whole(query.get("lines"), "lines")
        if follow:
            default = DEFAULT_FOLLOW_LINES
            follower = self.running.follow_output(entry, lines=default if lines is None else lines)
            return output_stream(follower)
        kept = self.running.output(entry, DEFAULT_LINES if lines is None else lines)
        return JSONResponse({"lines": [output_json(line) for line in kept]})

    async def events(self, request: Request) -> Response:
        query = request.query_params
        follow = query_flag(query.get("follow"), "follow")
        history = query_flag(query.get("history"), "history")
        if follow:
            return self.state.events.stream(self.running, history=history)
        return JSONResponse({"events": [event_json(e) for e in self.running.history]})

    async def shutdown(self, request: Request) -> Response:
        if not self.running.is_terminating:
            self.state.shutdown()
        return JSONResponse({"status": "stopping"}, status_code=202)

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(openapi_document())

    async def _act(self, request: Request, action: Callable[[str], Any]) -> Response:
        view = self._view(request)
        try:
            await action(view.id)
        except SystemTerminatingError as error:
            raise ApiError(409, str(error)) from error
        return JSONResponse(self._entry_json(view))

    def _view(self, request: Request) -> EntryView:
        return self._view_of(request.path_params["id"])

    def _view_of(self, entry_id: str) -> EntryView:
        try:
            self.running.state(entry_id)
        except KeyError as error:
            raise ApiError(404, str(error.args[0]) if error.args else str(error)) from error
        (view,) = (v for v in self.running.entry_views if v.id == entry_id)
        return view

    def _entry_json(self, view: EntryView) -> dict[str, Any]:
        spec, health = view.spec, view.health
        processes = self.state.processes
        since = processes.since.get(view.id)
        return {
            "id": view.id,
            "name": spec.display,
            "kind": spec.kind.value,
            "state": view.state.value,
            "held": view.held,
            "ended": view.id in self.running.finished,
            "health": None
            if health is None
            else {"result": health.result.value, "message": health.message},
            "pid": processes.pid.get(view.id),
            "restarts": view.restarts,
            "uptime": None if since is None else time.monotonic() - since,
            "requires": list(spec.requires),
            "waiting_for": [
                r for r in spec.requires if self.running.state(r) is not LifecycleState.READY
            ],
        }


async def read_json(request: Request, *, default: Any) -> Any:
    """The request's JSON body (`default` if it has none): 413 past `MAX_BODY`,
    408 if it takes longer than `BODY_TIMEOUT`, 400 if it is not JSON."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY:
        raise ApiError(413, f"request body too large (at most {MAX_BODY} bytes)")
    body = bytearray()
    with anyio.move_on_after(BODY_TIMEOUT) as scope:
        try:
            async for chunk in request.stream():
                body += chunk
                if len(body) > MAX_BODY:
                    raise ApiError(413, f"request body too large (at most {MAX_BODY} bytes)")
        except ClientDisconnect:
            # Nobody to answer; not a fault of the server's either.
            raise ApiError(400, "the client went away before its body was read") from None
    if scope.cancelled_caught:
        raise ApiError(408, f"request body not received within {BODY_TIMEOUT:g} s")
    if not body.strip():
        return default
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as error:
        raise ApiError(400, f"the body is not JSON: {error}") from error


def _seconds(value: object) -> bool:
    """Whether `value` is a JSON number of seconds: finite, >= 0."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value) and value >= 0
    except OverflowError:  # an integer too large for a float
        return False


def _whole(text: str | None, name: str) -> int | None:
    if text is None:
        return None
    # Bounded: int() refuses more than 4,300 digits, and no count needs 10.
    if not text.isdigit() or not text.isascii() or len(text) > 9:
        raise ApiError(400, f"{name} must be a whole number from 0 to 999999999, not {text[:20]!r}")
    return int(text)
