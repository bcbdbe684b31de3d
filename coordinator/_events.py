"""What happened in a run: events as frozen values, and their JSON-lines form.

Every event carries `at`, the monotonic time of the event loop
(`anyio.current_time()`, virtual under a mock clock), and the entry id.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, ClassVar

from statemachines import LifecycleEvent, LifecycleState

from ._health import HealthStatus

__all__ = [
    "ErrorReported",
    "Event",
    "HealthReported",
    "ProcessExited",
    "ProcessSignalled",
    "ProcessSpawned",
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


Event = (
    Transitioned
    | HealthReported
    | ProcessSpawned
    | ProcessSignalled
    | ProcessExited
    | ErrorReported
    | SubContainerDestroyed
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
    )
}
_ENUM_FIELDS: dict[str, type[enum.Enum]] = {
    "event": LifecycleEvent,
    "source": LifecycleState,
    "dest": LifecycleState,
    "result": HealthStatus,
}


def _to_json(event: Event) -> dict[str, Any]:
    record: dict[str, Any] = {"type": event.type}
    for field in dataclasses.fields(event):
        value = getattr(event, field.name)
        record[field.name] = value.value if isinstance(value, enum.Enum) else value
    return record


def _from_json(record: dict[str, Any]) -> Event:
    fields = dict(record)
    cls = _EVENT_TYPES[fields.pop("type")]
    for name, enum_type in _ENUM_FIELDS.items():
        if name in fields:
            fields[name] = enum_type(fields[name])
    return cls(**fields)


def dump_events(events: Iterable[Event], target: str | Path | IO[str]) -> None:
    """Write events as JSON lines, one object per event, to a path or a text stream."""
    if isinstance(target, str | Path):
        with open(target, "w", encoding="utf-8") as stream:
            dump_events(events, stream)
        return
    for event in events:
        target.write(json.dumps(_to_json(event), separators=(",", ":")) + "\n")


def load_events(source: str | Path | IO[str]) -> list[Event]:
    """Read events written by `dump_events`."""
    if isinstance(source, str | Path):
        with open(source, encoding="utf-8") as stream:
            return load_events(stream)
    return [_from_json(json.loads(line)) for line in source if line.strip()]


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
    return f"{event.entry or '-':<12} {what}"
