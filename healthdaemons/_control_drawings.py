"""The drawings of the control API: the system graph (`/v1/graph`), the
lifecycle of a kind of entry (`/v1/lifecycle`) and the run so far
(`/v1/timeline`), which the web console shows.

Drawing takes a while (Graphviz runs as a program; a timeline of thousands
of events is long to lay out), so it happens in a worker thread, never on
the event loop that supervises, and one drawing of each sort at a time.
What does not change is drawn once: the lifecycles, and the graph without
its states; a timeline is kept until the next event.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import anyio
from starlette.requests import Request
from starlette.responses import Response

from coordinator import RunningDaemons
from statemachines import EntryKind, LifecycleState
from viz import RendererNotFound, RenderError, lifecycle_dot, render, system_dot, timeline_svg

from ._control_errors import ApiError, query_flag

__all__ = ["MAX_WIDTH", "MIN_WIDTH", "Drawings"]

MIN_WIDTH = 300
MAX_WIDTH = 20000
"""Pixels a timeline may be asked to be wide (the bounds `timeline_svg` can draw sensibly)."""
DEFAULT_WIDTH = 1200
_TIMELINES_KEPT = 8
"""Timelines kept: a page, or a few, asking for the same window after each event."""

_SVG = "image/svg+xml"


class Drawings:
    """The handlers of the three drawings of one running system."""

    def __init__(self, running: RunningDaemons) -> None:
        self.running = running
        self._stateless_graph: bytes | None = None
        self._lifecycles: dict[tuple[EntryKind, LifecycleState | None], bytes] = {}
        self._timelines: OrderedDict[tuple[int, float | None, float | None, int], bytes] = (
            OrderedDict()
        )
        self._graphing = anyio.Lock()
        self._drawing_lifecycle = anyio.Lock()
        self._drawing_timeline = anyio.Lock()

    async def graph(self, request: Request) -> Response:
        query = request.query_params
        form = query.get("format", "dot")
        if form not in ("dot", "svg"):
            raise ApiError(400, f"format must be dot or svg, not {form[:20]!r}")
        states = query_flag(query.get("states"), "states", default=True)
        dot = system_dot(self.running, states=states)
        if form == "dot":
            return Response(dot, media_type="text/vnd.graphviz")
        if states:
            async with self._graphing:
                return Response(await _rendered(dot), media_type=_SVG)
        # The same entries for the whole run: drawn once.
        async with self._graphing:
            if self._stateless_graph is None:
                self._stateless_graph = await _rendered(dot)
        return Response(self._stateless_graph, media_type=_SVG)

    async def lifecycle(self, request: Request) -> Response:
        query = request.query_params
        kind_text = query.get("kind")
        kinds = ", ".join(k.value for k in EntryKind)
        try:
            kind = EntryKind(kind_text)
        except ValueError:
            given = "none" if kind_text is None else repr(kind_text[:20])
            raise ApiError(400, f"kind must be one of {kinds}, not {given}") from None
        current_text = query.get("current")
        current = None
        if current_text is not None:
            try:
                current = LifecycleState(current_text)
            except ValueError:
                states = ", ".join(s.value for s in LifecycleState)
                raise ApiError(
                    400, f"current must be one of {states}, not {current_text[:20]!r}"
                ) from None
        key = (kind, current)
        async with self._drawing_lifecycle:
            if key not in self._lifecycles:
                self._lifecycles[key] = await _rendered(lifecycle_dot(kind, current=current))
        return Response(self._lifecycles[key], media_type=_SVG)

    async def timeline(self, request: Request) -> Response:
        query = request.query_params
        start = _seconds(query.get("start"), "start")
        end = _seconds(query.get("end"), "end")
        if start is not None and end is not None and not start < end:
            raise ApiError(400, f"start ({start:g} s) must come before end ({end:g} s)")
        width = _width(query.get("width"))
        async with self._drawing_timeline:
            # The count of events recorded so far says whether the run has changed.
            key = (self.running.statistics().events, start, end, width)
            svg = self._timelines.get(key)
            if svg is None:
                events = list(self.running.history)

                def draw() -> bytes:
                    return timeline_svg(events, width=width, start=start, end=end).encode()

                try:
                    svg = await anyio.to_thread.run_sync(draw)
                except ValueError as error:  # a window that starts after the last event
                    raise ApiError(400, str(error)) from error
                self._timelines[key] = svg
                while len(self._timelines) > _TIMELINES_KEPT:
                    self._timelines.popitem(last=False)
            else:
                self._timelines.move_to_end(key)
        return Response(svg, media_type=_SVG)


async def _rendered(dot: str) -> bytes:
    try:
        return await anyio.to_thread.run_sync(render, dot, "svg")
    except RendererNotFound as error:
        raise ApiError(503, str(error)) from error
    except RenderError as error:
        raise ApiError(500, str(error)) from error


def _seconds(text: str | None, name: str) -> float | None:
    if text is None:
        return None
    try:
        value = float(text) if len(text) <= 32 else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise ApiError(400, f"{name} must be a number of seconds >= 0, not {text[:20]!r}")
    return value


def _width(text: str | None) -> int:
    if text is None:
        return DEFAULT_WIDTH
    # Bounded: no width needs more than 6 digits.
    value = int(text) if text.isdigit() and text.isascii() and len(text) <= 6 else -1
    if not MIN_WIDTH <= value <= MAX_WIDTH:
        raise ApiError(
            400,
            f"width must be a whole number of pixels from {MIN_WIDTH} to {MAX_WIDTH}, "
            f"not {text[:20]!r}",
        )
    return value
