"""Reaping the orphans reparented to this process, when it is PID 1 (a container's).

Each process the system spawned is reaped by its own watcher (its pidfd,
or anyio's process where there are no pidfds): a `waitpid(-1)` loop would
steal their exit statuses. So only zombies that are not ours are reaped, found in
`/proc`: children of this process in state Z that are either no session
leader (every command is spawned as the leader of a session of its own) or
a session leader this process never spawned, seen as a zombie for a while
(the pid of a spawn is noted just after the fork returns: a command that
exits at once could be a zombie before it is noted).
"""

from __future__ import annotations

import os
import time
import weakref

from ._process_table import all_processes

__all__ = ["note_spawned", "reap_orphans"]

_SETTLE = 1.0
"""Seconds a zombie session leader of unknown origin waits before it is reaped."""

_spawned: weakref.WeakValueDictionary[int, object] = weakref.WeakValueDictionary()
"""The processes spawned here, by pid, for as long as their owner holds them."""
_unknown_since: dict[int, float] = {}


def note_spawned(pid: int, process: object) -> None:
    """`process` (kept weakly) was spawned here: its exit is its owner's to wait for."""
    _spawned[pid] = process


def reap_orphans() -> list[int]:
    """Reap the zombies among this process's children that it did not spawn;
    their pids. Meant for PID 1 (or a child subreaper), called on a timer."""
    me = os.getpid()
    now = time.monotonic()
    reaped: list[int] = []
    zombies = set()
    for found in all_processes():
        if found.ppid != me or found.state != "Z":
            continue
        pid = found.pid
        zombies.add(pid)
        if found.session == pid:
            if pid in _spawned:
                continue
            if now - _unknown_since.setdefault(pid, now) < _SETTLE:
                continue
        try:
            if os.waitpid(pid, os.WNOHANG)[0]:
                reaped.append(pid)
        except ChildProcessError:
            pass  # its owner was quicker
    for pid in list(_unknown_since):
        if pid not in zombies or pid in reaped:
            del _unknown_since[pid]
    return reaped
