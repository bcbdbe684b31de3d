"""A Gantt-style timeline of a recorded run, as SVG text.

Why it is drawn this way:

- Plain SVG written by hand, not graphviz or matplotlib: a timeline is
  rectangles on a grid, so a drawing library would be a dependency for nothing,
  while text can be diffed, parsed in tests and opened anywhere (a browser, a
  notebook through `_repr_svg_`, the docs).
- The same events always give the same bytes: coordinates are rounded to
  0.1 px and everything is drawn in event order, so a drawing can be a snapshot.
- Time 0 is the first event: `at` is the event loop's monotonic clock, whose
  origin means nothing.
- A band ends when the state changes. Internal transitions (`signal`,
  `give_up`) keep the state; what they do to processes shows as marks.
- A band that lasts no time (several transitions at one instant, as under a
  mock clock) is still drawn, zero wide: it keeps its state and tooltip.
- State colours come from `_palette`, shared with the other drawings, so a
  state looks the same everywhere; marks differ by shape, not only by colour.
- 16 px lanes and a label column capped at 24 characters keep 50 entries
  readable at about 900 px high; the detail lives in `<title>` tooltips.
- Classes and `data-` attributes (`lane`, `band`, `state-*`, `mark`) are stable,
  for tests and for styling.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax import saxutils

from coordinator import (
    Event,
    HealthReported,
    ProcessExited,
    ProcessSignalled,
    ProcessSpawned,
    Transitioned,
)
from statemachines import LifecycleState

from ._palette import STATE_COLOURS
from ._timeline_png import timeline_png

__all__ = ["Timeline", "timeline", "timeline_svg"]

_MARKS: dict[str, str] = {
    "spawn": "spawn",
    "sigterm": "SIGTERM",
    "sigkill": "SIGKILL / abandon",
    "cancel": "cancel",
    "exit-clean": "exit (clean)",
    "exit-crash": "exit (crash)",
}
_LAYERS = {"spawn": 0, "sigterm": 1, "sigkill": 1, "cancel": 1, "exit-clean": 2, "exit-crash": 2}
_INK, _CRASH = "#1a1a1a", "#b2182b"
_MARGIN, _LANE, _BAND, _CHAR, _LABEL_CAP = 8.0, 16.0, 12.0, 6.5, 24
_TITLE_H, _AXIS_H, _LEGEND_ROW, _RIGHT = 24.0, 30.0, 18.0, 24.0


@dataclass(frozen=True)
class Timeline:
    """A drawn timeline: shows itself in a notebook and saves as `.svg` or `.png`."""

    svg: str

    def _repr_svg_(self) -> str:
        return self.svg

    def png(self) -> bytes:
        """Rendered by the Graphviz renderer of the other diagrams (see `render`)."""
        return timeline_png(self.svg)

    def save(self, path: str | Path) -> None:
        """Write an `.svg` file, or a `.png` one."""
        target = Path(path)
        suffix = target.suffix.lower()
        if suffix == ".png":
            target.write_bytes(self.png())
        elif suffix == ".svg":
            target.write_text(self.svg, encoding="utf-8")
        else:
            raise ValueError(f"{target}: a timeline is saved as .svg or .png")


def timeline(
    events: Iterable[Event],
    *,
    title: str | None = None,
    width: int = 1200,
    start: float | None = None,
    end: float | None = None,
) -> Timeline:
    """The timeline of a run (see `timeline_svg`), for notebooks and files."""
    return Timeline(timeline_svg(events, title=title, width=width, start=start, end=end))


@dataclass
class _Band:
    state: LifecycleState
    start: float
    end: float | None = None
    health: str | None = None


@dataclass
class _Lane:
    entry: str
    bands: list[_Band] = field(default_factory=lambda: [_Band(LifecycleState.WAITING, 0.0)])
    marks: list[tuple[float, str, str]] = field(default_factory=list)  # (t, kind, tooltip)


# What XML 1.0 cannot hold at all, even escaped: most C0 controls, lone surrogates.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def escape(text: str) -> str:
    """Text for an element, with what XML cannot hold shown as U+FFFD (a record may hold it)."""
    return saxutils.escape(_NOT_XML.sub("\ufffd", text))


def quoteattr(text: str) -> str:
    return saxutils.quoteattr(_NOT_XML.sub("\ufffd", text))


def _n(value: float) -> str:
    text = f"{value:.1f}".removesuffix(".0")
    return "0" if text == "-0" else text


def _s(seconds: float) -> str:
    return f"{seconds:.3f}"


def _pid(pid: int | None) -> str:
    return f" (pid {pid})" if pid is not None else " (in-process)"


def _signal_kind(signal: str) -> str:
    """`abandon` (an in-process function given up on) is the SIGKILL of `cancel`;
    `SIGKILL (not permitted)` was still meant as a kill."""
    if signal == "cancel":
        return "cancel"
    return "sigkill" if signal.startswith("SIGKILL") or signal == "abandon" else "sigterm"


def _read(events: list[Event], t0: float) -> dict[str, _Lane]:
    lanes: dict[str, _Lane] = {}
    for event in events:
        if event.entry is None:
            continue
        lane = lanes.setdefault(event.entry, _Lane(event.entry))
        t, who = event.at - t0, f"{event.entry}: "
        match event:
            case Transitioned(source=source, dest=dest) if source is not dest:
                lane.bands[-1].end = t
                lane.bands.append(_Band(dest, t))
            case HealthReported(message=str(message)):
                lane.bands[-1].health = f"{event.result.value}: {message}"
            case ProcessSpawned(pid=pid):
                lane.marks.append((t, "spawn", f"{who}spawned{_pid(pid)} at {_s(t)} s"))
            case ProcessSignalled(pid=pid, signal=signal):
                tip = f"{who}{signal}{_pid(pid)} at {_s(t)} s"
                lane.marks.append((t, _signal_kind(signal), tip))
            case ProcessExited(pid=pid, clean=clean, description=description):
                how = "clean" if clean else "crash"
                tip = f"{who}exited ({how}){_pid(pid)} at {_s(t)} s: {description}"
                lane.marks.append((t, f"exit-{how}", tip))
    return lanes


def _ticks(low: float, high: float) -> list[tuple[float, str]]:
    """5 to 10 ticks from `low` to `high`, at multiples of 1, 2 or 5 x 10^k."""
    span = high - low
    k = 10.0 ** math.floor(math.log10(span / 10))
    step = next(m * k for m in (2, 5, 10, 20) if span / (m * k) < 10)
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    first, last = math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9)
    return [(i * step, f"{i * step:.{decimals}f}") for i in range(first, last + 1)]


def _mark(kind: str, x: float, cy: float, cls: str, tip: str | None) -> str:
    """One mark's shape, centred on (x, cy), with its tooltip if any."""
    a, title = f"class={quoteattr(cls)}", f"<title>{escape(tip)}</title>" if tip else ""
    if kind.startswith("exit"):
        paint = f'fill="{_INK}" stroke="#ffffff" stroke-width="0.5"'
        if kind == "exit-crash":
            paint = f'fill="#ffffff" stroke="{_CRASH}" stroke-width="1.5"'
        return f'<circle {a} cx="{_n(x)}" cy="{_n(cy)}" r="3.5" {paint}>{title}</circle>'
    if kind == "sigkill":  # a cross
        d = f"M{_n(x - 4)} {_n(cy - 4)}l8 8m0 -8l-8 8"
        return f'<path {a} d="{d}" stroke="{_CRASH}" stroke-width="2" fill="none">{title}</path>'
    dy = -4.5 if kind == "spawn" else 4.5  # spawn points up, the requests to stop down
    fill = "#ffffff" if kind == "cancel" else _INK
    d = f"M{_n(x)} {_n(cy + dy)}l-4 {_n(-2 * dy)}h8z"
    return f'<path {a} d="{d}" fill="{fill}" stroke="{_INK}">{title}</path>'


