"""What the commands on files do: `table`, `defaults`, `events RECORD`,
`lifecycle`, `graph`, `timeline`, `up`, `check`, `verify`, `explore`.

They need the library (coordinator, viz) and rich, which take a while to
load: `_cli` imports this module only when one of them runs, so that the
client commands (`ps`, `logs` ...) start quickly.
"""

from __future__ import annotations

import functools
import heapq
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
from rich.console import Console

from coordinator import (
    Daemons,
    Event,
    LogDir,
    LogFile,
    OutputRecorded,
    defaults_table,
    describe_event,
    describe_plan,
    load_config,
    load_events,
    load_system,
)
from statemachines import EntryKind, LifecycleState
from viz import lifecycle_dot, lifecycle_table, save_drawing, system_dot, timeline

from ._cli_arguments import EVERYTHING, Selection, Window
from ._control_options import ControlOptions, parse_listen
from ._control_paths import ControlPaths
from ._text import printable
from ._up import run_up

OnOutput = Callable[[OutputRecorded], object]

__all__ = [
    "check",
    "control_options",
    "defaults",
    "draw_graph",
    "draw_lifecycle",
    "draw_timeline",
    "explore",
    "print_events",
    "print_table",
    "up",
    "validate",
    "verify",
]


def print_table(kind: str) -> int:
    print(lifecycle_table(EntryKind(kind)), end="")
    return 0


def defaults() -> int:
    print(defaults_table())
    return 0


def check(config: str, chosen: Selection = EVERYTHING) -> int:
    print(describe_plan(validate(config, chosen), config))
    return 0


def validate(
    config: str, chosen: Selection = EVERYTHING, service_logs: LogDir | None = None
) -> Daemons:
    """The system of a config file (the part `chosen`), checked as `up`
    checks it before starting anything."""
    return load_config(config, check_programs=True, log_dir=service_logs, **chosen._asdict())


def log_dir(path: str | None, max_bytes: str | None, backups: int | None) -> LogDir | None:
    """`up --log-dir DIR --log-max-bytes SIZE --log-backups N`, if given;
    `ValueError` for a size that is none."""
    if path is None:
        return None
    try:
        size = None if max_bytes is None else LogFile.parse_size(max_bytes)
    except ValueError as error:
        raise ValueError(f"--log-max-bytes {error}") from None
    given = {"max_bytes": size, "backups": backups}
    return LogDir(path, **{name: value for name, value in given.items() if value is not None})


def print_events(path: str, window: Window) -> int:
    output: list[OutputRecorded] = []
    history = _recorded_run(path, output.append)
    first = min(event.at for event in history)
    start, end = window
    # The output lines (`up --record-output`) among the events, by time; at
    # the same moment, the event first (the spawn before what it printed).
    merged = heapq.merge(
        ((event.at, 0, describe_event(event)) for event in history),
        ((line.at, 1, _describe_output(line)) for line in output),
    )
    for at, _, text in merged:
        moment = at - first
        if (start is None or moment >= start) and (end is None or moment <= end):
            print(f"{moment:9.3f}s  {printable(text)}")
    return 0


def _describe_output(line: OutputRecorded) -> str:
    return f"{line.entry:<12} {'|' if line.stream == 'stdout' else '!'} {line.line}"


def _recorded_run(path: str, on_output: OnOutput | None = None) -> list[Event]:
    """The valid events of a record; each bad line is reported on stderr
    (`run.jsonl:17: skipped: ...`) and skipped. `ValueError` if none is valid."""

    skipped: list[int] = []

    def skip(number: int, problem: str) -> None:
        skipped.append(number)
        print(f"{path}:{number}: skipped: {problem}", file=sys.stderr)

    try:
        history = load_events(path, on_bad_line=skip, on_output=on_output)
    except OSError as error:
        raise ValueError(f"{path}: cannot read: {error.strerror or error}") from error
    if skipped and not history:
        lines = (
            "its one line is not" if len(skipped) == 1 else f"none of its {len(skipped)} lines is"
        )
        raise ValueError(f"{path}: not a recorded run: {lines} an event")
    if not history:
        raise ValueError(f"{path}: no events")
    return history


