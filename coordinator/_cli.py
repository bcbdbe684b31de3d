"""The `healthdaemons` command."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from statemachines import EntryKind, LifecycleState, transitions_for

from ._daemons import Daemons
from ._events import describe_event, load_events
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
    events = commands.add_parser("events", help="print a recorded run (JSON lines) as text")
    events.add_argument("record", help="a file written by dump_events")
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
    graph.add_argument("system", help="module:attribute naming a Daemons object")
    graph.add_argument("-o", "--output", required=True, help="the file to write")
    timeline = commands.add_parser(
        "timeline", help="draw a recorded run as a timeline (SVG)", description=drawing
    )
    timeline.add_argument("record", help="a file written by dump_events")
    timeline.add_argument("-o", "--output", required=True, help="the .svg file to write")
    args = parser.parse_args(argv)
    try:
        if args.command == "table":
            return _print_table(EntryKind(args.kind))
        if args.command == "events":
            return _print_events(args.record)
        if args.command == "lifecycle":
            return _draw_lifecycle(args.output, args.kind, args.current)
        if args.command == "graph":
            return _draw_graph(args.system, args.output)
        return _draw_timeline(args.record, args.output)
    except (HealthDaemonsError, ValueError, OSError) as error:
        print(f"healthdaemons: {error}", file=sys.stderr)
        return 2


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


def _draw_timeline(record: str, output: str) -> int:
    from viz import timeline_svg

    if Path(output).suffix.lower() != ".svg":
        raise ValueError(f"{output}: a timeline is drawn as SVG; give a .svg file")
    Path(output).write_text(timeline_svg(load_events(record)), encoding="utf-8")
    print(output)
    return 0


def load_system(reference: str) -> Daemons:
    """The `Daemons` that `module:attribute` names (the attribute may be a
    function returning one); the current directory is importable."""
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"{reference!r}: name a system as module:attribute")
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
    if not isinstance(value, Daemons):
        raise ValueError(f"{reference!r} is a {type(value).__name__}, not a Daemons")
    return value


def _version() -> str:
    try:
        return version("healthdaemons")
    except PackageNotFoundError:
        return "unknown"