def _legend(y: float, width: int) -> tuple[list[str], float]:
    """The legend as rows of items that wrap at `width`, and its height."""
    items = [("state", s.value, s.value) for s in LifecycleState]
    items += [("mark", kind, label) for kind, label in _MARKS.items()]
    out, x, row = ['<g class="legend">'], _MARGIN, 0
    for what, key, label in items:
        item_w = 32 + len(label) * _CHAR
        if x + item_w > width - _MARGIN and x > _MARGIN:
            x, row = _MARGIN, row + 1
        cy = y + (row + 0.5) * _LEGEND_ROW
        swatch = _mark(key, x + 7, cy, "legend-mark " + key, None)
        if what == "state":
            colour = STATE_COLOURS[LifecycleState(key)]
            swatch = f'<rect x="{_n(x)}" y="{_n(cy - 6)}" width="14" height="12" fill="{colour}"/>'
        out.append(
            f'<g class="legend-item" data-{what}="{key}">{swatch}'
            f'<text x="{_n(x + 18)}" y="{_n(cy + 4)}">{escape(label)}</text></g>'
        )
        x += item_w
    return [*out, "</g>"], (row + 1) * _LEGEND_ROW


@dataclass(frozen=True)
class _Window:
    """The seconds drawn, and where they go: `x_of(low)` is the left edge."""

    low: float
    high: float
    x0: float
    px_per_s: float

    def x_of(self, t: float) -> float:
        return self.x0 + (t - self.low) * self.px_per_s


