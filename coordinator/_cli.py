"""The `healthdaemons` command."""

from __future__ import annotations

import argparse
import functools
import importlib
import inspect
import math
import os
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import anyio

from statemachines import EntryKind, LifecycleState

from ._config import describe_plan, load_config
from ._daemons import Daemons
from ._events import Event, describe_event, load_events
from .errors import HealthDaemonsError


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="healthdaemons",
        description="Supervise daemons, oneshots and health checks that depend on each other.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    table = commands.add_parser("table", help="print the lifecycle transition table")
    table.add_argument("--kind", choices=[k.value for k in EntryKind], default="daemon")
    record_help = (
        "a file written by dump_events or `up --record`; lines that are not events "
        "(a last line cut off by a killed `up`, say) are reported on stderr and skipped"
    )
    events = commands.add_parser("events", help="print a recorded run (JSON lines) as text")
    events.add_argument("record", help=record_help)
    _add_window(events)
    drawing = "the format comes from the extension: .svg, .png, or .dot (the DOT source)"
    lifecycle = commands.add_parser(
        "lifecycle", help="draw the lifecycle state machine", description=drawing
    )
    lifecycle.add_argument("-o", "--output", required=True, help="the file to write")
    lifecycle.add_argument("--kind", choices=[k.value for k in EntryKind], default=None)
    lifecycle.add_argument("--current", choices=[s.value for s in LifecycleState], default=None)
    graph = commands.add_parser(
        "graph", help="draw a system's dependency graph", description=drawing
    )
    graph.add_argument("system", help="a config file (.toml), or module:attribute naming a Daemons")
    graph.add_argument("-o", "--output", required=True, help="the file to write")
    timeline = commands.add_parser(
        "timeline",
        help="draw a recorded run as a timeline (SVG or PNG)",
        description="The format comes from the extension: .svg, or .png (rendered by the "
        "Graphviz renderer that draws the other diagrams). A timeline has no DOT source.",
    )
    timeline.add_argument("record", help=record_help)
    timeline.add_argument("-o", "--output", required=True, help="the .svg or .png file to write")
    _add_window(timeline)
    up = commands.add_parser(
        "up",
        help="run the system of a config file until Ctrl-C or SIGTERM",
        description="Ctrl-C, SIGTERM, SIGHUP or SIGQUIT stops it in order, dependents "
        "first; a second one SIGKILLs what is left. Other signals are ignored.",
    )
    up.add_argument("config", help="a TOML file (see docs/config.md)")
    up.add_argument("--record", metavar="RUN.jsonl", help="write every event as JSON lines")
    up.add_argument(
        "--until-ready",
        action="store_true",
        help="stop in order once everything is ready (exit 0), or at --timeout or "
        "when a service gives up (exit 1)",
    )
    up.add_argument("--timeout", type=float, default=None, help="seconds, with --until-ready")
    check = commands.add_parser(
        "check", help="validate a config file; print the start layers and the shutdown order"
    )
    check.add_argument("config", help="a TOML file")
    system_help = "a config file (.toml), or module:attribute naming a Daemons"
    verify = commands.add_parser(
        "verify",
        help="run a system many times under simulated faults and check the invariants",
        description="Nothing is started: processes and checks are simulated on a mock clock. "
        "Exit 1 with the shrunk counterexample if a run breaks an invariant or the budget.",
    )
    verify.add_argument("system", help=system_help)
    verify.add_argument(
        "--budget", type=float, default=None, metavar="S", help="every shutdown within S seconds"
    )
    verify.add_argument("--examples", type=int, default=100, help="random fault schedules to try")
    verify.add_argument(
        "--seed", type=int, default=0, help="for the random search (default 0: repeatable)"
    )
    explore = commands.add_parser(
        "explore",
        help="check the invariants in every interleaving of a small system's events",
        description="For systems of up to about 4 or 5 entries. Exit 1 with the path "
        "to a violation.",
    )
    explore.add_argument("system", help=system_help)
    explore.add_argument("--max-states", type=int, default=20_000, help="stop after this many")
    args = parser.parse_args(argv)
    if args.command == "up" and args.timeout is not None:
        if not args.until_ready:
            parser.error("--timeout needs --until-ready (a plain `up` runs until Ctrl-C)")
        if not 0 <= args.timeout < math.inf:
            parser.error(f"--timeout must be a number of seconds >= 0, not {args.timeout}")
    try:
        if args.command == "table":
            return _print_table(EntryKind(args.kind))
        if args.command == "events":
            return _print_events(args.record, _window(args))
        if args.command == "lifecycle":
            return _draw_lifecycle(args.output, args.kind, args.current)
        if args.command == "graph":
            return _draw_graph(args.system, args.output)
        if args.command == "timeline":
            return _draw_timeline(args.record, args.output, _window(args))
        if args.command == "check":
            print(describe_plan(load_config(args.config, check_programs=True), args.config))
            return 0
        if args.command in ("verify", "explore"):
            return _searching(args)
        return _up(args.config, args.record, args.until_ready, args.timeout)
    except (HealthDaemonsError, ValueError, OSError) as error:
        print(f"healthdaemons: {error}", file=sys.stderr)
        return 2


def _print_table(kind: EntryKind) -> int:
    from viz import lifecycle_table

    print(lifecycle_table(kind), end="")
    return 0


Window = tuple[float | None, float | None]


def _add_window(parser: argparse.ArgumentParser) -> None:
    for flag, side in (("--from", "first"), ("--to", "last")):
        parser.add_argument(
            flag,
            dest=flag.removeprefix("--"),
            type=_seconds,
            default=None,
            metavar="S",
            help=f"the {side} moment shown, in seconds from the record's first event",
        )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds >= 0, not {text!r}")
    return value


