"""The commands that act on a running system through its control socket:
`ps`, `logs`, `stop`, `start`, `restart`, `wait`, `events` (live) and `down`.

Each finds the system by its config file, as `up` does, or by `--socket
PATH`; prints a table or plain lines, or JSON with `--json`; and exits as
docs/spec.md section 11 says: 0 done, 1 the action failed or timed out, 2
bad usage, an unknown entry, or no running system. Ctrl-C ends any of them
quietly (130). Only the client is loaded here, never the library.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Literal

import anyio

from ._client import (
    ConnectionLostError,
    ControlClient,
    ControlError,
    EntryStatus,
    NoSystemError,
    OutputLine,
    Skipped,
    UnknownEntryError,
)
from ._text import printable

__all__ = [
    "INTERRUPTED",
    "AddressError",
    "Ids",
    "act",
    "add_address",
    "address",
    "down",
    "duration",
    "entries_table",
    "events",
    "logs",
    "ps",
    "run_client",
    "wait",
]

INTERRUPTED = 130
"""Ctrl-C."""

Ids = Literal["none", "one", "optional", "some"]
"""The entry ids a command takes after FILE: none, exactly one, at most one, any number."""

_IDS_SHOWN: dict[str, str] = {"none": "", "one": " ID", "optional": " [ID]", "some": " [ID ...]"}


class AddressError(ValueError):
    """Positional arguments that do not fit the command: a usage error."""


@dataclass(frozen=True)
class Address:
    """Where the system is, and the entry ids given."""

    config: str | None
    socket: str | None
    ids: list[str]

    def client(self) -> ControlClient:
        if self.socket is not None:
            return ControlClient(self.socket)
        assert self.config is not None
        return ControlClient.for_config(self.config)


def add_address(parser: argparse.ArgumentParser, ids: Ids, what: str = "") -> None:
    """FILE (or --socket PATH), the entry ids `ids` says, and --json."""
    shown = _IDS_SHOWN[ids]
    parser.usage = f"%(prog)s FILE{shown} [options]\n       %(prog)s --socket PATH{shown} [options]"
    parser.add_argument(
        "words",
        nargs="*",
        metavar="FILE" + shown,
        help="the config file (.toml) that `up` runs, left out with --socket"
        + (f"; {what}" if what else ""),
    )
    parser.add_argument(
        "--socket",
        metavar="PATH",
        help="the control socket of the system (that of `up --socket PATH`), instead of FILE's",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(ids_taken=ids)


def address(args: argparse.Namespace) -> Address:
    """FILE and the ids from the positional arguments; `AddressError` if they do not fit."""
    words: list[str] = list(args.words)
    socket: str | None = args.socket
    config = None
    if socket is None:
        if not words:
            raise AddressError("give the config file of the running system, or --socket PATH")
        config, *words = words
    taken: Ids = args.ids_taken
    counts = {"none": (0, 0), "one": (1, 1), "optional": (0, 1), "some": (0, math.inf)}
    low, high = counts[taken]
    if not low <= len(words) <= high:
        if taken == "none":
            raise AddressError(f"unexpected arguments: {' '.join(words)}")
        raise AddressError(
            "give one entry id" if taken == "one" else f"too many entry ids: {' '.join(words)}"
        )
    return Address(config, socket, words)


def run_client(args: argparse.Namespace, work: Callable[[ControlClient], Awaitable[int]]) -> int:
    """Run `work` with a client of the system `args` addresses; its
    `ControlError`s told in one line, with the exit status they mean."""
    client = address(args).client()

    async def session() -> int:
        async with client:
            return await work(client)

    try:
        return anyio.run(session)
    except KeyboardInterrupt:
        return INTERRUPTED
    except (NoSystemError, UnknownEntryError) as error:
        print(f"healthdaemons: {error}", file=sys.stderr)
        return 2
    except ControlError as error:
        print(f"healthdaemons: {error}", file=sys.stderr)
        return 1


# ps


async def ps(client: ControlClient, as_json: bool) -> int:
    entries = await client.entries()
    if as_json:
        _print_json({"entries": entries})
    else:
        print(entries_table(entries), end="")
    return 0


def entries_table(entries: Sequence[EntryStatus]) -> str:
    """A plain text table of the entries, one row each."""
    header = ("ID", "KIND", "STATE", "PID", "UPTIME", "RESTARTS", "HEALTH")
    rows = [header, *(_row(entry) for entry in entries)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(header) - 1)]
    lines = [
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]])
        for row in rows
    ]
    return "".join(line.rstrip() + "\n" for line in lines)


def _row(entry: EntryStatus) -> tuple[str, ...]:
    held = " (ended)" if entry["ended"] else " (held)" if entry["held"] else ""
    state = entry["state"] + held
    pid = entry["pid"]
    uptime = entry["uptime"]
    return (
        printable(entry["id"]),
        entry["kind"],
        state,
        "-" if pid is None else str(pid),
        "-" if uptime is None else duration(uptime),
        str(entry["restarts"]),
        printable(_health(entry)),
    )


def _health(entry: EntryStatus) -> str:
    health = entry["health"]
    if entry["state"] == "stopped" and not entry["ended"]:
        return "-"  # the last result, from before it stopped, says nothing now
    if entry["state"] == "waiting":
        # As `up`'s table says it: the display names (a held one marked
        # "(stopped)"), or the ids when none has a display name.
        if health is not None and health["result"] == "waiting" and health["message"]:
            return f"waiting for {health['message']}"
        if entry["waiting_for"]:
            return "waiting for " + ", ".join(entry["waiting_for"])
    if health is not None and health["message"]:
        return f"{health['result']}: {health['message']}"
    return "-" if health is None else health["result"]


def duration(seconds: float) -> str:
    """`42s`, `3m05s`, `2h07m`, `3d04h`: short enough for a column."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h"


