"""Fuzzing what users hand to the command line: config files and recorded runs.

A config file gives a valid plan or a `ConfigError` that starts with the
file's name and then the key path of the mistake (or a whole-file reason),
never anything else. A record gives the events of its valid lines and one
report per bad line, never a traceback; `events` and `timeline` exit 0 or 2.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import tempfile
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coordinator import (
    ErrorReported,
    Event,
    HealthReported,
    HealthStatus,
    ProcessExited,
    ProcessSignalled,
    ProcessSpawned,
    SubContainerDestroyed,
    Transitioned,
    dump_events,
    load_events,
)
from coordinator._config import describe_plan, load_config
from coordinator._config_table import key_path
from coordinator.errors import ConfigError
from healthdaemons import main
from statemachines import LifecycleEvent, LifecycleState

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def scratch() -> Iterator[Path]:
    """A fresh directory per example (Hypothesis reuses a test's fixtures)."""
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


# TOML written from Python values: everything inline, so any nesting is one line.


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_key(key: str) -> str:
    return toml_string(key)


def toml_string(text: str) -> str:
    """JSON's escapes are TOML's; TOML also refuses a raw DEL."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def toml_document(document: dict[str, object]) -> str:
    """Top-level values first, then `[services]`'s own values, then its tables."""
    lines = [f"{toml_key(k)} = {toml_value(v)}" for k, v in document.items() if k != "services"]
    services = document.get("services")
    if not isinstance(services, dict):
        if "services" in document:
            lines.append(f"services = {toml_value(services)}")
        return "\n".join(lines) + "\n"
    lines.append("[services]")
    lines += [
        f"{toml_key(k)} = {toml_value(v)}" for k, v in services.items() if not isinstance(v, dict)
    ]
    for id, table in services.items():
        if isinstance(table, dict):
            lines.append(f"[services.{toml_key(id)}]")
            lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


IDS = st.sampled_from(["db", "web", "api-1", "migrate"])
BAD_IDS = st.sampled_from(["Web", "a_b", "x\n", "", "db "])
TEXT = st.text(max_size=12)
NUMBERS = st.one_of(
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, 5, 0.5, -1, 10**309]),
)
ANY: st.SearchStrategy[Any] = st.recursive(
    st.one_of(st.booleans(), NUMBERS, TEXT, st.none().map(lambda _: "null")),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)),
    max_leaves=8,
)
DEEP = st.integers(1, 600).map(lambda depth: "[" * depth + "]" * depth)


def rarely(draw: st.DrawFn) -> bool:
    """About one time in ten (Hypothesis favours small integers: not `integers(0, 9) == 0`)."""
    return draw(st.sampled_from([False] * 9 + [True]))


def value(draw: st.DrawFn, plausible: st.SearchStrategy[Any]) -> Any:
    """Mostly a value that could be right, now and then anything at all."""
    return draw(ANY) if rarely(draw) else draw(plausible)


RUNNABLE = st.sampled_from([["true"], ["sleep", "1"], "exec sleep 1", "true | cat"])
COMMANDS = st.one_of(
    RUNNABLE,
    RUNNABLE,
    RUNNABLE,
    st.sampled_from([["./nothing"], "exec no-such-program-x", [""]]),
    st.lists(TEXT, min_size=1, max_size=3),
    TEXT,
)
SOURCES = {
    "port": st.integers(0, 70000),
    "url": st.sampled_from(["http://127.0.0.1:1/", "localhost:80", "ftp://x/"]),
    "script": COMMANDS,
    "log_line": st.sampled_from(["ready", "(", "a+"]),
    "notify": st.booleans(),
}
READY_OPTIONS = {
    "display": TEXT,
    "grace_period": NUMBERS,
    "timeout": NUMBERS,
    "interval": NUMBERS,
    "stream": st.sampled_from(["stdout", "stderr", "both", "out"]),
}
SERVICE_OPTIONS = {
    "env": st.dictionaries(TEXT, TEXT, max_size=2),
    "cwd": st.sampled_from([".", "/tmp", "nowhere", "a\x00b"]),
    "user": st.sampled_from(["root", "no-such-user-x", "a\x00b", 0, -1, 1.5]),
    "sigterm_timeout": NUMBERS,
    "run_as_init": st.booleans(),
    "max_restarts": st.integers(-2, 10**30),
    "watch": st.lists(st.sampled_from(["src/**/*.py", "*.c", "../x", "/etc/*", "[z-a]", ""])),
    "profiles": st.lists(st.sampled_from(["debug", "test", "de bug", ""]), max_size=2),
    "disabled": st.booleans(),
}


def options(draw: st.DrawFn, table: dict[str, Any], choices: dict[str, Any]) -> None:
    """Each option now and then, and rarely a key nobody knows."""
    for key, plausible in choices.items():
        if draw(st.sampled_from([False, False, True])):
            table[key] = value(draw, plausible)
    if rarely(draw):
        table[draw(TEXT)] = draw(ANY)


