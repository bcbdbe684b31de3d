"""The timeline SVG of a recorded run: lanes, bands, marks, axis and legend."""

from __future__ import annotations

import itertools
import math
import re
import struct
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

import anyio
import pytest

from coordinator import (
    Daemons,
    ErrorReported,
    Event,
    ExecFn,
    HealthReported,
    HealthStatus,
    ProcessExited,
    ProcessSignalled,
    ProcessSpawned,
    Ready,
    Transitioned,
    dump_events,
    load_events,
)
from healthdaemons import main
from statemachines import LifecycleEvent, LifecycleState
from viz._timeline import Timeline, timeline, timeline_svg
from viz._timeline_png import svg_to_dot

from ..support import Switch, finishes, forever

NS = "{http://www.w3.org/2000/svg}"
STATES = [s.value for s in LifecycleState]
S = LifecycleState
E = LifecycleEvent


# Reading the drawing


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg"
    width, height = root.get("width"), root.get("height")
    assert root.get("viewBox") == f"0 0 {width} {height}"
    assert root.get("font-family") == "sans-serif"
    return root


def classes(element: ET.Element) -> list[str]:
    return (element.get("class") or "").split()


def lanes(root: ET.Element) -> dict[str, ET.Element]:
    return {str(g.get("data-entry")): g for g in root.iter(f"{NS}g") if classes(g) == ["lane"]}


def bands(lane: ET.Element) -> list[ET.Element]:
    return [r for r in lane.iter(f"{NS}rect") if "band" in classes(r)]


def band_states(lane: ET.Element) -> list[str]:
    return [str(r.get("data-state")) for r in bands(lane)]


def marks(lane: ET.Element) -> list[str]:
    """The kind of each mark, sorted (the drawing puts exits on top, not in time order)."""
    return sorted(classes(el)[1] for el in lane.iter() if classes(el)[:1] == ["mark"])


def tooltip(element: ET.Element) -> str:
    title = element.find(f"{NS}title")
    assert title is not None
    return title.text or ""


def ticks(root: ET.Element) -> list[float]:
    return [float(str(g.get("data-t"))) for g in root.iter(f"{NS}g") if classes(g) == ["tick"]]


def legend(root: ET.Element, what: str) -> list[str]:
    return [str(g.get(f"data-{what}")) for g in root.iter(f"{NS}g") if g.get(f"data-{what}")]


# What the drawing should show, read from the events


def entries_in_order(history: Sequence[Event]) -> list[str]:
    return list(dict.fromkeys(e.entry for e in history if e.entry is not None))


def states_of(history: Sequence[Event], entry: str) -> list[str]:
    return ["waiting"] + [
        e.dest.value
        for e in history
        if isinstance(e, Transitioned) and e.entry == entry and e.source is not e.dest
    ]


def marks_of(history: Sequence[Event], entry: str) -> list[str]:
    found: list[str] = []
    for e in history:
        if e.entry != entry:
            continue
        if isinstance(e, ProcessSpawned):
            found.append("spawn")
        elif isinstance(e, ProcessSignalled):
            found.append("sigkill" if e.signal == "abandon" else e.signal.lower())
        elif isinstance(e, ProcessExited):
            found.append("exit-clean" if e.clean else "exit-crash")
    return sorted(found)


def check_matches(history: Sequence[Event], svg: str) -> ET.Element:
    root = parse(svg)
    drawn = lanes(root)
    assert list(drawn) == entries_in_order(history)
    for entry, lane in drawn.items():
        assert band_states(lane) == states_of(history, entry), entry
        assert marks(lane) == marks_of(history, entry), entry
    return root


# Recorded runs


