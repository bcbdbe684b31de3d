"""Whose is a listening socket: readiness must come from the checked entry's own processes.

A port or URL on this machine may be answered by a process that has nothing
to do with the entry: a server left from an earlier run, say, while the
entry's own server failed with "address already in use". A check given
`owned=True` finds the listening socket's inode in `/proc/net/tcp` and
`/proc/net/tcp6` and looks for it among the file descriptors
(`/proc/PID/fd/*` -> `socket:[INODE]`) of the live members of the entry's
process group.

The check learns which entry it checks, and its current process, from the
context of the task that runs it (`_checked.py`).
"""

from __future__ import annotations

import os
import socket
import sys
from collections import deque
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address

from ._checked import CHECKED_ENTRY
from ._process_table import all_processes, children, read_stat

__all__ = [
    "Listener",
    "answering",
    "is_local",
    "listeners",
    "ownership_problem",
    "peer_address",
]

IPAddress = IPv4Address | IPv6Address

_TCP_TABLES = ("/proc/net/tcp", "/proc/net/tcp6")
_TCP_LISTEN = b"0A"
_SOCKET_LINK = "socket:["


# Listening sockets


@dataclass(frozen=True, slots=True)
class Listener:
    """A TCP socket in LISTEN state, as `/proc/net/tcp*` shows it."""

    address: IPAddress
    port: int
    inode: int


def listeners(port: int) -> list[Listener]:
    """The sockets listening on `port`, IPv4 and IPv6; `OSError` if no table is readable."""
    errors: list[OSError] = []
    found: list[Listener] = []
    for path in _TCP_TABLES:
        try:
            with open(path, "rb") as table:
                lines = table.read().splitlines()
        except OSError as error:  # tcp6 is missing without IPv6, say
            errors.append(error)
            continue
        # "sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...",
        # an address being HEXIP:HEXPORT.
        for line in lines[1:]:
            fields = line.split()
            if len(fields) < 10 or fields[3] != _TCP_LISTEN:
                continue
            hex_ip, _, hex_port = fields[1].rpartition(b":")
            if int(hex_port, 16) == port:
                found.append(Listener(_address(hex_ip), port, int(fields[9])))
    if len(errors) == len(_TCP_TABLES):
        raise errors[0]
    return found


def _address(hex_ip: bytes) -> IPAddress:
    # The kernel prints each 32-bit word of the address as a number in host byte order.
    raw = b"".join(
        int(hex_ip[i : i + 8], 16).to_bytes(4, sys.byteorder) for i in range(0, len(hex_ip), 8)
    )
    return IPv4Address(raw) if len(raw) == 4 else IPv6Address(raw)


def is_local(address: IPAddress) -> bool:
    """Whether `address` belongs to this machine (its network namespace)."""
    if address.is_loopback or address.is_unspecified:
        return True
    family = socket.AF_INET if address.version == 4 else socket.AF_INET6
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((str(address), 0))
        except OSError:  # EADDRNOTAVAIL: not an address of this machine
            return False
    return True


def answering(found: Iterable[Listener], address: IPAddress) -> list[Listener]:
    """The listeners that take a connection to `address` (on their port): those
    bound to `address` itself if any, else the wildcards (an IPv4 one before a
    dual-stack IPv6 one), as the kernel chooses."""
    address = _unmapped(address)
    ranked: list[tuple[int, Listener]] = []
    for listener in found:
        bound = _unmapped(listener.address)
        if bound == address:
            rank = 2
        elif bound.is_unspecified and (bound.version == 6 or address.version == 4):
            rank = 0
        else:
            continue
        ranked.append((rank + (bound.version == address.version), listener))
    best = max((rank for rank, _ in ranked), default=None)
    return [listener for rank, listener in ranked if rank == best]


def _unmapped(address: IPAddress) -> IPAddress:
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def peer_address(host: str) -> IPAddress | None:
    """The address in a socket's peer name (`fe80::1%eth0` loses its scope), or `None`."""
    try:
        return ip_address(host.partition("%")[0])
    except ValueError:
        return None


# Who holds a socket


def ownership_problem(what: str, inodes: Collection[int], *, every: bool) -> str | None:
    """Why the sockets `inodes` (of `what`, e.g. "port 8080") do not count for
    the entry being checked, or `None` if they do.

    `every`: all of them must be the entry's (the ones that may answer a
    connection), rather than one (any listening on a port). Outside a check
    of an entry that runs something, any owner counts. A socket that no
    visible process holds counts only if some member of the entry's group
    could not be looked at (another user's process, for a supervisor that is
    not root): the check cannot tell, and does not fail what it cannot prove.
    """
    entry = CHECKED_ENTRY.get()
    if entry is None or entry.runner is None or not inodes:
        return None
    process = entry.runner.process
    if process is None:
        return f"{what}: {entry.id} has no process running"
    ours: set[int] = set()
    if process.pid is None:
        ours.add(os.getpid())  # an ExecFn runs in the supervisor itself
        members: Iterable[int] = list(ours)
    else:
        members = _group(process.pid, ours)  # each command leads its own process group
    wanted = set(inodes)
    held, hidden = _held(members, wanted, first=not every)
    owned = set(held)
    if owned == wanted if every else owned:
        return None
    # Not found: every member was looked at, so `ours` is the whole group.
    others = sorted(p.pid for p in all_processes() if p.pid not in ours)
    holders, _ = _held(others, wanted - owned, first=True)
    not_ours = f"not by {entry.id}'s processes"
    if holders:
        return f"{what} is held by {_describe(next(iter(holders.values())))}, {not_ours}"
    if hidden:
        return None
    return f"{what} is held by a process this supervisor cannot see, {not_ours}"


def _group(pgid: int, seen: set[int]) -> Iterator[int]:
    """The live members of process group `pgid`, each added to `seen`: first
    the leader and its descendants (quick to find, and usually the holders),
    then any other member, found by reading every process's stat."""
    pending = deque([pgid])
    while pending:
        pid = pending.popleft()
        stat = read_stat(pid)
        if pid in seen or stat is None or stat.pgrp != pgid or not stat.alive:
            continue
        seen.add(pid)
        yield pid
        pending.extend(children(pid))  # (those of other threads: the full scan)
    for stat in all_processes():
        if stat.pgrp == pgid and stat.alive and stat.pid not in seen:
            seen.add(stat.pid)
            yield stat.pid


def _held(
    pids: Iterable[int], inodes: set[int], *, first: bool = False
) -> tuple[dict[int, int], bool]:
    """Which of `inodes` the processes `pids` hold (inode -> pid), and whether
    some process could not be looked at. `first`: stop at the first holder."""
    holders: dict[int, int] = {}
    hidden = False
    for pid in pids:
        directory = f"/proc/{pid}/fd"
        try:
            names = os.listdir(directory)
        except PermissionError:
            hidden = True
            continue
        except OSError:  # gone meanwhile
            continue
        for name in names:
            try:
                target = os.readlink(f"{directory}/{name}")
            except OSError:
                continue
            if target.startswith(_SOCKET_LINK):
                inode = int(target[len(_SOCKET_LINK) : -1])
                if inode in inodes and inode not in holders:
                    holders[inode] = pid
        if len(holders) == len(inodes) or (first and holders):
            break
    return holders, hidden


def _describe(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm", "rb") as comm:
            name = comm.read().decode(errors="replace").strip()
    except OSError:
        return f"pid {pid}"
    return f"pid {pid} ({name})"