@st.composite
def ready_tables(draw: st.DrawFn) -> dict[str, Any]:
    sources = draw(st.lists(st.sampled_from(sorted(SOURCES)), min_size=1, max_size=2))
    if rarely(draw):
        sources = []
    table = {
        source: value(draw, SOURCES[source]) for source in sources[: 1 if not rarely(draw) else 2]
    }
    options(draw, table, READY_OPTIONS)
    return table


@st.composite
def service_tables(draw: st.DrawFn, earlier: list[str]) -> dict[str, Any]:
    kind = "deamon" if rarely(draw) else draw(st.sampled_from(["daemon", "oneshot", "check"]))
    table: dict[str, Any] = {} if kind == "daemon" and draw(st.booleans()) else {"kind": kind}
    if kind != "check" or rarely(draw):
        table["command"] = value(draw, COMMANDS)
    if kind != "oneshot" or rarely(draw):
        table["ready"] = value(draw, ready_tables())
    if len(earlier) > 0 and draw(st.booleans()):
        table["requires"] = value(draw, st.lists(st.sampled_from(earlier), max_size=2))
    elif rarely(draw):
        table["requires"] = draw(st.lists(st.one_of(IDS, BAD_IDS), max_size=2))
    options(draw, table, SERVICE_OPTIONS)
    return table


@st.composite
def documents(draw: st.DrawFn) -> dict[str, object]:
    """Mostly files that could be right, with a few mistakes of every kind."""
    ids = draw(st.lists(IDS, unique=True, min_size=0 if rarely(draw) else 1, max_size=4))
    if rarely(draw):
        ids.append(draw(BAD_IDS))
    services: dict[str, Any] = {}
    for id in draw(st.permutations(ids)):
        services[id] = draw(service_tables(list(services))) if not rarely(draw) else draw(ANY)
    document: dict[str, object] = {"services": services if not rarely(draw) else draw(ANY)}
    if draw(st.booleans()):
        document["orphan_guard"] = value(draw, st.booleans())
    if rarely(draw):
        document[draw(TEXT)] = draw(ANY)
    return document


def check_outcome(path: Path, top_keys: list[str] | None) -> None:
    """A plan, or a ConfigError naming the file and then where the mistake is."""
    try:
        daemons = load_config(path, check_programs=True)
    except ConfigError as error:
        message = str(error)
        assert message.startswith(f"{path}: "), message
        reason = message.removeprefix(f"{path}: ")
        assert reason and "Traceback" not in reason
        if top_keys is not None:  # the file is TOML: the mistake has a place
            places = [key_path(key) for key in top_keys]
            places += ["no services", "services form a cycle", "duplicate service", ".env: "]
            assert any(reason.startswith(place) for place in places), reason
        return
    assert describe_plan(daemons, path).startswith(f"{path}: {len(daemons)} service")


@given(documents(), st.one_of(st.none(), DEEP))
def test_a_config_file_gives_a_plan_or_a_config_error_with_a_key_path(
    document: dict[str, object], deep: str | None
) -> None:
    text = toml_document(document)
    if deep is not None:
        text = f"deep = {deep}\n" + text
    with scratch() as directory:
        path = directory / "app.toml"
        path.write_text(text, encoding="utf-8")
        keys = list(document) + ([] if deep is None else ["deep"])
        check_outcome(path, keys if deep is None or deep.count("[") < 400 else None)


SEEDS = [
    (ROOT / "examples/demo.toml").read_text(encoding="utf-8"),
    (ROOT / "examples/verify/shop.toml").read_text(encoding="utf-8"),
]
EDIT = st.tuples(
    st.floats(0, 1),
    st.integers(0, 8),
    st.one_of(st.sampled_from(list("[]{}=\",.\n#'\\0 -xu")), st.text(max_size=3)),
)