def _lane(lane: _Lane, y: float, window: _Window, span: float) -> list[str]:
    entry, cy, x_of = lane.entry, y + _LANE / 2, window.x_of
    short = entry if len(entry) <= _LABEL_CAP else entry[: _LABEL_CAP - 1] + "\u2026"
    out = [
        f'<g class="lane" data-entry={quoteattr(entry)}>',
        f'<g class="label"><title>{escape(entry)}</title><text x="{_n(window.x0 - 6)}" '
        f'y="{_n(cy + 4)}" text-anchor="end">{escape(short)}</text></g>',
    ]
    for band in lane.bands:
        end = span if band.end is None else band.end
        if end < window.low or band.start > window.high:
            continue
        tip = f"{entry}: {band.state.value} from {_s(band.start)} to {_s(end)} s"
        tip += f"\nlast health: {band.health}" if band.health else ""
        left, state = x_of(max(band.start, window.low)), band.state.value
        right = x_of(min(end, window.high))
        out.append(
            f'<rect class="band state-{state}" data-state="{state}" x="{_n(left)}" '
            f'y="{_n(cy - _BAND / 2)}" width="{_n(max(right - left, 0))}" height="{_n(_BAND)}" '
            f'fill="{STATE_COLOURS[band.state]}"><title>{escape(tip)}</title></rect>'
        )
    marks = sorted(lane.marks, key=lambda m: _LAYERS[m[1]])  # exits last, on top of a respawn
    out.extend(
        _mark(kind, x_of(t), cy, f"mark {kind}", tip)
        for t, kind, tip in marks
        if window.low <= t <= window.high
    )
    return [*out, "</g>"]


def _axis(top: float, y: float, window: _Window) -> list[str]:
    """The time axis under the lanes at `y`, its gridlines reaching up to `top`."""
    x_of = window.x_of
    left, right = _n(x_of(window.low)), _n(x_of(window.high))
    out = [
        f'<g class="axis"><line x1="{left}" y1="{_n(y + 2)}" x2="{right}" y2="{_n(y + 2)}" '
        f'stroke="{_INK}"/>'
    ]
    for t, text in _ticks(window.low, window.high):
        x = _n(x_of(t))
        out.append(
            f'<g class="tick" data-t="{text}"><line x1="{x}" y1="{_n(top)}" x2="{x}" '
            f'y2="{_n(y + 6)}" stroke="{_INK}" stroke-opacity="0.15"/>'
            f'<text x="{x}" y="{_n(y + 18)}" text-anchor="middle">{text} s</text></g>'
        )
    return [*out, "</g>"]