async def test_a_run_has_a_lane_per_entry_with_its_states_and_process_marks() -> None:
    system = (
        Daemons.of()
        .add_daemon("db", exec=forever(), ready=Ready("Database", Switch()))
        .add_oneshot("migrate", exec=finishes(0.1), requires=["db"])
        .add_daemon("web", exec=forever(), ready=Ready("Web", Switch()), requires=["migrate"])
        .add_health_check("edge", ready=Ready("Edge", Switch()), requires=["web"])
    )
    async with system.build() as running:
        await running.wait_ready(timeout=10)
    history = running.history
    root = check_matches(history, timeline_svg(history, title="demo"))
    drawn = lanes(root)
    assert set(drawn) == {"db", "migrate", "web", "edge"}
    for entry in ("db", "web"):
        assert band_states(drawn[entry]) == [*STATES[:3], "stopping", "stopped"]
        assert marks(drawn[entry]) == ["cancel", "exit-clean", "spawn"]
    assert marks(drawn["migrate"]) == ["exit-clean", "spawn"]
    assert marks(drawn["edge"]) == []
    assert len(ticks(root)) >= 5
    assert legend(root, "state") == STATES
    assert legend(root, "mark") == [
        "spawn",
        "sigterm",
        "sigkill",
        "cancel",
        "exit-clean",
        "exit-crash",
    ]
    title = root.find(f"{NS}text[@class='title']")
    assert title is not None
    assert title.text == "demo"


async def test_a_crash_shows_as_a_hollow_exit_and_a_failing_band() -> None:
    async def crash(_: object) -> None:
        await anyio.sleep(0.1)
        raise RuntimeError("boom")

    system = Daemons.of().add_daemon(
        "bad", exec=ExecFn(crash), ready=Ready("Bad", Switch()), max_restarts=0
    )
    async with system.build() as running:
        gave_up = await running.wait_until(
            lambda: any(
                isinstance(e, Transitioned) and e.event is E.GIVE_UP for e in running.history
            ),
            timeout=10,
        )
        assert gave_up
    history = running.history
    root = check_matches(history, timeline_svg(history))
    lane = lanes(root)["bad"]
    assert "failing" in band_states(lane)
    crash_marks = [el for el in lane.iter() if classes(el) == ["mark", "exit-crash"]]
    assert len(crash_marks) == 1
    assert "RuntimeError: boom" in tooltip(crash_marks[0])
    assert crash_marks[0].get("fill") == "#ffffff"  # hollow


async def test_an_abandoned_function_is_marked_like_a_kill() -> None:
    """`abandon` is what an in-process function gets instead of SIGKILL."""
    system = Daemons.of().add_daemon(
        "stubborn", exec=forever(0.3, sigterm_timeout=0.05), ready=Ready("S", Switch())
    )
    async with system.build() as running:
        await running.wait_ready(timeout=10)
    history = running.history
    assert [e.signal for e in history if isinstance(e, ProcessSignalled)] == ["cancel", "abandon"]
    root = check_matches(history, timeline_svg(history))
    lane_marks = marks(lanes(root)["stubborn"])
    assert "cancel" in lane_marks
    assert "sigkill" in lane_marks


async def test_fifty_entries_fit_in_a_readable_height() -> None:
    ids = [f"service-{i:02}" for i in range(50)]
    system = Daemons.of()
    for i, entry in enumerate(ids):
        system = system.add_daemon(
            entry, exec=forever(), ready=Ready(entry, Switch()), requires=ids[i - 1 : i]
        )
    async with system.build() as running:
        await running.wait_ready(timeout=30)
    history = running.history
    root = check_matches(history, timeline_svg(history))
    assert list(lanes(root)) == ids
    assert float(str(root.get("height"))) < 1100
    for lane in lanes(root).values():
        assert band_states(lane) == [*STATES[:3], "stopping", "stopped"]


async def test_a_recording_read_back_gives_the_same_drawing(tmp_path: Path) -> None:
    system = (
        Daemons.of()
        .add_daemon("db", exec=forever(), ready=Ready("Database", Switch(message="up")))
        .add_oneshot("migrate", exec=finishes(0.05, fail_times=1), requires=["db"])
    )
    async with system.build() as running:
        await running.wait_ready(timeout=10)
    path = tmp_path / "run.jsonl"
    dump_events(running.history, path)
    svg = timeline_svg(running.history, title="run")
    assert timeline_svg(load_events(path), title="run") == svg
    assert timeline_svg(running.history, title="run") == svg
    check_matches(running.history, svg)


