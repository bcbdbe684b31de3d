"""What happened in a run: events as frozen values, and their JSON-lines form.

Every event carries `at`, the monotonic time of the event loop
(`anyio.current_time()`, virtual under a mock clock), and the entry id.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, ClassVar

from statemachines import LifecycleEvent, LifecycleState

from ._results import HealthStatus

__all__ = [
    "ErrorReported",
    "Event",
    "HealthReported",
    "ProcessExited",
    "ProcessSignalled",
    "ProcessSpawned",
    "RunEnded",
    "SubContainerDestroyed",
    "Transitioned",
    "describe_event",
    "dump_events",
    "load_events",
]


@dataclass(frozen=True, slots=True)
class Transitioned:
    """The entry's lifecycle machine took a row of the table.

    `source == dest` for an internal transition (such as `signal`). `step`
    numbers the coordinator's reactions: the transitions one stimulus causes
    (say, a failed check and the dependents it stops) share a step.
    """

    type: ClassVar[str] = "transitioned"
    at: float
    entry: str
    event: LifecycleEvent
    source: LifecycleState
    dest: LifecycleState
    step: int


@dataclass(frozen=True, slots=True)
class HealthReported:
    """The entry's reported health changed (as the host was told it)."""

    type: ClassVar[str] = "health"
    at: float
    entry: str
    display: str | None
    result: HealthStatus
    message: str | None


@dataclass(frozen=True, slots=True)
class ProcessSpawned:
    """A process (or an in-process function, `pid=None`) began to run."""

    type: ClassVar[str] = "spawned"
    at: float
    entry: str
    pid: int | None


@dataclass(frozen=True, slots=True)
class ProcessSignalled:
    """The supervisor told a process to stop: `SIGTERM`, `SIGKILL`, or `cancel`
    for an in-process function."""

    type: ClassVar[str] = "signalled"
    at: float
    entry: str
    pid: int | None
    signal: str


@dataclass(frozen=True, slots=True)
class ProcessExited:
    """A process ended. `clean` is an exit 0 or a death the supervisor caused;
    `description` says how it ended (`exit code 3`, `signal SIGKILL`, an error)."""

    type: ClassVar[str] = "exited"
    at: float
    entry: str
    pid: int | None
    returncode: int | None
    clean: bool
    description: str


@dataclass(frozen=True, slots=True)
class ErrorReported:
    """Something went wrong that the system survived: a host that raised, an
    in-process function abandoned after ignoring cancellation."""

    type: ClassVar[str] = "error"
    at: float
    entry: str | None
    message: str


@dataclass(frozen=True, slots=True)
class SubContainerDestroyed:
    """A subcontainer was destroyed, after `entry`, the last to use it, stopped."""

    type: ClassVar[str] = "destroyed"
    at: float
    entry: str
    name: str


@dataclass(frozen=True, slots=True)
class RunEnded:
    """`entry` ended the run (its `exit_on_failure`, or `exit_code_from`): the
    system shuts down in order. `returncode` is the code to exit with: the
    entry's last exit code (128 + N after signal N, 1 when it did not start)."""

    type: ClassVar[str] = "ended"
    at: float
    entry: str
    returncode: int
    reason: str


Event = (
    Transitioned
    | HealthReported
    | ProcessSpawned
    | ProcessSignalled
    | ProcessExited
    | ErrorReported
    | SubContainerDestroyed
    | RunEnded
)

_EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls
    for cls in (
        Transitioned,
        HealthReported,
        ProcessSpawned,
        ProcessSignalled,
        ProcessExited,
        ErrorReported,
        SubContainerDestroyed,
        RunEnded,
    )
}
_ENUM_FIELDS: dict[str, type[enum.Enum]] = {
    "event": LifecycleEvent,
    "source": LifecycleState,
    "dest": LifecycleState,
    "result": HealthStatus,
}


def event_json(event: Event) -> dict[str, Any]:
    """The JSON object of `event`, as `dump_events` writes it (one per line)."""
    record: dict[str, Any] = {"type": event.type}
    for field in dataclasses.fields(event):
        value = getattr(event, field.name)
        record[field.name] = value.value if isinstance(value, enum.Enum) else value
    return record


def event_from_json(record: object) -> Event:
    """The event a JSON object stands for; `ValueError` saying what is wrong
    with it (a record may be cut off or edited: every field is checked)."""
    if not isinstance(record, dict):
        raise ValueError(f"not an event: a JSON {_json_type(record)}, not an object")
    kind = record.get("type")
    cls = _EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown event type {_shown(kind)}")
    fields: dict[str, object] = {}
    # Fields this version does not know are ignored: a newer writer may add some.
    for field in dataclasses.fields(cls):
        name = field.name
        if name in record:
            fields[name] = _field(cls.type, name, record[name], _FIELD_TYPES[cls][name])
        elif field.default is dataclasses.MISSING:
            raise ValueError(f"{cls.type} event: missing field {name!r}")
    event: Event = typing.cast(Any, cls)(**fields)  # each field checked against its type
    return event