# logs


async def logs(
    client: ControlClient, entry: str | None, lines: int | None, follow: bool, as_json: bool
) -> int:
    """The last lines of one entry or of all; with `follow`, then each new
    one, until the system stops."""
    if entry is not None:
        await client.entry(entry)  # an unknown id is told before anything else
        width = 0
    else:
        width = max((len(e["id"]) for e in await client.entries()), default=0)
    if not follow:
        for line in await client.output(entry, lines):
            _print_line(line, entry, width, as_json)
        return 0
    try:
        async with aclosing(client.follow_output(entry, lines)) as stream:
            async for item in stream:
                if isinstance(item, Skipped):
                    _say_skipped(item, "lines")
                else:
                    _print_line(item, entry, width, as_json)
    except ConnectionLostError:
        print("healthdaemons: the system is gone (the connection closed)", file=sys.stderr)
        return 1
    return 0


def _print_line(line: OutputLine, entry: str | None, width: int, as_json: bool) -> None:
    if as_json:
        print(json.dumps(line), flush=True)
    elif entry is not None:
        print(line["text"], flush=True)
    else:
        print(f"{line['entry']:<{width}} | {line['text']}", flush=True)


def _say_skipped(skipped: Skipped, what: str) -> None:
    print(
        f"healthdaemons: {skipped.count} {what} skipped (this reader fell behind)",
        file=sys.stderr,
        flush=True,
    )


# stop, start, restart


async def act(client: ControlClient, action: str, entry: str, as_json: bool) -> int:
    done: EntryStatus = await getattr(client, action)(entry)
    if as_json:
        _print_json(done)
    else:
        print(f"{printable(done['id'])} {_DONE[action]}")
    return 0


_DONE = {
    "stop": "stopped (held until `start` or `restart`)",
    "start": "released: it starts once its dependencies are ready",
    "restart": "restarted: launched again (`wait` waits until it is ready)",
}
"""What an action did; not the entry's state then, which is a moment in a change."""


# wait


