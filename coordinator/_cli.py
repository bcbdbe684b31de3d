"""The `healthdaemons` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

from statemachines import EntryKind, transitions_for

from ._events import describe_event, load_events


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="healthdaemons",
        description="Supervise daemons, oneshots and health checks that depend on each other.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    table = commands.add_parser("table", help="print the lifecycle transition table")
    table.add_argument("--kind", choices=[k.value for k in EntryKind], default="daemon")
    events = commands.add_parser("events", help="print a recorded run (JSON lines) as text")
    events.add_argument("record", help="a file written by dump_events")
    args = parser.parse_args(argv)
    if args.command == "table":
        return _print_table(EntryKind(args.kind))
    return _print_events(args.record)


def _print_table(kind: EntryKind) -> int:
    print(f"{'from':<10} {'event':<16} {'guard':<36} to")
    for row in transitions_for(kind):
        guards = [g.value for g in row.conditions] + [f"not {g.value}" for g in row.unless]
        dest = row.dest.value if row.dest else f"{row.source.value} (internal)"
        print(f"{row.source.value:<10} {row.event.value:<16} {', '.join(guards):<36} {dest}")
    return 0


def _print_events(path: str) -> int:
    try:
        history = load_events(path)
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(f"healthdaemons: cannot read {path}: {error}", file=sys.stderr)
        return 2
    start = history[0].at if history else 0.0
    for event in history:
        print(f"{event.at - start:9.3f}s  {describe_event(event)}")
    return 0


def _version() -> str:
    try:
        return version("healthdaemons")
    except PackageNotFoundError:
        return "unknown"
