"""The `healthdaemons` command: a parser built from a table of commands
(`COMMANDS`), each carried out by one small function.

A command loads what it needs when it runs. The client commands (`ps`,
`logs`, `restart` ...) must start quickly, so this module imports only the
standard library and the client; the library's commands are carried out in
`_file_commands`, imported when one of them runs; and only the chosen
command's arguments are defined (some list the library's states and kinds).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import NoReturn

from . import _control_commands as control
from ._cli_arguments import (
    DRAWING,
    check_arguments,
    client_arguments,
    events_arguments,
    explore_arguments,
    export_arguments,
    graph_arguments,
    import_arguments,
    lifecycle_arguments,
    logs_arguments,
    no_arguments,
    selection,
    table_arguments,
    timeline_arguments,
    up_arguments,
    verify_arguments,
    wait_arguments,
    web_command_arguments,
    window,
)
from ._client import ControlClient


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
    arguments = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_chosen(arguments))
    args = parser.parse_args(arguments)
    try:
        return COMMANDS[args.command].run(args)
    except (UsageError, control.AddressError) as error:
        usage_error: Callable[[str], NoReturn] = args.usage_error
        usage_error(str(error))
    except BrokenPipeError:
        raise
    except Exception as error:
        if not _told(error):
            raise
        print(f"healthdaemons: {error}", file=sys.stderr)
        return 2


def _chosen(arguments: list[str]) -> str | None:
    """The command named, if it is one (the options before it take no value)."""
    for word in arguments:
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def _told(error: Exception) -> bool:
    """Whether `error` is a mistake to tell in one line (exit 2), not a bug."""
    if isinstance(error, ValueError | OSError):
        return True
    # The library's own errors; if the library was never loaded (the client
    # commands do not load it), none can have been raised.
    errors = sys.modules.get("coordinator.errors")
    return errors is not None and isinstance(error, errors.HealthDaemonsError)


def _discard_stdout() -> None:
    """What is left to print, and Python's final flush, go nowhere."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command; with `command`, only that command's
    arguments are defined (the others' would load what they need)."""
    parser = argparse.ArgumentParser(
        prog="healthdaemons",
        description="Supervise daemons, oneshots and health checks that depend on each other.",
    )
    parser.add_argument("--version", action=_Version, nargs=0, help="print the version and exit")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name, row in COMMANDS.items():
        subparser = subparsers.add_parser(name, help=row.help, description=row.description)
        if command is None or command == name:
            row.arguments(subparser)
        # A `UsageError` is told with the usage of its command, as argparse's own errors are.
        subparser.set_defaults(usage_error=subparser.error, command_parser=subparser)
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


# What each command does. The library's commands are carried out by
# `_file_commands`, imported when one runs; the client's by `_control_commands`.


def _table_command(args: argparse.Namespace) -> int:
    from ._file_commands import print_table

    return print_table(args.kind)


def _defaults_command(args: argparse.Namespace) -> int:
    from ._file_commands import defaults

    return defaults()


def _events_command(args: argparse.Namespace) -> int:
    """A recorded run, or, given a config file (.toml) or --socket, the running system."""
    words: list[str] = args.words
    live = args.socket is not None or any(word.endswith(".toml") for word in words)
    if live:
        if getattr(args, "from") is not None or args.to is not None:
            raise UsageError("--from and --to are for a recorded run, not a running system")
        return _client(args, lambda client: control.events(client, args.follow, args.json))
    if len(words) != 1:
        raise UsageError("give one recorded run (or the config file of a running system)")
    if args.follow or args.json:
        raise UsageError(
            "-f and --json are for a running system: give its config file (.toml) or --socket"
        )
    from ._file_commands import print_events

    return print_events(words[0], window(args))


def _lifecycle_command(args: argparse.Namespace) -> int:
    from ._file_commands import draw_lifecycle

    return draw_lifecycle(args.output, args.kind, args.current)


def _graph_command(args: argparse.Namespace) -> int:
    from ._file_commands import draw_graph

    return draw_graph(args.system, args.output, selection(args))


def _timeline_command(args: argparse.Namespace) -> int:
    from ._file_commands import draw_timeline

    return draw_timeline(args.record, args.output, window(args))


def _up_command(args: argparse.Namespace) -> int:
    if args.timeout is not None and not args.until_ready:
        raise UsageError("--timeout needs --until-ready (a plain `up` runs until Ctrl-C)")
    if args.listen_remote and args.listen is None and args.web is None:
        raise UsageError("--listen-remote goes with --listen HOST:PORT or --web HOST:PORT")
    if args.detach and args.until_ready:
        raise UsageError("--detach runs until `down`; --until-ready is for a run in front")
    if args.record_output and args.record is None:
        raise UsageError("--record-output goes with --record FILE")
    if args.log_dir is None and (args.log_max_bytes is not None or args.log_backups is not None):
        raise UsageError("--log-max-bytes and --log-backups go with --log-dir DIR")
    from ._file_commands import control_options, log_dir, up

    control = control_options(
        args.config, args.socket, args.listen, args.listen_remote, web=args.web
    )
    if args.detach:
        from ._detach import detach

        return detach(args, args.command_parser, control.paths)
    kept = {
        f"output_{name}": value
        for name, value in (("lines", args.output_lines), ("bytes", args.output_bytes))
        if value is not None
    }
    if args.exit_code_from is not None:
        kept["exit_code_from"] = args.exit_code_from
    return up(
        args.config,
        args.record,
        args.until_ready,
        args.timeout,
        control,
        detached=args.detached,
        build_options=kept,
        service_logs=log_dir(args.log_dir, args.log_max_bytes, args.log_backups),
        record_output=args.record_output,
        chosen=selection(args),
    )


def _check_command(args: argparse.Namespace) -> int:
    from ._file_commands import check

    return check(args.config, selection(args))


def _verify_command(args: argparse.Namespace) -> int:
    from ._file_commands import verify

    return _searching(functools.partial(verify, args.system, args.budget, args.examples, args.seed))


def _explore_command(args: argparse.Namespace) -> int:
    from ._file_commands import explore

    return _searching(
        functools.partial(explore, args.system, args.max_states, args.operator_actions)
    )


def _export_command(args: argparse.Namespace) -> int:
    if args.target == "compose" and (args.single_pod or args.namespace is not None):
        raise UsageError("--single-pod and --namespace are for `export kubernetes`")
    from ._export_commands import export

    return export(
        args.target,
        args.config,
        args.output,
        single_pod=args.single_pod,
        namespace=args.namespace,
        force=args.force,
    )


def _import_command(args: argparse.Namespace) -> int:
    from ._export_commands import import_file

    return import_file(args.source, args.output, args.format, force=args.force)


def _client(args: argparse.Namespace, work: Callable[[ControlClient], Awaitable[int]]) -> int:
    return control.run_client(args, work)


def _ps_command(args: argparse.Namespace) -> int:
    return _client(args, lambda client: control.ps(client, args.json))


def _logs_command(args: argparse.Namespace) -> int:
    ids = control.address(args).ids
    entry = ids[0] if ids else None
    return _client(
        args, lambda client: control.logs(client, entry, args.lines, args.follow, args.json)
    )


def _action(action: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        (entry,) = control.address(args).ids
        return _client(args, lambda client: control.act(client, action, entry, args.json))

    return run


def _wait_command(args: argparse.Namespace) -> int:
    entries = control.address(args).ids
    return _client(args, lambda client: control.wait(client, entries, args.timeout, args.json))


def _down_command(args: argparse.Namespace) -> int:
    return _client(args, lambda client: control.down(client, args.json))


def _web_command(args: argparse.Namespace) -> int:
    given = [name for name in (args.config, args.file) if name is not None]
    if len(given) + (args.socket is not None) != 1:
        raise UsageError(
            "give the config file of the running system (FILE or -f FILE), or --socket"
        )
    from ._web_forward import run_web

    return run_web(given[0] if given else None, args.socket, args.web, args.listen_remote)


_CLIENT = (
    "Finds the system by its config file, as `up` does, or by --socket PATH. "
    "Exit 0 when done, 1 when the action failed or timed out, 2 for bad usage, "
    "an unknown entry, or no running system."
)

COMMANDS: dict[str, Subcommand] = {
    "table": Subcommand(
        "print the lifecycle tables: transitions, then state-triggered rules",
        table_arguments,
        _table_command,
    ),
    "defaults": Subcommand(
        "print every default value of the library (Markdown)", no_arguments, _defaults_command
    ),
    "events": Subcommand(
        "print a recorded run (JSON lines) as text, or the events of a running system",
        events_arguments,
        _events_command,
        description="Given a config file (.toml) or --socket, the events of the system "
        "running it (with -f, then each new one until it stops); given any other file, "
        "the run it recorded (`up --record`).",
    ),
    "lifecycle": Subcommand(
        "draw the lifecycle state machine",
        lifecycle_arguments,
        _lifecycle_command,
        description=DRAWING,
    ),
    "graph": Subcommand(
        "draw a system's dependency graph", graph_arguments, _graph_command, description=DRAWING
    ),
    "timeline": Subcommand(
        "draw a recorded run as a timeline (SVG or PNG)",
        timeline_arguments,
        _timeline_command,
        description="The format comes from the extension: .svg, or .png (rendered by the "
        "Graphviz renderer that draws the other diagrams). A timeline has no DOT source.",
    ),
    "up": Subcommand(
        "run the system of a config file until Ctrl-C or SIGTERM",
        up_arguments,
        _up_command,
        description="Ctrl-C, SIGTERM, SIGHUP or SIGQUIT stops it in order, dependents "
        "first; a second one SIGKILLs what is left. Other signals are ignored. With "
        "--detach it runs in the background, ignores SIGHUP, and `down` stops it.",
    ),
    "check": Subcommand(
        "validate a config file; print the start layers and the shutdown order",
        check_arguments,
        _check_command,
    ),
    "verify": Subcommand(
        "run a system many times under simulated faults and check the invariants",
        verify_arguments,
        _verify_command,
        description="Nothing is started: processes and checks are simulated on a mock clock. "
        "Exit 1 with the shrunk counterexample if a run breaks an invariant or the budget.",
    ),
    "explore": Subcommand(
        "check the invariants in every interleaving of a small system's events",
        explore_arguments,
        _explore_command,
        description="For systems of up to about 4 or 5 entries. Exit 1 with the path "
        "to a violation.",
    ),
    "export": Subcommand(
        "write a system as a docker compose file or Kubernetes manifests, with a fidelity report",
        export_arguments,
        _export_command,
        description="Each service runs in the image its [services.ID.container] table "
        "names, or the file's default [container] image. The report (on stderr, and at the "
        "top of what is written) says which guarantees the target keeps, approximates or "
        "loses. Exit 2 for a mistake in the file or a service that cannot be exported.",
    ),
    "import": Subcommand(
        "write a config file from a compose file, a process-compose file or a Procfile",
        import_arguments,
        _import_command,
        description="The same commands with the same dependencies and readiness; the "
        "report (on stderr, and at the top of the file) says what was not carried over "
        "and why.",
    ),
    "ps": Subcommand(
        "list the entries of a running system: state, pid, uptime, restarts, health",
        client_arguments("none"),
        _ps_command,
        description=_CLIENT,
    ),
    "logs": Subcommand(
        "print the recent output of a running system's entries (-f: and follow it)",
        logs_arguments,
        _logs_command,
        description=_CLIENT,
    ),
    "stop": Subcommand(
        "stop one entry, its dependents first; it stays stopped until `start`",
        client_arguments("one", "then the entry"),
        _action("stop"),
        description=_CLIENT,
    ),
    "start": Subcommand(
        "start an entry that `stop` stopped",
        client_arguments("one", "then the entry"),
        _action("start"),
        description=_CLIENT,
    ),
    "restart": Subcommand(
        "restart one entry as a fresh launch; its dependents restart after it",
        client_arguments("one", "then the entry"),
        _action("restart"),
        description=_CLIENT,
    ),
    "wait": Subcommand(
        "wait until entries of a running system are ready (exit 1 at --timeout)",
        wait_arguments,
        _wait_command,
        description=_CLIENT,
    ),
    "down": Subcommand(
        "stop a running system in order; return once its `up` has exited",
        client_arguments("none"),
        _down_command,
        description=_CLIENT,
    ),
    "web": Subcommand(
        "serve the web console of a running system (one started with `up --detach`)",
        web_command_arguments,
        _web_command,
        description="Serves the page on --web HOST:PORT and forwards its requests to the "
        "system's control socket; keeps running while the system stops and starts again. "
        "Open the URL it prints (it carries the token; see docs/web.md). Ctrl-C or SIGTERM "
        "end it.",
    ),
}
"""Every command, in the order `--help` lists them."""


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


class _Version(argparse.Action):
    """`--version`, looked up only when asked for (importlib.metadata takes a while to load)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("healthdaemons")
        except PackageNotFoundError:
            found = "unknown"
        print(f"{parser.prog} {found}")
        parser.exit()