async def test_odd_characters_in_health_messages_and_titles_stay_valid_xml() -> None:
    odd = "<&>\"' ]]> \u00e9"
    system = Daemons.of().add_daemon("db", exec=forever(), ready=Ready("DB", Switch(message=odd)))
    async with system.build() as running:
        await running.wait_ready(timeout=10)
    root = check_matches(running.history, timeline_svg(running.history, title=odd))
    tips = [tooltip(band) for band in bands(lanes(root)["db"])]
    assert any(tip.endswith(f"last health: success: {odd}") for tip in tips)
    title = root.find(f"{NS}text[@class='title']")
    assert title is not None
    assert title.text == odd


# Hand-made recordings: exact times, real signals


def transition(at: float, entry: str, event: E, source: S, dest: S) -> Transitioned:
    return Transitioned(at, entry, event, source, dest, step=0)


def command_run(start: float = 1000.0) -> list[Event]:
    """A command entry that starts, is ready, ignores SIGTERM and is killed."""
    t = start
    return [
        transition(t, "api", E.LAUNCH, S.WAITING, S.STARTING),
        ProcessSpawned(t, "api", 4242),
        HealthReported(t + 1, "api", "API", HealthStatus.STARTING, "warming up"),
        HealthReported(t + 2, "api", "API", HealthStatus.SUCCESS, "listening"),
        transition(t + 2, "api", E.HEALTHY, S.STARTING, S.READY),
        transition(t + 6, "api", E.TERM, S.READY, S.STOPPING),
        transition(t + 6, "api", E.SIGNAL, S.STOPPING, S.STOPPING),
        ProcessSignalled(t + 6, "api", 4242, "SIGTERM"),
        ProcessSignalled(t + 8, "api", 4242, "SIGKILL"),
        ProcessExited(t + 8, "api", 4242, -9, True, "signal SIGKILL"),
        transition(t + 8, "api", E.GONE, S.STOPPING, S.STOPPED),
        HealthReported(t + 10, "late", None, HealthStatus.WAITING, None),
    ]


def test_bands_run_from_transition_to_transition_from_the_first_event() -> None:
    history = command_run()
    root = check_matches(history, timeline_svg(history))
    lane = lanes(root)["late"]
    assert band_states(lane) == ["waiting"]
    assert tooltip(bands(lane)[0]) == "late: waiting from 0.000 to 10.000 s"
    api = bands(lanes(root)["api"])
    assert [tooltip(b) for b in api] == [
        "api: waiting from 0.000 to 0.000 s",
        "api: starting from 0.000 to 2.000 s\nlast health: success: listening",
        "api: ready from 2.000 to 6.000 s",
        "api: stopping from 6.000 to 8.000 s",  # the internal `signal` does not split it
        "api: stopped from 8.000 to 10.000 s",
    ]
    xs = [(float(str(b.get("x"))), float(str(b.get("width")))) for b in api]
    for (x, w), (next_x, _) in itertools.pairwise(xs):
        assert math.isclose(x + w, next_x, abs_tol=0.15)
    axis = root.find(f"{NS}g[@class='axis']/{NS}line")
    assert axis is not None
    assert math.isclose(xs[-1][0] + xs[-1][1], float(str(axis.get("x2"))), abs_tol=0.15)
    assert math.isclose(xs[2][1] / xs[4][1], 2.0, rel_tol=0.01)  # 4 s of ready, 2 s stopped
    assert ticks(root) == [0, 2, 4, 6, 8, 10]