def _field(kind: str, name: str, value: object, allowed: tuple[type, ...]) -> object:
    for expected in allowed:
        converted = _convert(expected, value)
        if converted is not _REFUSED:
            return converted
    names = " or ".join(_TYPE_NAMES.get(t, getattr(t, "__name__", str(t))) for t in allowed)
    raise ValueError(f"{kind} event: {name!r} must be {names}, not {_shown(value)}")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


_REFUSED = object()


def _convert(expected: type, value: object) -> object:
    """`value` as a field of type `expected`, or `_REFUSED`."""
    if expected is type(None):
        return None if value is None else _REFUSED
    if issubclass(expected, enum.Enum):
        try:
            return expected(value) if isinstance(value, str) else _REFUSED
        except ValueError:
            return _REFUSED
    if expected is float:
        accepted = _is_number(value) and _is_finite(value)
    elif expected is int:
        accepted = isinstance(value, int) and not isinstance(value, bool)
    elif expected is str:
        accepted = isinstance(value, str) and _printable(value)
    else:
        accepted = type(value) is expected
    return value if accepted else _REFUSED


def _is_finite(value: object) -> bool:
    try:
        return math.isfinite(value)  # type: ignore[arg-type]
    except OverflowError:  # an int beyond the largest float
        return False


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _printable(value: object) -> bool:
    """A string that can be written out again: no lone surrogates."""
    try:
        str(value).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_type(value: object) -> str:
    names = {list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _field_types(cls: type[Event]) -> dict[str, tuple[type, ...]]:
    """Each field's allowed types, from its annotation (`str | None` gives both)."""
    hints = typing.get_type_hints(cls)
    return {
        field.name: typing.get_args(hints[field.name]) or (hints[field.name],)
        for field in dataclasses.fields(cls)
    }


_FIELD_TYPES = {cls: _field_types(cls) for cls in _EVENT_TYPES.values()}
_TYPE_NAMES = {float: "a finite number", int: "an integer", bool: "a boolean", str: "a string"}
_TYPE_NAMES[type(None)] = "null"


def dump_events(events: Iterable[Event], target: str | Path | IO[str]) -> None:
    """Write events as JSON lines, one object per event, to a path or a text stream."""
    if isinstance(target, str | Path):
        with open(target, "w", encoding="utf-8") as stream:
            dump_events(events, stream)
        return
    for event in events:
        target.write(json.dumps(event_json(event), separators=(",", ":")) + "\n")


BadLine = Callable[[int, str], object]
"""Told of a line that is not an event: its number (from 1) and what is wrong."""


def load_events(source: str | Path | IO[str], *, on_bad_line: BadLine | None = None) -> list[Event]:
    """Read events written by `dump_events`.

    A line that is not an event (cut off by a killed writer, edited, not
    JSON) raises `ValueError` naming its line number; with `on_bad_line`,
    it is reported to it and skipped instead, and the valid events are read.
    """
    if isinstance(source, str | Path):
        # surrogateescape: a line that is not UTF-8 is one bad line, not a bad file.
        with open(source, encoding="utf-8", errors="surrogateescape") as stream:
            return load_events(stream, on_bad_line=on_bad_line)
    events: list[Event] = []
    for number, line in enumerate(source, 1):
        if not line.strip():
            continue
        try:
            events.append(event_from_json(_parse(line)))
        except ValueError as error:
            if on_bad_line is None:
                raise ValueError(f"line {number}: {error}") from error
            on_bad_line(number, str(error))
    return events


def _parse(line: str) -> object:
    if not _printable(line):
        raise ValueError("not UTF-8 text")
    try:
        return json.loads(line)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except json.JSONDecodeError as error:
        cut = "" if line.endswith("\n") else " (the last line, cut off?)"
        raise ValueError(f"not JSON{cut}: {error}") from None


def describe_event(event: Event) -> str:
    """One line of text for an event, as the demo and `healthdaemons events` print it."""
    match event:
        case Transitioned(event=LifecycleEvent.SIGNAL):
            what = "may stop now (every dependent has stopped)"
        case Transitioned(source=source, dest=dest) if source is dest:
            what = f"{event.event.value} (stays {dest.value})"
        case Transitioned():
            what = f"{event.source.value} -> {event.dest.value}  ({event.event.value})"
        case HealthReported():
            what = f"health {event.result.value}" + (f": {event.message}" if event.message else "")
        case ProcessSpawned():
            what = "spawned" + (f" pid {event.pid}" if event.pid is not None else "")
        case ProcessSignalled():
            what = f"sent {event.signal}"
        case ProcessExited():
            what = f"exited ({'clean' if event.clean else 'crash'}): {event.description}"
        case ErrorReported():
            what = f"error: {event.message}"
        case SubContainerDestroyed():
            what = f"destroyed subcontainer {event.name}"
        case RunEnded():
            what = f"ended the run (exit code {event.returncode}): {event.reason}"
    return f"{event.entry or '-':<12} {what}"
