"""The arguments of each command of `healthdaemons`, and their types.

Only the chosen command's arguments are defined, and this module imports
only the standard library and the client: the client commands must start
quickly. Lists that need the library (states, kinds) import it when built.
"""

from __future__ import annotations

import argparse
import functools
import math
import os
from collections.abc import Callable
from typing import NamedTuple

from ._control_commands import Ids, add_address

__all__ = [
    "DRAWING",
    "EVERYTHING",
    "PROFILES_VARIABLE",
    "WEB_ADDRESS",
    "Selection",
    "Window",
    "check_arguments",
    "client_arguments",
    "events_arguments",
    "explore_arguments",
    "export_arguments",
    "graph_arguments",
    "import_arguments",
    "lifecycle_arguments",
    "logs_arguments",
    "no_arguments",
    "selection",
    "table_arguments",
    "timeline_arguments",
    "up_arguments",
    "verify_arguments",
    "wait_arguments",
    "web_arguments",
    "web_command_arguments",
    "window",
]


# The arguments of each command

_RECORD_HELP = (
    "a file written by dump_events or `up --record`; lines that are not events "
    "(a last line cut off by a killed `up`, say) are reported on stderr and skipped"
)
_SYSTEM_HELP = "a config file (.toml), or module:attribute naming a Daemons"
_LIBRARY_DEFAULT = "default: see `healthdaemons defaults`"
DRAWING = "the format comes from the extension: .svg, .png, or .dot (the DOT source)"


def _kinds(parser: argparse.ArgumentParser, default: str | None) -> None:
    from statemachines import EntryKind

    parser.add_argument("--kind", choices=[k.value for k in EntryKind], default=default)


def no_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def table_arguments(parser: argparse.ArgumentParser) -> None:
    _kinds(parser, default="daemon")


def events_arguments(parser: argparse.ArgumentParser) -> None:
    add_address(parser, "none")
    parser.usage = (
        "%(prog)s RECORD [--from S] [--to S]\n"
        "       %(prog)s FILE [-f] [--json]\n"
        "       %(prog)s --socket PATH [-f] [--json]"
    )
    (words,) = (action for action in parser._actions if action.dest == "words")
    words.metavar = "RECORD | FILE"
    words.help = f"{_RECORD_HELP}; or, for a running system, its config file (.toml)"
    parser.add_argument(
        "-f", "--follow", action="store_true", help="then each new event, until the system stops"
    )
    _add_window(parser)


def lifecycle_arguments(parser: argparse.ArgumentParser) -> None:
    from statemachines import LifecycleState

    parser.add_argument("-o", "--output", required=True, help="the file to write")
    _kinds(parser, default=None)
    parser.add_argument("--current", choices=[s.value for s in LifecycleState], default=None)


def graph_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("system", help=_SYSTEM_HELP)
    _selection_arguments(parser, "draw")
    parser.add_argument("-o", "--output", required=True, help="the file to write")


PROFILES_VARIABLE = "HEALTHDAEMONS_PROFILES"
"""The active profiles (comma-separated) when no --profile is given."""


def _selection_arguments(parser: argparse.ArgumentParser, verb: str) -> None:
    parser.add_argument(
        "services",
        nargs="*",
        metavar="ID",
        help=f"{verb} only these services and what they require (default: every enabled one)",
    )
    parser.add_argument(
        "--no-deps",
        action="store_true",
        help="only the services named, without what they require",
    )
    parser.add_argument(
        "--profile",
        action="append",
        metavar="NAME",
        help="enable the services of this profile (repeatable; "
        f"default: ${PROFILES_VARIABLE}, comma-separated)",
    )


class Selection(NamedTuple):
    """The part of a config file to run, as `load_config` takes it."""

    services: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()
    dependencies: bool = True


EVERYTHING = Selection()
"""Every enabled service of the file, none of its profiles active."""


def selection(args: argparse.Namespace) -> Selection:
    profiles: list[str] | None = args.profile
    if profiles is None:
        given = os.environ.get(PROFILES_VARIABLE, "")
        profiles = [name.strip() for name in given.split(",") if name.strip()]
    return Selection(tuple(args.services), tuple(profiles), not args.no_deps)


def timeline_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("record", help=_RECORD_HELP)
    parser.add_argument("-o", "--output", required=True, help="the .svg or .png file to write")
    _add_window(parser)