@given(st.sampled_from(SEEDS), st.lists(EDIT, min_size=1, max_size=6), st.booleans())
def test_an_edited_config_file_gives_a_plan_or_a_config_error(
    seed: str, edits: list[tuple[float, int, str]], as_bytes: bool
) -> None:
    """Cut, inserted and replaced characters; sometimes a byte that is not UTF-8."""
    text = seed
    for where, cut, insert in edits:
        at = int(where * len(text))
        text = text[:at] + insert + text[at + cut :]
    with scratch() as directory:
        path = directory / "app.toml"
        data = text.encode()
        if as_bytes:
            data = data[: len(data) // 2] + b"\xff" + data[len(data) // 2 :]
        path.write_bytes(data)
        check_outcome(path, None)


# Records


ENTRIES = st.sampled_from(["db", "web", "a" * 40, "é", 'a\x01<&"b'])
MOMENTS = st.floats(0, 1e6)
EVENTS: st.SearchStrategy[Event] = st.one_of(
    st.builds(
        Transitioned,
        MOMENTS,
        ENTRIES,
        st.sampled_from(LifecycleEvent),
        st.sampled_from(LifecycleState),
        st.sampled_from(LifecycleState),
        st.integers(0, 100),
    ),
    st.builds(
        HealthReported,
        MOMENTS,
        ENTRIES,
        st.one_of(st.none(), TEXT),
        st.sampled_from(HealthStatus),
        st.one_of(st.none(), TEXT),
    ),
    st.builds(ProcessSpawned, MOMENTS, ENTRIES, st.one_of(st.none(), st.integers(1, 10**6))),
    st.builds(ProcessSignalled, MOMENTS, ENTRIES, st.none(), st.sampled_from(["SIGTERM", "x"])),
    st.builds(ProcessExited, MOMENTS, ENTRIES, st.none(), st.none(), st.booleans(), TEXT),
    st.builds(ErrorReported, MOMENTS, st.one_of(st.none(), ENTRIES), TEXT),
    st.builds(SubContainerDestroyed, MOMENTS, ENTRIES, TEXT),
)
JSON: st.SearchStrategy[Any] = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def event_line(event: Event) -> str:
    buffer = io.StringIO()
    dump_events([event], buffer)
    return buffer.getvalue().rstrip("\n")


@st.composite
def record_lines(draw: st.DrawFn) -> list[str]:
    """Lines of a record: events as written, and events damaged in each way
    issue 11 saw: a field of another type, a line cut off, deep nesting, junk."""
    lines = []
    for _ in range(draw(st.integers(0, 8))):
        line = event_line(draw(EVENTS))
        damage = draw(st.sampled_from(["none", "none", "field", "cut", "deep", "json", "text"]))
        if damage == "field":
            record = json.loads(line)
            record[draw(st.sampled_from(sorted(record)))] = draw(JSON)
            line = json.dumps(record)
        elif damage == "cut":
            line = line[: draw(st.integers(0, len(line) - 1))]
        elif damage == "deep":
            depth = draw(st.integers(1, 50_000))
            line = "[" * depth + "]" * depth
        elif damage == "json":
            line = json.dumps(draw(JSON))
        elif damage == "text":
            line = draw(st.text(max_size=20)).replace("\n", " ").replace("\r", " ")
        lines.append(line)
    return lines


@given(record_lines(), st.booleans())
def test_a_record_gives_its_valid_events_and_reports_each_bad_line(
    lines: list[str], final_newline: bool
) -> None:
    text = "\n".join(lines) + ("\n" if final_newline and lines else "")
    reported: list[tuple[int, str]] = []
    events = load_events(io.StringIO(text), on_bad_line=lambda n, p: reported.append((n, p)))
    # A text stream's lines end at "\n" only (str.splitlines would also split at "\x0b").
    written = [n for n, line in enumerate(text.split("\n"), 1) if line.strip()]
    assert len(events) + len(reported) == len(written)
    assert all(number in written and problem for number, problem in reported)
    for event in events:  # what is read back writes out again, the same
        assert load_events(io.StringIO(event_line(event) + "\n")) == [event]
    if reported:
        with pytest.raises(ValueError, match=f"^line {reported[0][0]}: "):
            load_events(io.StringIO(text))
    else:
        assert load_events(io.StringIO(text)) == events


@given(
    record_lines(),
    st.one_of(st.none(), st.floats(-1, 1e7)),
    st.one_of(st.none(), st.floats(-1, 1e7)),
)
def test_events_and_timeline_exit_0_or_2_and_never_raise(
    lines: list[str], start: float | None, end: float | None
) -> None:
    window = [] if start is None else ["--from", repr(start)]
    window += [] if end is None else ["--to", repr(end)]
    with scratch() as directory:
        record = directory / "run.jsonl"
        record.write_text("\n".join(lines), encoding="utf-8")
        valid = load_events(record, on_bad_line=lambda n, p: None)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            if (start is not None and start < 0) or (end is not None and end < 0):
                with pytest.raises(SystemExit, match=r"^2$"):  # argparse refuses it
                    main(["events", str(record), *window])
                return
            codes = [
                main(["events", str(record), *window]),
                main(["timeline", str(record), "-o", str(directory / "t.svg"), *window]),
            ]
        if start is not None and end is not None and not start < end:
            assert codes == [2, 2]
            assert "must come before --to" in err.getvalue()
        elif not valid:
            assert codes == [2, 2]
            assert "not a recorded run" in err.getvalue() or "no events" in err.getvalue()
        else:
            assert codes[0] in (0, 2)
            assert codes[1] in (0, 2)
            if codes[1] == 0:  # what is drawn is well-formed XML, whatever the record held
                ElementTree.parse(directory / "t.svg")
        assert "Traceback" not in err.getvalue()