def _window(args: argparse.Namespace) -> Window:
    start, end = getattr(args, "from"), args.to
    if start is not None and end is not None and not start < end:
        raise ValueError(f"--from ({start:g} s) must come before --to ({end:g} s)")
    return start, end


# Control characters (escape sequences above all) from a record are shown,
# never obeyed: a record may come from elsewhere, and may be damaged.
_CONTROLS = {n: f"\\x{n:02x}" for n in (*range(0x20), *range(0x7F, 0xA0)) if n != 0x09}


def _printable(text: str) -> str:
    return text.translate(_CONTROLS)


def _print_events(path: str, window: Window) -> int:
    history = _recorded_run(path)
    first = min(event.at for event in history)
    start, end = window
    try:
        for event in history:
            moment = event.at - first
            if (start is None or moment >= start) and (end is None or moment <= end):
                print(f"{moment:9.3f}s  {_printable(describe_event(event))}")
    except BrokenPipeError:
        # `healthdaemons events run.jsonl | head`: the reader has had enough.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _recorded_run(path: str) -> list[Event]:
    """The valid events of a record; each bad line is reported on stderr
    (`run.jsonl:17: skipped: ...`) and skipped. `ValueError` if none is valid."""

    skipped: list[int] = []

    def skip(number: int, problem: str) -> None:
        skipped.append(number)
        print(f"{path}:{number}: skipped: {problem}", file=sys.stderr)

    try:
        history = load_events(path, on_bad_line=skip)
    except OSError as error:
        raise ValueError(f"{path}: cannot read: {error.strerror or error}") from error
    if skipped and not history:
        lines = "its line is" if len(skipped) == 1 else f"none of its {len(skipped)} lines is"
        raise ValueError(f"{path}: not a recorded run: {lines} an event")
    if not history:
        raise ValueError(f"{path}: no events")
    return history


def _draw_lifecycle(output: str, kind: str | None, current: str | None) -> int:
    from viz import lifecycle_dot, save_drawing

    source = lifecycle_dot(
        None if kind is None else EntryKind(kind),
        current=None if current is None else LifecycleState(current),
    )
    print(save_drawing(source, output))
    return 0


def _draw_graph(reference: str, output: str) -> int:
    from viz import save_drawing, system_dot

    print(save_drawing(system_dot(load_system(reference)), output))
    return 0


def _draw_timeline(record: str, output: str, window: Window) -> int:
    from viz import timeline

    if Path(output).suffix.lower() not in (".svg", ".png"):
        raise ValueError(f"{output}: a timeline is drawn as .svg or .png; give one of them")
    start, end = window
    timeline(_recorded_run(record), start=start, end=end).save(output)
    print(output)
    return 0


def _up(config: str, record: str | None, until_ready: bool, timeout: float | None) -> int:
    from rich.console import Console

    from ._up import run_up

    daemons = load_config(config, check_programs=True)
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
        )
    )


def _searching(args: argparse.Namespace) -> int:
    """verify or explore: long searches, whose output is often piped."""
    try:
        if args.command == "verify":
            return _verify(args.system, args.budget, args.examples, args.seed)
        return _explore(args.system, args.max_states)
    except KeyboardInterrupt:
        print("healthdaemons: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `healthdaemons verify FILE | head`: the reader has had enough.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _verify(reference: str, budget: float | None, examples: int, seed: int) -> int:
    from .testing import VerificationError, verify

    if budget is not None and not budget >= 0:
        raise ValueError(f"--budget must be a number of seconds >= 0, not {budget}")
    if examples < 0:
        raise ValueError(f"--examples must be 0 or more, not {examples}")
    try:
        print(
            verify(
                load_system(reference),
                max_examples=examples,
                shutdown_budget=budget,
                random_seed=seed,
            )
        )
    except VerificationError as error:
        print(error)
        return 1
    return 0


def _explore(reference: str, max_states: int) -> int:
    from .testing import ExplorationError, explore

    if max_states < 1:
        raise ValueError(f"--max-states must be 1 or more, not {max_states}")
    try:
        print(explore(load_system(reference), max_states=max_states))
    except ExplorationError as error:
        print(error)
        return 1
    return 0


def load_system(reference: str) -> Daemons:
    """The `Daemons` of a config file (`*.toml`), or the one `module:attribute`
    names (the attribute may be a function returning one; the current
    directory is importable)."""
    if reference.endswith(".toml"):
        return load_config(reference)
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute or os.path.exists(reference):
        raise ValueError(
            f"{reference!r}: name a system as a config file (.toml) or as module:attribute"
        )
    if "" not in sys.path:
        sys.path.insert(0, "")
    try:
        value: object = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"{reference!r}: cannot import {module_name}: {error}") from error
    for name in attribute.split("."):
        if not hasattr(value, name):
            raise ValueError(f"{reference!r}: {module_name} has no attribute {attribute!r}")
        value = getattr(value, name)
    if callable(value) and not isinstance(value, Daemons):
        value = value()
        if inspect.iscoroutine(value):
            value.close()
            raise ValueError(f"{reference!r} is async; name a Daemons or a plain function")
    if not isinstance(value, Daemons):
        name = type(value).__name__
        article = "an" if name[0] in "aeiouAEIOU" else "a"
        raise ValueError(f"{reference!r} is {article} {name}, not a Daemons")
    return value


def _version() -> str:
    try:
        return version("healthdaemons")
    except PackageNotFoundError:
        return "unknown"
