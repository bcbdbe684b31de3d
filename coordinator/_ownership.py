"""Whose is a listening socket: readiness must come from the checked entry's own processes.

A port or URL on this machine may be answered by a process that has nothing
to do with the entry: a server left from an earlier run, say, while the
entry's own server failed with "address already in use". A check given
`owned=True` finds the listening socket's inode (from the kernel's socket
diagnostics, or `/proc/net/tcp` and `/proc/net/tcp6`) and looks for it among
the file descriptors
(`/proc/PID/fd/*` -> `socket:[INODE]`) of the live members of the entry's
process group.

The check learns which entry it checks, and its current process, from the
context of the task that runs it (`_checked.py`).
"""

from __future__ import annotations

import os
import socket
import struct
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

# Socket diagnostics (linux/netlink.h, linux/sock_diag.h, linux/inet_diag.h).
_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_DUMP_REQUEST = 0x301  # NLM_F_REQUEST | NLM_F_DUMP
_NLMSG_ERROR = 2
_NLMSG_DONE = 3
_TCPF_LISTEN = 1 << 10
_INET_DIAG_REQ_BYTECODE = 1
_BC_S_GE = 2
_BC_S_LE = 3
_HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, sequence, port id
_DIAG_MESSAGE = 72  # sizeof(struct inet_diag_msg)
_DIAG_TIMEOUT = 1.0
"""A safety bound: the kernel answers a dump at once."""
_SOCKET_LINK = "socket:["


# Listening sockets


@dataclass(frozen=True, slots=True)
class Listener:
    """A TCP socket in LISTEN state."""

    address: IPAddress
    port: int
    inode: int


def listeners(port: int) -> list[Listener]:
    """The sockets listening on `port`, IPv4 and IPv6; `OSError` if they cannot be found.

    Asked of the kernel's socket diagnostics (netlink `SOCK_DIAG`), which
    filter by state and port themselves: `/proc/net/tcp*` lists every TCP
    socket, and reading it can walk the whole connection hash table (3 ms
    each on some kernels). Where netlink cannot be used, the tables are read.
    """
    try:
        return _diagnosed_listeners(port)
    except OSError:
        return _table_listeners(port)


def _diagnosed_listeners(port: int) -> list[Listener]:
    found: list[Listener] = []
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG) as diag:
        diag.settimeout(_DIAG_TIMEOUT)
        for family in (socket.AF_INET, socket.AF_INET6):
            diag.send(_listeners_request(family, port))
            found += _read_listeners(diag, port)
    return found


def _listeners_request(family: int, port: int) -> bytes:
    """A dump request of the TCP sockets of `family` listening on `port`."""
    # inet_diag_req_v2: family, protocol, extensions, padding, states, then
    # the socket id (48 bytes), unused in a dump.
    request = struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0, _TCPF_LISTEN) + bytes(48)
    # A filter the kernel runs on each socket: port >= `port`, then port <= `port`.
    # Each op is (code, where to go if true, where if false) and the port
    # follows it; jumping past the end rejects the socket, landing on it accepts.
    bytecode = struct.pack(
        "=BBHBBHBBHBBH", _BC_S_GE, 8, 20, 0, 0, port, _BC_S_LE, 8, 12, 0, 0, port
    )
    attribute = struct.pack("=HH", 4 + len(bytecode), _INET_DIAG_REQ_BYTECODE) + bytecode
    body = request + attribute
    return _HEADER.pack(_HEADER.size + len(body), _SOCK_DIAG_BY_FAMILY, _DUMP_REQUEST, 1, 0) + body


def _read_listeners(diag: socket.socket, port: int) -> list[Listener]:
    """The answers to one dump request, until its end."""
    found: list[Listener] = []
    while True:
        data = diag.recv(65536)
        if not data:
            raise OSError("no answer from the socket diagnostics")
        offset = 0
        while offset < len(data):
            if offset + _HEADER.size > len(data):
                raise OSError("a netlink message cut short")
            length, kind, _, _, _ = _HEADER.unpack_from(data, offset)
            body = offset + _HEADER.size
            least = {_NLMSG_DONE: 0, _NLMSG_ERROR: 4}.get(kind, _DIAG_MESSAGE)
            if length < _HEADER.size + least or offset + length > len(data):
                raise OSError(f"a netlink message of {length} bytes cut short")
            if kind == _NLMSG_DONE:
                return found
            if kind == _NLMSG_ERROR:
                (error,) = struct.unpack_from("=i", data, body)
                raise OSError(-error, os.strerror(-error))
            # inet_diag_msg: family, state, timer, retransmits, then the socket
            # id (source port and destination port big-endian, source and
            # destination addresses of 16 bytes, interface, cookie), expires,
            # queues, uid, inode.
            family = data[body]
            source = data[body + 8 : body + (12 if family == socket.AF_INET else 24)]
            (inode,) = struct.unpack_from("=I", data, body + 68)
            if struct.unpack_from(">H", data, body + 4)[0] == port:
                found.append(Listener(ip_address(source), port, inode))
            offset += (length + 3) & ~3


def _table_listeners(port: int) -> list[Listener]:
    """`listeners` from `/proc/net/tcp*`; `OSError` if no table is readable."""
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