_STARTING_POLL = 0.05
"""Seconds between two attempts to reach a system that is not answering yet."""


async def wait(
    client: ControlClient, entries: list[str], timeout: float | None, as_json: bool
) -> int:
    deadline = None if timeout is None else anyio.current_time() + timeout
    left = timeout
    while True:
        try:
            outcome = await client.wait(entries, left)
            break
        except NoSystemError:
            # `up FILE &` then `wait FILE --timeout S`: the socket comes a
            # moment after `up` starts. Without a timeout, no system is a mistake.
            if deadline is None or anyio.current_time() >= deadline:
                raise
            await anyio.sleep(_STARTING_POLL)
            left = max(0.0, deadline - anyio.current_time())
    if as_json:
        _print_json(outcome)
    if outcome.get("ready"):
        if not as_json:
            print(("ready: " + ", ".join(entries)) if entries else "everything is ready")
        return 0
    if not as_json:
        reason = outcome.get("reason") or "not ready"
        print(f"healthdaemons: not ready: {printable(reason)}", file=sys.stderr)
        waiting = outcome.get("waiting") or []
        if waiting:
            print(entries_table(waiting), end="", file=sys.stderr)
    return 1


# events


async def events(client: ControlClient, follow: bool, as_json: bool) -> int:
    """The events so far; with `follow`, then each new one until the system stops."""
    text = None if as_json else _EventText()
    if not follow:
        for event in await client.events():
            _print_event(event, text)
        return 0
    try:
        async with aclosing(client.follow_events(history=True)) as stream:
            async for item in stream:
                if isinstance(item, Skipped):
                    _say_skipped(item, "events")
                else:
                    _print_event(item, text)
    except ConnectionLostError:
        print("healthdaemons: the system is gone (the connection closed)", file=sys.stderr)
        return 1
    return 0


class _EventText:
    """Events as `healthdaemons events RECORD` prints them, seconds from the first."""

    def __init__(self) -> None:
        # The library reads and describes the events: loaded only for text.
        from coordinator import describe_event, event_from_json

        self._describe = describe_event
        self._parse = event_from_json
        self._first: float | None = None

    def line(self, event: dict[str, Any]) -> str:
        parsed = self._parse(event)
        if self._first is None:
            self._first = parsed.at
        return f"{parsed.at - self._first:9.3f}s  {printable(self._describe(parsed))}"


def _print_event(event: dict[str, Any], text: _EventText | None) -> None:
    if text is None:
        print(json.dumps(event, separators=(",", ":")), flush=True)
    else:
        print(text.line(event), flush=True)


# down


async def down(client: ControlClient, as_json: bool) -> int:
    """The ordered shutdown; returns once the `up` process has exited."""
    pid = (await client.health())["pid"]
    # Opened before asking: the pid cannot be reused while this is open.
    exited = _pidfd(pid)
    try:
        try:
            # Subscribed first, so that every stop is seen.
            async with client.subscribe_events() as stream:
                await client.shutdown()
                async for item in stream:
                    if not as_json and isinstance(item, dict):
                        _say_stopped(item)
        except ConnectionLostError:
            pass  # gone while following: its exit is awaited below
        if exited is not None:
            await anyio.wait_readable(exited)
    finally:
        if exited is not None:
            os.close(exited)
    if as_json:
        _print_json({"stopped": True, "pid": pid})
    else:
        print(f"stopped (pid {pid} has exited)")
    return 0


def _say_stopped(event: dict[str, Any]) -> None:
    if (event.get("type"), event.get("source"), event.get("dest")) == (
        "transitioned",
        "stopping",
        "stopped",
    ):
        print(f"{printable(str(event.get('entry')))} stopped", flush=True)


def _pidfd(pid: int) -> int | None:
    """A file descriptor that becomes readable when `pid` exits; None if it already has."""
    try:
        return os.pidfd_open(pid)
    except ProcessLookupError:
        return None


def _print_json(document: object) -> None:
    print(json.dumps(document, indent=2))