def draw_lifecycle(output: str, kind: str | None, current: str | None) -> int:
    source = lifecycle_dot(
        None if kind is None else EntryKind(kind),
        current=None if current is None else LifecycleState(current),
    )
    print(save_drawing(source, output))
    return 0


def draw_graph(reference: str, output: str, chosen: Selection = EVERYTHING) -> int:
    print(save_drawing(system_dot(_selected_system(reference, chosen)), output))
    return 0


def _selected_system(reference: str, chosen: Selection) -> Daemons:
    """The part `chosen` of the system `reference` names (a config file, as
    `load_system` tells one, or module:attribute)."""
    if reference.endswith(".toml") or os.path.isfile(reference):
        return load_config(reference, **chosen._asdict())
    if chosen.profiles:
        raise ValueError(f"{reference!r}: profiles are for a config file (.toml)")
    system = load_system(reference)
    if not chosen.services:
        return system
    return system.select(chosen.services, dependencies=chosen.dependencies)


def draw_timeline(record: str, output: str, window: Window) -> int:
    if Path(output).suffix.lower() not in (".svg", ".png"):
        raise ValueError(f"{output}: a timeline is drawn as .svg or .png; give one of them")
    start, end = window
    timeline(_recorded_run(record), start=start, end=end).save(output)
    print(output)
    return 0


def control_options(
    config: str,
    socket: str | None,
    listen: str | None,
    listen_remote: bool,
    web: str | None = None,
) -> ControlOptions:
    """Where `up` serves its control API; `ValueError` for a bad `--listen` or `--web`."""
    address = None if listen is None else parse_listen(listen, remote=listen_remote)
    console = None if web is None else parse_listen(web, remote=listen_remote, flag="--web")
    paths = ControlPaths.for_config(config) if socket is None else ControlPaths.beside(socket)
    return ControlOptions(paths, config=config, listen=address, web=console)


def up(
    config: str,
    record: str | None,
    until_ready: bool,
    timeout: float | None,
    control: ControlOptions,
    detached: bool = False,
    build_options: dict[str, Any] | None = None,
    service_logs: LogDir | None = None,
    record_output: bool = False,
    chosen: Selection = EVERYTHING,
) -> int:
    daemons = validate(config, chosen, service_logs)
    # Never wrapped: piped output goes to grep and log collectors whole.
    console = Console(highlight=False, soft_wrap=True)
    return anyio.run(
        functools.partial(
            run_up,
            daemons,
            console=console,
            record=None if record is None else Path(record),
            until_ready=until_ready,
            timeout=timeout,
            exit_if_stuck=True,
            control=control,
            ignore_hangup=detached,
            build_options=build_options,
            record_output=record_output,
        )
    )


def verify(reference: str, budget: float | None, examples: int | None, seed: int | None) -> int:
    # Imported when used: Hypothesis, which the searches run on, takes a while to load.
    from coordinator.testing import VerificationError, verify

    try:
        print(
            verify(
                load_system(reference),
                **_given(max_examples=examples, shutdown_budget=budget, random_seed=seed),
            )
        )
    except VerificationError as error:
        print(error)
        return 1
    return 0


def explore(reference: str, max_states: int | None, operator_actions: int | None) -> int:
    from coordinator.testing import ExplorationError, explore

    try:
        options = _given(max_states=max_states, operator_actions=operator_actions)
        print(explore(load_system(reference), **options))
    except ExplorationError as error:
        print(error)
        return 1
    return 0


def _given(**options: Any) -> dict[str, Any]:
    """The options given on the command line: the library's defaults
    (coordinator/_defaults.py) stand for the others, written once."""
    return {name: value for name, value in options.items() if value is not None}
