"""The `healthdaemons` command: a parser built from a table of commands
(`COMMANDS`), each carried out by one small function."""

from __future__ import annotations

import argparse
import functools
import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, NoReturn

import anyio
from rich.console import Console

from coordinator import (
    Event,
    defaults_table,
    describe_event,
    describe_plan,
    load_config,
    load_events,
    load_system,
)
from coordinator.errors import HealthDaemonsError
from statemachines import EntryKind, LifecycleState
from viz import lifecycle_dot, lifecycle_table, save_drawing, system_dot, timeline

from ._control_options import ControlOptions, parse_listen
from ._control_paths import ControlPaths
from ._up import run_up


def main(argv: Sequence[str] | None = None) -> int:
    status = 0
    try:
        try:
            status = _run(argv)
        finally:
            # Flushed here, where a reader gone is caught, not in Python's
            # final flush, which would report it and exit 120.
            sys.stdout.flush()
    except BrokenPipeError:
        # `healthdaemons table | head`: the reader has had enough.
        _discard_stdout()
    return status


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command].run(args)
    except UsageError as error:
        usage_error: Callable[[str], NoReturn] = args.usage_error
        usage_error(str(error))
    except BrokenPipeError:
        raise
    except (HealthDaemonsError, ValueError, OSError) as error:
        print(f"healthdaemons: {error}", file=sys.stderr)
        return 2


