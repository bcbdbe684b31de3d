"""The processes of this machine, as `/proc` shows them: each one's state,
parent, process group and session, and who is left in a process group.

Standard library only: the minimal init, run as a script with `-I -S`
(which cannot import the package), loads this module too, so that the
supervisor and the init agree on when a process group is gone.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

__all__ = [
    "ProcessStat",
    "all_processes",
    "children",
    "group_alive",
    "group_members",
    "read_stat",
]


class ProcessStat:
    """The fields of `/proc/PID/stat` that supervision needs.

    A plain class, not a dataclass: importing `dataclasses` would add a
    third to the init's start-up time."""

    __slots__ = ("pgrp", "pid", "ppid", "session", "state")

    def __init__(self, pid: int, state: str, ppid: int, pgrp: int, session: int) -> None:
        self.pid = pid
        self.state = state
        self.ppid = ppid
        self.pgrp = pgrp
        self.session = session

    @property
    def alive(self) -> bool:
        """Neither a zombie nor dead: what still has to be stopped."""
        return self.state not in ("Z", "X")

    def __repr__(self) -> str:
        return (
            f"ProcessStat(pid={self.pid}, state={self.state!r}, ppid={self.ppid}, "
            f"pgrp={self.pgrp}, session={self.session})"
        )


def read_stat(pid: int) -> ProcessStat | None:
    """The process's stat, or `None` once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            raw = stat.read()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: split after its last ")".
    fields = raw.rpartition(b")")[2].split()
    return ProcessStat(pid, fields[0].decode(), int(fields[1]), int(fields[2]), int(fields[3]))


def children(pid: int) -> list[int]:
    """The children of the process's main thread, `[]` once it is gone: a
    small read, where finding every child (those of other threads too) takes
    a scan of `all_processes`."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children", "rb") as listed:
            return [int(child) for child in listed.read().split()]
    except OSError:
        return []


def all_processes() -> Iterator[ProcessStat]:
    """Every process of this machine (of its PID namespace), from `/proc`."""
    with os.scandir("/proc") as entries:
        for entry in entries:
            if entry.name.isdigit():
                found = read_stat(int(entry.name))
                if found is not None:
                    yield found


def group_members(pgid: int) -> list[int]:
    """The live (not zombie) processes of process group `pgid`, but this one."""
    return list(_live_members(pgid))


def _live_members(pgid: int) -> Iterator[int]:
    me = os.getpid()
    return (p.pid for p in all_processes() if p.pgrp == pgid and p.alive and p.pid != me)


class _Groups:
    """One scan of `/proc`, by process group: the pids of its live members
    (this process left out) and of its zombies."""

    __slots__ = ("live", "zombies")

    def __init__(self) -> None:
        self.live: dict[int, list[int]] = {}
        self.zombies: dict[int, list[int]] = {}


_last_scan = _Groups()
"""The last scan `group_alive` made: when many groups stop at once, one
scan of thousands of processes answers for all of them, where a scan for
each would cost the square of their number."""


def group_alive(pgid: int) -> bool:
    """Whether a live (not zombie) process is left in process group `pgid`."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # Something is left; zombies do not count.
    if not os.path.isdir("/proc"):
        return True  # no way to tell zombies apart here: they count
    known = _known_from_last_scan(pgid)
    if known is not None:
        return known
    global _last_scan
    _last_scan = _scan_groups()
    return pgid in _last_scan.live


def _known_from_last_scan(pgid: int) -> bool | None:
    """What the last scan, checked by a few reads now, proves about group
    `pgid`; `None` when only a new scan can tell.

    A member it saw that is alive in the group now is a live member. A group
    it saw with zombies alone, one of which still holds the group's id, is
    the same group, and none of it is alive: a zombie forks nothing. But
    once a member it saw alive has ended, it may have forked a process the
    scan never saw."""
    scan = _last_scan
    live = scan.live.get(pgid, [])
    zombies = scan.zombies.get(pgid, [])
    held = False
    for pid in (*live, *zombies):
        found = read_stat(pid)
        if found is None or found.pgrp != pgid:
            continue
        if found.alive:
            return True
        held = True
    return None if live or not held else False


def _scan_groups() -> _Groups:
    groups = _Groups()
    me = os.getpid()
    for found in all_processes():
        if not found.alive:
            groups.zombies.setdefault(found.pgrp, []).append(found.pid)
        elif found.pid != me:
            groups.live.setdefault(found.pgrp, []).append(found.pid)
    return groups
