"""Recorded runs that are damaged: cut off by a killed `up`, edited, or not
records at all (issue 11, item 12). The library names the bad line (or
skips it when asked to); `events` and `timeline` skip and report bad lines,
and show what is valid."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from coordinator import (
    ErrorReported,
    Event,
    HealthReported,
    HealthStatus,
    ProcessExited,
    ProcessSpawned,
    Transitioned,
    dump_events,
    load_events,
)
from healthdaemons import main
from statemachines import LifecycleEvent, LifecycleState

RUN: list[Event] = [
    Transitioned(
        10.0, "db", LifecycleEvent.LAUNCH, LifecycleState.WAITING, LifecycleState.STARTING, 1
    ),
    ProcessSpawned(10.1, "db", 42),
    HealthReported(10.5, "db", "Database", HealthStatus.SUCCESS, None),
    ErrorReported(11.0, None, "a host raised"),
    ProcessExited(12.0, "db", 42, -15, True, "signal SIGTERM"),
]
SPAWNED = '{"type":"spawned","at":10.1,"entry":"db","pid":42}'


def record_text(events: list[Event]) -> str:
    buffer = io.StringIO()
    dump_events(events, buffer)
    return buffer.getvalue()


BAD_LINES = [
    pytest.param('{"type":"spawned","at":"10","entry":"db","pid":1}', "'at' must be", id="at-str"),
    pytest.param('{"type":"spawned","at":null,"entry":"db","pid":1}', "'at' must be", id="at-null"),
    pytest.param(
        '{"type":"spawned","at":Infinity,"entry":"db","pid":1}', "'at' must be", id="at-inf"
    ),
    pytest.param('{"type":"spawned","at":1,"entry":7,"pid":1}', "'entry' must be", id="entry-int"),
    pytest.param('{"type":"spawned","at":true,"entry":"db","pid":1}', "'at' must be", id="bool"),
    pytest.param('{"type":"spawned","at":1,"entry":"db","pid":"1"}', "'pid' must be", id="pid"),
    pytest.param('{"type":"spawned","at":1,"entry":"db"}', "missing field 'pid'", id="missing"),
    pytest.param(
        '{"type":"transitioned","at":1,"entry":"db","event":"fly","source":"waiting",'
        '"dest":"starting","step":1}',
        "'event' must be",
        id="enum",
    ),
    pytest.param('{"type":"teleported","at":1,"entry":"db"}', "unknown event type", id="type"),
    pytest.param("[1, 2]", "not an event: a JSON array", id="array"),
    pytest.param("[" * 100_000 + "]" * 100_000, "nested too deeply", id="deep-nesting"),
    pytest.param('{"type":"error","at":1,"entry":null,"message":"\\ud800"}', "'message'", id="sur"),
    pytest.param(SPAWNED[:30], "not JSON (the last line, cut off?)", id="cut-off"),
]


@pytest.mark.parametrize(("line", "problem"), BAD_LINES)
def test_a_bad_line_is_named_by_its_number_or_skipped(line: str, problem: str) -> None:
    text = record_text(RUN[:2]) + line + ("" if "cut off" in problem else "\n")
    with pytest.raises(ValueError, match=r"^line 3: ") as caught:
        load_events(io.StringIO(text))
    assert problem in str(caught.value)
    reported: list[tuple[int, str]] = []
    events = load_events(io.StringIO(text), on_bad_line=lambda n, p: reported.append((n, p)))
    assert events == RUN[:2]
    assert [number for number, _ in reported] == [3]
    assert problem in reported[0][1]


def test_every_kind_of_event_is_read_back_as_written() -> None:
    assert load_events(io.StringIO(record_text(RUN))) == RUN


def test_fields_a_newer_writer_adds_are_ignored() -> None:
    line = json.dumps({"type": "spawned", "at": 1.0, "entry": "db", "pid": 4, "cpu": 3})
    assert load_events(io.StringIO(line + "\n")) == [ProcessSpawned(1.0, "db", 4)]


def test_a_line_that_is_not_utf8_is_one_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_bytes(record_text(RUN[:2]).encode() + b'{"type":"\xff"}\n')
    reported: list[int] = []
    assert load_events(path, on_bad_line=lambda n, _: reported.append(n)) == RUN[:2]
    assert reported == [3]


def cut_off_record(tmp_path: Path) -> Path:
    """What a killed `up --record` leaves: the last line written in part."""
    path = tmp_path / "run.jsonl"
    path.write_text(record_text(RUN) + SPAWNED[:25])
    return path


def test_events_prints_what_is_valid_and_reports_the_cut_off_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = cut_off_record(tmp_path)
    assert main(["events", str(path)]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == len(RUN)
    assert "2.000s  db           exited (clean): signal SIGTERM" in out
    assert err == f"{path}:6: skipped: not JSON (the last line, cut off?): " + (
        "Expecting ',' delimiter: line 1 column 26 (char 25)\n"
    )


def test_events_skips_each_type_corrupted_line_with_its_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "run.jsonl"
    lines = record_text(RUN).splitlines()
    lines[1] = '{"type":"spawned","at":"soon","entry":"db","pid":42}'
    lines[3] = '{"type":"error","at":11,"entry":5,"message":"x"}'
    path.write_text("\n".join(lines) + "\n")
    assert main(["events", str(path)]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == len(RUN) - 2
    assert err.splitlines() == [
        f"{path}:2: skipped: spawned event: 'at' must be a finite number, not 'soon'",
        f"{path}:4: skipped: error event: 'entry' must be a string or null, not 5",
    ]


def test_timeline_draws_what_is_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = cut_off_record(tmp_path)
    assert main(["timeline", str(path), "-o", str(tmp_path / "run.svg")]) == 0
    assert 'data-entry="db"' in (tmp_path / "run.svg").read_text()
    assert f"{path}:6: skipped: not JSON" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["events", "timeline"])
def test_a_record_without_a_valid_event_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    path = tmp_path / "run.jsonl"
    path.write_text('{"type":"spawned","at":null,"entry":"db","pid":1}\n[1]\n')
    argv = [command, str(path)] + (["-o", str(tmp_path / "t.svg")] if command == "timeline" else [])
    assert main(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[:2] == [
        f"{path}:1: skipped: spawned event: 'at' must be a finite number, not None",
        f"{path}:2: skipped: not an event: a JSON array, not an object",
    ]
    assert err[2] == f"healthdaemons: {path}: not a recorded run: none of its 2 lines is an event"
    assert not (tmp_path / "t.svg").exists()


def test_events_shows_control_characters_of_a_record_without_obeying_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A record may come from elsewhere: an escape sequence in a message
    (clear the screen, retitle the window) is printed as text."""
    path = tmp_path / "run.jsonl"
    path.write_text(
        record_text([ErrorReported(1.0, "db", "boom\x1b[2J\x1b]0;owned\x07\r\nend\x9b1m\ttab")])
    )
    assert main(["events", str(path)]) == 0
    out = capsys.readouterr().out
    assert "boom\\x1b[2J\\x1b]0;owned\\x07\\x0d\\x0aend\\x9b1m\ttab" in out
    assert not any(ord(c) < 0x20 and c not in "\t\n" for c in out)