def _discard_stdout() -> None:
    """What is left to print, and Python's final flush, go nowhere."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="healthdaemons",
        description="Supervise daemons, oneshots and health checks that depend on each other.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name, command in COMMANDS.items():
        subparser = subparsers.add_parser(name, help=command.help, description=command.description)
        command.arguments(subparser)
        # A `UsageError` is told with the usage of its command, as argparse's own errors are.
        subparser.set_defaults(usage_error=subparser.error)
    return parser


@dataclass(frozen=True)
class Subcommand:
    """One subcommand: what `--help` says of it, its arguments, and what it does."""

    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    """The exit status; `UsageError` for arguments that do not go together."""
    description: str | None = None


class UsageError(Exception):
    """Arguments that parse but do not go together: reported with the usage, exit 2."""


# The arguments of each command

_RECORD_HELP = (
    "a file written by dump_events or `up --record`; lines that are not events "
    "(a last line cut off by a killed `up`, say) are reported on stderr and skipped"
)
_SYSTEM_HELP = "a config file (.toml), or module:attribute naming a Daemons"
_LIBRARY_DEFAULT = "default: see `healthdaemons defaults`"
_DRAWING = "the format comes from the extension: .svg, .png, or .dot (the DOT source)"


def _kinds(parser: argparse.ArgumentParser, default: str | None) -> None:
    parser.add_argument("--kind", choices=[k.value for k in EntryKind], default=default)


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def _table_arguments(parser: argparse.ArgumentParser) -> None:
    _kinds(parser, default="daemon")


def _events_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("record", help=_RECORD_HELP)
    _add_window(parser)


def _lifecycle_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", required=True, help="the file to write")
    _kinds(parser, default=None)
    parser.add_argument("--current", choices=[s.value for s in LifecycleState], default=None)


def _graph_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("system", help=_SYSTEM_HELP)
    parser.add_argument("-o", "--output", required=True, help="the file to write")


def _timeline_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("record", help=_RECORD_HELP)
    parser.add_argument("-o", "--output", required=True, help="the .svg or .png file to write")
    _add_window(parser)


def _up_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="a TOML file (see docs/config.md)")
    parser.add_argument("--record", metavar="RUN.jsonl", help="write every event as JSON lines")
    parser.add_argument(
        "--until-ready",
        action="store_true",
        help="stop in order once everything is ready (exit 0), or at --timeout or "
        "when a service gives up (exit 1)",
    )
    parser.add_argument(
        "--timeout", type=_seconds, default=None, metavar="S", help="seconds, with --until-ready"
    )
    parser.add_argument(
        "--socket",
        metavar="PATH",
        help="the control socket (default: in the per-user runtime directory, "
        "named after the config file)",
    )
    parser.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help="also serve the control API on TCP (PORT alone: 127.0.0.1; port 0: any free "
        "port), every request needing the token printed at the start; see docs/api.md",
    )
    parser.add_argument(
        "--listen-remote",
        action="store_true",
        help="allow --listen on an address other than loopback",
    )


def _check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="a TOML file")


def _verify_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("system", help=_SYSTEM_HELP)
    parser.add_argument(
        "--budget", type=_seconds, default=None, metavar="S", help="every shutdown within S seconds"
    )
    parser.add_argument(
        "--examples",
        type=_count(0),
        metavar="N",
        help=f"random fault schedules to try ({_LIBRARY_DEFAULT})",
    )
    parser.add_argument(
        "--seed",
        type=int,
        metavar="N",
        help="for the random search (by default the same one: repeatable)",
    )


def _explore_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("system", help=_SYSTEM_HELP)
    parser.add_argument(
        "--max-states",
        type=_count(1),
        metavar="N",
        help=f"stop after this many ({_LIBRARY_DEFAULT})",
    )
    parser.add_argument(
        "--operator-actions",
        type=_count(0),
        metavar="N",
        help=f"stops, starts and restarts tried along one path, 0 for none ({_LIBRARY_DEFAULT})",
    )


# What each command does


def _table_command(args: argparse.Namespace) -> int:
    return _print_table(EntryKind(args.kind))


def _defaults_command(args: argparse.Namespace) -> int:
    print(defaults_table())
    return 0


def _events_command(args: argparse.Namespace) -> int:
    return _print_events(args.record, _window(args))


def _lifecycle_command(args: argparse.Namespace) -> int:
    return _draw_lifecycle(args.output, args.kind, args.current)


def _graph_command(args: argparse.Namespace) -> int:
    return _draw_graph(args.system, args.output)


def _timeline_command(args: argparse.Namespace) -> int:
    return _draw_timeline(args.record, args.output, _window(args))


def _up_command(args: argparse.Namespace) -> int:
    if args.timeout is not None and not args.until_ready:
        raise UsageError("--timeout needs --until-ready (a plain `up` runs until Ctrl-C)")
    if args.listen_remote and args.listen is None:
        raise UsageError("--listen-remote goes with --listen HOST:PORT")
    listen = None if args.listen is None else parse_listen(args.listen, remote=args.listen_remote)
    paths = ControlPaths.for_config(args.config) if args.socket is None else None
    control = ControlOptions(
        paths or ControlPaths.beside(args.socket), config=args.config, listen=listen
    )
    return _up(args.config, args.record, args.until_ready, args.timeout, control)


def _check_command(args: argparse.Namespace) -> int:
    print(describe_plan(load_config(args.config, check_programs=True), args.config))
    return 0


def _verify_command(args: argparse.Namespace) -> int:
    return _searching(
        functools.partial(_verify, args.system, args.budget, args.examples, args.seed)
    )


def _explore_command(args: argparse.Namespace) -> int:
    return _searching(
        functools.partial(_explore, args.system, args.max_states, args.operator_actions)
    )


COMMANDS: dict[str, Subcommand] = {
    "table": Subcommand(
        "print the lifecycle tables: transitions, then state-triggered rules",
        _table_arguments,
        _table_command,
    ),
    "defaults": Subcommand(
        "print every default value of the library (Markdown)", _no_arguments, _defaults_command
    ),
    "events": Subcommand(
        "print a recorded run (JSON lines) as text", _events_arguments, _events_command
    ),
    "lifecycle": Subcommand(
        "draw the lifecycle state machine",
        _lifecycle_arguments,
        _lifecycle_command,
        description=_DRAWING,
    ),
    "graph": Subcommand(
        "draw a system's dependency graph", _graph_arguments, _graph_command, description=_DRAWING
    ),
    "timeline": Subcommand(
        "draw a recorded run as a timeline (SVG or PNG)",
        _timeline_arguments,
        _timeline_command,
        description="The format comes from the extension: .svg, or .png (rendered by the "
        "Graphviz renderer that draws the other diagrams). A timeline has no DOT source.",
    ),
    "up": Subcommand(
        "run the system of a config file until Ctrl-C or SIGTERM",
        _up_arguments,
        _up_command,
        description="Ctrl-C, SIGTERM, SIGHUP or SIGQUIT stops it in order, dependents "
        "first; a second one SIGKILLs what is left. Other signals are ignored.",
    ),
    "check": Subcommand(
        "validate a config file; print the start layers and the shutdown order",
        _check_arguments,
        _check_command,
    ),
    "verify": Subcommand(
        "run a system many times under simulated faults and check the invariants",
        _verify_arguments,
        _verify_command,
        description="Nothing is started: processes and checks are simulated on a mock clock. "
        "Exit 1 with the shrunk counterexample if a run breaks an invariant or the budget.",
    ),
    "explore": Subcommand(
        "check the invariants in every interleaving of a small system's events",
        _explore_arguments,
        _explore_command,
        description="For systems of up to about 4 or 5 entries. Exit 1 with the path "
        "to a violation.",
    ),
}
"""Every command, in the order `--help` lists them."""


# How the commands do it


def _print_table(kind: EntryKind) -> int:
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


def _count(minimum: int) -> Callable[[str], int]:
    """An argument type: a whole number >= `minimum`."""

    def count(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum} or more, not {value}")
        return value

    return count


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
    for event in history:
        moment = event.at - first
        if (start is None or moment >= start) and (end is None or moment <= end):
            print(f"{moment:9.3f}s  {_printable(describe_event(event))}")
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
        lines = (
            "its one line is not" if len(skipped) == 1 else f"none of its {len(skipped)} lines is"
        )
        raise ValueError(f"{path}: not a recorded run: {lines} an event")
    if not history:
        raise ValueError(f"{path}: no events")
    return history


def _draw_lifecycle(output: str, kind: str | None, current: str | None) -> int:
    source = lifecycle_dot(
        None if kind is None else EntryKind(kind),
        current=None if current is None else LifecycleState(current),
    )
    print(save_drawing(source, output))
    return 0


def _draw_graph(reference: str, output: str) -> int:
    print(save_drawing(system_dot(load_system(reference)), output))
    return 0


def _draw_timeline(record: str, output: str, window: Window) -> int:
    if Path(output).suffix.lower() not in (".svg", ".png"):
        raise ValueError(f"{output}: a timeline is drawn as .svg or .png; give one of them")
    start, end = window
    timeline(_recorded_run(record), start=start, end=end).save(output)
    print(output)
    return 0


def _up(
    config: str,
    record: str | None,
    until_ready: bool,
    timeout: float | None,
    control: ControlOptions,
) -> int:
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
            control=control,
        )
    )


def _searching(search: Callable[[], int]) -> int:
    """verify or explore: long searches, whose output is often piped."""
    try:
        return search()
    except KeyboardInterrupt:
        print("healthdaemons: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `healthdaemons verify FILE | head`: the search was cut short, so
        # not verified (exit 1).
        _discard_stdout()
        return 1


def _verify(reference: str, budget: float | None, examples: int | None, seed: int | None) -> int:
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


def _explore(reference: str, max_states: int | None, operator_actions: int | None) -> int:
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


def _version() -> str:
    try:
        return version("healthdaemons")
    except PackageNotFoundError:
        return "unknown"