def up_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="a TOML file (see docs/config.md)")
    _selection_arguments(parser, "start")
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
        "--detach",
        action="store_true",
        help="run in the background (its output goes to a log file); print its pid, "
        "socket and log, and return once it answers; `healthdaemons down FILE` stops it",
    )
    # Given by `--detach` to the `up` it starts, which then ignores SIGHUP.
    parser.add_argument("--detached", action="store_true", help=argparse.SUPPRESS)
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
    web_arguments(parser, optional=True)
    parser.add_argument(
        "--exit-code-from",
        metavar="ID",
        help="stop everything in order when service ID exits (a test runner, say), and "
        "exit with its exit code",
    )
    parser.add_argument(
        "--output-lines",
        type=_count(0),
        metavar="N",
        help="latest output lines kept per service for `logs` (default 1000)",
    )
    parser.add_argument(
        "--output-bytes",
        type=_count(0),
        metavar="N",
        help="latest output bytes kept per service for `logs` (default 1048576)",
    )
    parser.add_argument(
        "--record-output",
        action="store_true",
        help="with --record: the services' output lines go into the record too",
    )
    parser.add_argument(
        "--log-dir",
        metavar="DIR",
        help="write each service's output, timestamped, to DIR/ID.log (services with "
        "their own log_file keep it)",
    )
    parser.add_argument(
        "--log-max-bytes",
        metavar="SIZE",
        help="rotate a --log-dir file before it passes SIZE (bytes, or 10MB, 512KB; "
        "0: never; default 50MB)",
    )
    parser.add_argument(
        "--log-backups",
        type=_count(0),
        metavar="N",
        help="rotated --log-dir files kept per service (ID.log.1 ... ID.log.N; default 10)",
    )


WEB_ADDRESS = "127.0.0.1:9180"
"""Where the web console listens by default."""


def web_arguments(parser: argparse.ArgumentParser, *, optional: bool) -> None:
    """--web [HOST:PORT] (for `up`, where it is optional), --listen-remote."""
    parser.add_argument(
        "--web",
        nargs="?" if optional else None,
        const=WEB_ADDRESS if optional else None,
        default=None if optional else WEB_ADDRESS,
        metavar="HOST:PORT",
        help=f"{'also ' if optional else ''}serve the web console and the control API on TCP "
        f"(default {WEB_ADDRESS}; PORT alone: 127.0.0.1; port 0: any free port); "
        "the URL printed at the start carries the token; see docs/web.md",
    )
    parser.add_argument(
        "--listen-remote",
        action="store_true",
        help="allow --listen or --web on an address other than loopback"
        if optional
        else "allow --web on an address other than loopback",
    )


def web_command_arguments(parser: argparse.ArgumentParser) -> None:
    parser.usage = (
        "%(prog)s FILE [--web HOST:PORT] [--listen-remote]\n"
        "       %(prog)s -f FILE [--web HOST:PORT] [--listen-remote]\n"
        "       %(prog)s --socket PATH [--web HOST:PORT] [--listen-remote]"
    )
    parser.add_argument(
        "config", nargs="?", metavar="FILE", help="the config file (.toml) that `up` runs"
    )
    parser.add_argument("-f", "--file", metavar="FILE", help="the config file, as an option")
    parser.add_argument(
        "--socket",
        metavar="PATH",
        help="the control socket of the system (that of `up --socket PATH`), instead of FILE's",
    )
    web_arguments(parser, optional=False)


def check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="a TOML file")
    _selection_arguments(parser, "check")


def export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", choices=["compose", "kubernetes"], help="what to export to")
    parser.add_argument("config", help="a TOML file")
    parser.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="compose: the file to write; kubernetes: a directory (one file per "
        "service) or a .yaml file (every document in one); default or -: stdout",
    )
    parser.add_argument(
        "--single-pod",
        action="store_true",
        help="kubernetes: the whole system as one Pod, its daemons as native sidecars "
        "(ordered start and shutdown kept)",
    )
    parser.add_argument("--namespace", metavar="NS", help="kubernetes: the namespace")
    _force_argument(parser)


def import_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="a compose file, a process-compose file or a Procfile")
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="the TOML file; default or -: stdout"
    )
    parser.add_argument(
        "--format",
        choices=["compose", "process-compose", "procfile"],
        help="default: from the file's name and contents",
    )
    _force_argument(parser)


def _force_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--force",
        action="store_true",
        help="overwrite an output that healthdaemons did not write",
    )


def verify_arguments(parser: argparse.ArgumentParser) -> None:
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


def explore_arguments(parser: argparse.ArgumentParser) -> None:
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


def client_arguments(ids: Ids, what: str = "") -> Callable[[argparse.ArgumentParser], None]:
    return functools.partial(add_address, ids=ids, what=what)


def logs_arguments(parser: argparse.ArgumentParser) -> None:
    add_address(parser, "optional", "then the entry whose output to show (all if left out)")
    parser.add_argument(
        "-f", "--follow", action="store_true", help="then each new line, until the system stops"
    )
    parser.add_argument(
        "-n",
        "--lines",
        type=_count(0),
        metavar="N",
        help="the last N lines (default: 100, or 10 with -f)",
    )


def wait_arguments(parser: argparse.ArgumentParser) -> None:
    add_address(parser, "some", "then the entries to wait for (all if none is named)")
    parser.add_argument(
        "--timeout", type=_seconds, default=None, metavar="S", help="give up after S seconds"
    )


# Argument types and helpers

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


def window(args: argparse.Namespace) -> Window:
    start, end = getattr(args, "from"), args.to
    if start is not None and end is not None and not start < end:
        raise ValueError(f"--from ({start:g} s) must come before --to ({end:g} s)")
    return start, end