def test_signals_and_exits_of_a_command_have_their_own_marks_and_tooltips() -> None:
    root = parse(timeline_svg(command_run()))
    lane = lanes(root)["api"]
    assert marks(lane) == ["exit-clean", "sigkill", "sigterm", "spawn"]
    tips = {classes(el)[1]: tooltip(el) for el in lane.iter() if classes(el)[:1] == ["mark"]}
    assert tips["spawn"] == "api: spawned (pid 4242) at 0.000 s"
    assert tips["sigterm"] == "api: SIGTERM (pid 4242) at 6.000 s"
    assert tips["sigkill"] == "api: SIGKILL (pid 4242) at 8.000 s"
    assert tips["exit-clean"] == "api: exited (clean) (pid 4242) at 8.000 s: signal SIGKILL"


@pytest.mark.parametrize(
    "span", [0.0, 0.003, 0.7, 1.0, 7.3, 10.0, 19.0, 23.0, 42.0, 95.0, 999.0, 86400.0]
)
def test_the_axis_has_five_to_ten_nice_ticks(span: float) -> None:
    history = [HealthReported(5.0, "a", None, HealthStatus.WAITING, None)]
    history.append(HealthReported(5.0 + span, "a", None, HealthStatus.WAITING, None))
    found = ticks(parse(timeline_svg(history)))
    assert 5 <= len(found) <= 10
    assert found[0] == 0
    assert found[-1] <= max(span, 1.0) + 1e-9
    step = found[1] - found[0]
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert any(math.isclose(mantissa, m) for m in (1, 2, 5)), step
    assert all(math.isclose(b - a, step) for a, b in itertools.pairwise(found))


def test_long_ids_are_cut_in_the_label_but_whole_in_its_tooltip() -> None:
    long_id = "a-very-long-entry-identifier-that-goes-on-and-on"
    history = [HealthReported(0.0, long_id, None, HealthStatus.WAITING, None)]
    root = parse(timeline_svg(history))
    label = lanes(root)[long_id].find(f"{NS}g[@class='label']")
    assert label is not None
    assert tooltip(label) == long_id
    text = label.find(f"{NS}text")
    assert text is not None
    assert text.text == long_id[:23] + "\u2026"


def test_no_events_is_a_small_valid_drawing() -> None:
    root = parse(timeline_svg([]))
    assert "no events" in "".join(root.itertext())
    assert lanes(root) == {}
    assert float(str(root.get("height"))) < 100
    assert "no events" in "".join(parse(timeline_svg([], title="nothing")).itertext())


def test_events_of_no_entry_draw_no_lane() -> None:
    history = [ErrorReported(3.0, None, "the host raised"), ErrorReported(4.5, None, "again")]
    root = parse(timeline_svg(history))
    assert lanes(root) == {}
    assert ticks(root)[0] == 0


def test_the_timeline_object_shows_itself_and_saves(tmp_path: Path) -> None:
    history = command_run()
    drawn = timeline(history, title="api", width=800)
    assert isinstance(drawn, Timeline)
    assert drawn.svg == timeline_svg(history, title="api", width=800)
    assert drawn._repr_svg_() == drawn.svg
    assert parse(drawn.svg).get("width") == "800"
    drawn.save(tmp_path / "run.svg")
    assert (tmp_path / "run.svg").read_text(encoding="utf-8") == drawn.svg


def test_a_width_too_small_to_draw_in_is_refused() -> None:
    with pytest.raises(ValueError, match="width"):
        timeline_svg(command_run(), width=100)


# A window of the run (issue 11, item 17)


