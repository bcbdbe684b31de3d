"""Processes a stopped system left behind: finding them, and killing them.

The third point relies on how every command is started: in a session and
process group of its own, led by the process the `ProcessSpawned` event
names. A process still in one of those sessions or groups belongs to the
system, wherever it was reparented: its own process group (`setpgid`)
does not take it out of the session. Only a process that starts a new
session itself (`setsid`) escapes, and so do processes that an `ExecFn`
starts on its own.

The scan reads `/proc` (commands need Linux anyway) and runs synchronously:
it is meant for after the system has stopped.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from .._defaults import LEFTOVER_WAIT
from .._events import ProcessSpawned
from .._process_table import all_processes, read_stat
from .._running import RunningDaemons

__all__ = ["LeftoverProcess", "kill_leftovers", "leftover_processes"]

T = TypeVar("T")

COMMAND_SHOWN = 160
"""How much of a leftover's command line its description shows, on one line."""


@dataclass(frozen=True, slots=True)
class LeftoverProcess:
    """A live process in the session or process group of a process that a
    system spawned (the `leader`, spawned for `entry`)."""

    pid: int
    entry: str
    leader: int
    pgrp: int
    session: int
    command: str
    """Its command line, arguments separated by spaces (`[name]` when it has
    none, as `ps` shows)."""

    def __str__(self) -> str:
        where = "process group" if self.pgrp == self.leader else "session"
        command = " ".join(self.command.split())
        if len(command) > COMMAND_SHOWN:
            command = command[: COMMAND_SHOWN - 3] + "..."
        return f"pid {self.pid} ({where} of {self.entry}'s process {self.leader}): {command}"


def leftover_processes(
    running: RunningDaemons, *, wait: float = LEFTOVER_WAIT
) -> list[LeftoverProcess]:
    """The live processes left by `running`: those in the session or process
    group of a process it spawned (`ProcessSpawned` in its history).

    Processes that are on their way out get up to `wait` seconds to go;
    zombies do not count.
    """
    leaders = {
        event.pid: event.entry
        for event in running.history
        if isinstance(event, ProcessSpawned) and event.pid is not None
    }
    if not leaders:
        return []
    return _until_none_left(lambda: _scan(leaders), wait)


def kill_leftovers(
    leftovers: Iterable[LeftoverProcess], *, wait: float = LEFTOVER_WAIT
) -> list[LeftoverProcess]:
    """SIGKILL the process group of each leftover, wait up to `wait` seconds
    for them to die, and reap those that became zombies of this process.

    Returns the ones still alive after that (stuck in the kernel, say, or
    owned by a user this process may not signal).
    """
    leftovers = list(leftovers)
    for pgrp in dict.fromkeys(p.pgrp for p in leftovers):
        try:
            os.killpg(pgrp, signal.SIGKILL)
        except ProcessLookupError:
            pass
        except PermissionError:
            for process in leftovers:
                if process.pgrp == pgrp:
                    _kill(process.pid)
    alive = _until_none_left(lambda: [p for p in leftovers if _alive(p.pid)], wait)
    me = os.getpid()
    for process in leftovers:
        # Orphans come to this process when it is a child subreaper. (Not a
        # leader: that is a child of ours that its process object reaps.)
        if process.pid == process.leader:
            continue
        stat = read_stat(process.pid)
        if stat is not None and stat.state == "Z" and stat.ppid == me:
            try:
                os.waitpid(process.pid, os.WNOHANG)
            except ChildProcessError:
                pass
    return alive


def _scan(leaders: dict[int, str]) -> list[LeftoverProcess]:
    me = os.getpid()
    found = []
    for stat in all_processes():
        if not stat.alive or stat.pid == me:
            continue
        if stat.pgrp in leaders:
            leader = stat.pgrp
        elif stat.session in leaders:
            leader = stat.session
        else:
            continue
        found.append(
            LeftoverProcess(
                stat.pid, leaders[leader], leader, stat.pgrp, stat.session, _command(stat.pid)
            )
        )
    return found


def _until_none_left(find: Callable[[], list[T]], wait: float) -> list[T]:
    """Call `find` until it finds nothing or `wait` seconds have passed (5 ms
    doubling to 50 ms apart); what it found last. Synchronous: these checks
    run once a system has stopped, outside any event loop."""
    deadline = time.monotonic() + wait
    delay = 0.005
    while True:
        found = find()
        remaining = deadline - time.monotonic()
        if not found or remaining <= 0:
            return found
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.05)


def _command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            raw = cmdline.read()
        if raw:
            return raw.rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")
        with open(f"/proc/{pid}/comm", "rb") as comm:
            return f"[{comm.read().strip().decode(errors='replace')}]"
    except OSError:
        return "?"


def _alive(pid: int) -> bool:
    stat = read_stat(pid)
    return stat is not None and stat.alive


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