def timeline_svg(
    events: Iterable[Event],
    *,
    title: str | None = None,
    width: int = 1200,
    start: float | None = None,
    end: float | None = None,
    now: float | None = None,
) -> str:
    """A Gantt-style SVG of a recorded run: one lane per entry (in order of
    first appearance), a band per state, marks for spawns, signals and exits,
    a time axis in seconds from the first event, and a legend.

    `start` and `end` (seconds from the first event) draw only that window,
    so that a long run's short events can be seen; bands are cut at its edges.
    `now` (seconds from the first event), for a run still going: the drawing
    reaches that moment, not only the last event, so the states entries are
    in now show as bands, not as slivers at the right edge.
    """
    if width < 300:
        raise ValueError(f"width must be at least 300 px, not {width}")
    recorded = list(events)
    body: list[str] = []
    y = _MARGIN
    if title is not None:
        body.append(
            f'<text class="title" x="{_n(_MARGIN)}" y="{_n(y + 15)}" font-size="15" '
            f'font-weight="bold">{escape(title)}</text>'
        )
        y += _TITLE_H
    if not recorded:
        body.append(f'<text class="empty" x="{_n(_MARGIN)}" y="{_n(y + 14)}">no events</text>')
        return _document(body, width, y + 24)
    t0 = min(e.at for e in recorded)
    span = max(e.at for e in recorded) - t0
    if now is not None:
        span = max(span, now)
    if not math.isfinite(span):
        raise ValueError("the events span more time than can be drawn")
    low, high = _window(start, end, span)
    lanes = _read(recorded, t0)
    label_w = min(max((len(entry) for entry in lanes), default=1), _LABEL_CAP) * _CHAR + 12
    # A window shorter than a microsecond is drawn as an instant, on a 1 s axis.
    drawn = high - low if high - low >= 1e-6 else 0.0
    x0 = _MARGIN + label_w
    window = _Window(low, low + (drawn or 1.0), x0, (width - x0 - _RIGHT) / (drawn or 1.0))
    top = y
    for lane in lanes.values():
        body.extend(_lane(lane, y, _Window(low, low + drawn, x0, window.px_per_s), span))
        y += _LANE
    body.extend(_axis(top, y, window))  # an instantaneous run still gets an axis
    legend, legend_h = _legend(y + _AXIS_H, width)
    return _document([*body, *legend], width, y + _AXIS_H + legend_h + _MARGIN)


def _window(start: float | None, end: float | None, span: float) -> tuple[float, float]:
    """The seconds to draw; an `end` past the last event is cut to it."""
    for name, value in (("start", start), ("end", end)):
        if value is not None and not (
            isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
        ):
            raise ValueError(f"{name} must be a number of seconds >= 0, not {value!r}")
    if start is not None and end is not None and not start < end:
        raise ValueError(f"start ({start} s) must come before end ({end} s)")
    low = 0.0 if start is None else start
    high = span if end is None else min(end, span)
    if low > span:
        raise ValueError(f"the window starts at {low:g} s, after the last event ({span:.3f} s)")
    return low, high


def _document(body: list[str], width: int, height: float) -> str:
    h = math.ceil(height)
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" '
        f'viewBox="0 0 {width} {h}" font-family="sans-serif" font-size="11">'
    )
    background = '<rect class="background" width="100%" height="100%" fill="#ffffff"/>'
    return "\n".join([head, background, *body, "</svg>"]) + "\n"