def test_a_window_cuts_the_bands_at_its_edges_and_keeps_only_its_marks() -> None:
    history = command_run()
    root = parse(timeline_svg(history, start=5.0, end=9.0))
    api = lanes(root)["api"]
    assert band_states(api) == ["ready", "stopping", "stopped"]
    assert marks(api) == ["exit-clean", "sigkill", "sigterm"]  # the spawn at 0 s is outside
    # Tooltips keep the whole band; the rectangles fill the window exactly.
    assert tooltip(bands(api)[0]) == "api: ready from 2.000 to 6.000 s"
    axis = root.find(f"{NS}g[@class='axis']/{NS}line")
    assert axis is not None
    left, right = float(str(axis.get("x1"))), float(str(axis.get("x2")))
    xs = [(float(str(b.get("x"))), float(str(b.get("width")))) for b in bands(api)]
    assert math.isclose(xs[0][0], left, abs_tol=0.15)
    assert math.isclose(xs[-1][0] + xs[-1][1], right, abs_tol=0.15)
    assert math.isclose(xs[0][1] * 2, xs[1][1], rel_tol=0.01)  # 1 s ready, 2 s stopping
    assert ticks(root)[0] >= 5.0
    assert ticks(root)[-1] <= 9.0
    assert band_states(lanes(root)["late"]) == ["waiting"]


def test_a_window_past_the_end_is_cut_to_the_last_event() -> None:
    history = command_run()
    assert timeline_svg(history, start=0, end=1e6) == timeline_svg(history)


def test_a_run_still_going_is_drawn_up_to_now() -> None:
    """The web console draws the run so far: the states entries are in now
    reach the present, however long ago their last event was."""
    history = command_run()
    span = max(e.at for e in history) - min(e.at for e in history)
    root = parse(timeline_svg(history, now=span + 10))
    last = bands(lanes(root)["api"])[-1]
    assert tooltip(last).endswith(f"to {span + 10:.3f} s")
    assert ticks(root)[-1] > span
    # A moment before the last event changes nothing.
    assert timeline_svg(history, now=span / 2) == timeline_svg(history)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (5.0, 5.0, "start (5.0 s) must come before end (5.0 s)"),
        (6.0, 2.0, "start (6.0 s) must come before end (2.0 s)"),
        (-1.0, None, "start must be a number of seconds >= 0, not -1.0"),
        (float("nan"), None, "start must be a number of seconds >= 0, not nan"),
        (None, "3", "end must be a number of seconds >= 0, not '3'"),
        (11.0, None, "the window starts at 11 s, after the last event (10.000 s)"),
    ],
)
def test_a_bad_window_is_refused(start: object, end: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        timeline_svg(command_run(), start=start, end=end)  # type: ignore[arg-type]


def test_events_too_far_apart_to_draw_are_a_value_error() -> None:
    history = [ErrorReported(-1e308, "a", "x"), ErrorReported(1e308, "a", "y")]
    with pytest.raises(ValueError, match="span more time than can be drawn"):
        timeline_svg(history)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--from", "3", "--to", "1"], "--from (3 s) must come before --to (1 s)"),
        (["--from", "-1"], "argument --from: must be a number of seconds >= 0, not '-1'"),
        (["--to", "soon"], "argument --to: not a number of seconds: 'soon'"),
        (["--to", "inf"], "argument --to: must be a number of seconds >= 0, not 'inf'"),
        (["--from", "50"], "the window starts at 50 s, after the last event (10.000 s)"),
    ],
)
@pytest.mark.parametrize("command", ["timeline", "events"])
def test_the_command_line_window_is_checked(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
    command: str,
) -> None:
    record = tmp_path / "run.jsonl"
    dump_events(command_run(), record)
    output = ["-o", str(tmp_path / "t.svg")] if command == "timeline" else []
    if command == "events" and "after the last event" in message:
        # Printing a window past the end prints nothing; it is no mistake.
        assert main([command, str(record), *output, *argv]) == 0
        return
    if message.startswith("argument"):  # argparse's own check: it exits with 2
        with pytest.raises(SystemExit) as caught:
            main([command, str(record), *output, *argv])
        assert caught.value.code == 2
    else:
        assert main([command, str(record), *output, *argv]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.processes  # the renderer runs as a process
def test_the_command_line_draws_a_window_as_png(tmp_path: Path) -> None:
    record = tmp_path / "run.jsonl"
    dump_events(command_run(), record)
    assert main(["timeline", str(record), "-o", str(tmp_path / "t.png"), "--from", "5"]) == 0
    png = (tmp_path / "t.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png[16:24])
    svg = parse(timeline_svg(command_run(), start=5))
    # Graphviz draws 72 points per inch at 96 dots per inch.
    assert math.isclose(width, float(str(svg.get("width"))) * 96 / 72, rel_tol=0.02)
    assert math.isclose(height, float(str(svg.get("height"))) * 96 / 72, rel_tol=0.05)


@pytest.mark.processes  # the renderer runs as a process
def test_the_png_redraws_every_shape_of_the_svg() -> None:
    svg = timeline_svg(command_run(), title="api")
    dot = svg_to_dot(svg)
    root = parse(svg)
    drawn_rects = [r for r in root.iter(f"{NS}rect") if float(r.get("width", "0").rstrip("%")) > 0]
    boxes = dot.count("shape=box")
    assert boxes == len(drawn_rects) - 1  # all but the background, which is bgcolor
    assert dot.count("shape=triangle") == 2  # the spawn and its legend entry
    assert dot.count("shape=invtriangle") == 3  # SIGTERM, and the legend's SIGTERM and cancel
    assert dot.count("label=<<B>x</B>>") == 2  # SIGKILL and its legend entry
    assert dot.count("shape=circle") == 3  # the exit and the two legend entries
    assert dot.count(" -- ") == len(list(root.iter(f"{NS}line")))
    texts = ["".join(t.itertext()) for t in root.iter(f"{NS}text")]
    assert all(f"label=<{text}>" in dot or f"label=<<B>{text}</B>>" in dot for text in texts)
    assert Timeline(svg).png().startswith(b"\x89PNG")


def flapping(cycles: int) -> list[Event]:
    """Two entries crashing at once after each launch, `cycles` times: 8 events a cycle."""
    waiting, starting = LifecycleState.WAITING, LifecycleState.STARTING
    history: list[Event] = []
    at = 0.0
    for step in range(cycles):
        for entry in ("a", "b"):
            history.append(Transitioned(at, entry, LifecycleEvent.LAUNCH, waiting, starting, step))
            history.append(ProcessSpawned(at, entry, 100 + step))
            at += 0.1
            history.append(ProcessExited(at, entry, 100 + step, 1, False, "exit code 1"))
            history.append(Transitioned(at, entry, LifecycleEvent.GONE, starting, waiting, step))
    return history


@pytest.mark.processes  # the renderer runs as a process
def test_a_long_runs_png_is_drawn_in_linear_time() -> None:
    drawn = timeline(flapping(3000))  # 24,000 events: 52 s when neato laid it out, 1 s now
    started = time.monotonic()
    assert drawn.png().startswith(b"\x89PNG")
    assert time.monotonic() - started < 20


@pytest.mark.processes  # the renderer runs as a process
def test_a_timeline_saves_as_png_but_not_as_dot(tmp_path: Path) -> None:
    drawn = timeline(command_run())
    drawn.save(tmp_path / "run.PNG")
    assert (tmp_path / "run.PNG").read_bytes().startswith(b"\x89PNG")
    with pytest.raises(ValueError, match=r"a timeline is saved as \.svg or \.png"):
        drawn.save(tmp_path / "run.dot")


@pytest.mark.processes  # the renderer runs as a process
def test_characters_xml_cannot_hold_are_replaced_so_svg_and_png_still_draw() -> None:
    history: list[Event] = [
        ProcessSpawned(1.0, "a\x01b", 1),
        HealthReported(2.0, "a\x01b", None, HealthStatus.FAILURE, "bad \x00 byte\x1b[31m"),
    ]
    drawn = timeline(history, title="run \x07")
    root = parse(drawn.svg)
    assert list(lanes(root)) == ["a\ufffdb"]
    assert drawn.png().startswith(b"\x89PNG")
