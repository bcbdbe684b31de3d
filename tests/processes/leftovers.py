"""Find the processes a test left behind, grandchildren included.

The test process makes itself a child subreaper, so a process whose parent
died is reparented to it rather than to PID 1: every process a test
started, however deep, stays a descendant of the test process and can be
found by walking `/proc`.
"""

from __future__ import annotations

import ctypes
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from coordinator._process_table import all_processes

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    ppid: int
    state: str
    command: str


def _processes() -> dict[int, ProcessInfo]:
    found: dict[int, ProcessInfo] = {}
    for stat in all_processes():
        try:
            with open(f"/proc/{stat.pid}/cmdline", "rb") as cmdline:
                command = cmdline.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        found[stat.pid] = ProcessInfo(stat.pid, stat.ppid, stat.state, command)
    return found


def descendants(root: int | None = None) -> list[ProcessInfo]:
    """Every process below `root` (default: this process), zombies included."""
    root = os.getpid() if root is None else root
    table = _processes()
    children: dict[int, list[int]] = {}
    for info in table.values():
        children.setdefault(info.ppid, []).append(info.pid)
    found: list[ProcessInfo] = []
    stack = list(children.get(root, ()))
    while stack:
        pid = stack.pop()
        found.append(table[pid])
        stack.extend(children.get(pid, ()))
    return found


def reap_orphaned_zombies(keep: set[int]) -> None:
    """Reap zombies reparented to us (never one a test still owns, in `keep`)."""
    for info in descendants():
        if info.state == "Z" and info.ppid == os.getpid() and info.pid not in keep:
            try:
                os.waitpid(info.pid, os.WNOHANG)
            except ChildProcessError:
                pass


def leftovers(before: set[int], timeout: float = 3.0) -> list[ProcessInfo]:
    """Live descendants not in `before`, once `timeout` has given them a chance to go."""
    deadline = time.monotonic() + timeout
    while True:
        alive = [p for p in descendants() if p.state != "Z" and p.pid not in before]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.02)


def kill_all(processes: list[ProcessInfo]) -> None:
    for info in processes:
        try:
            os.kill(info.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@contextmanager
def none_left_behind() -> Iterator[None]:
    """Fail the test if a process it started (grandchildren too) is still alive
    after it: each one is killed, then named."""
    before = {p.pid for p in descendants()}
    yield
    alive = leftovers(before)
    kill_all(alive)
    reap_orphaned_zombies(before)
    if alive:
        listing = "\n".join(f"  pid {p.pid} ({p.state}): {p.command}" for p in alive)
        pytest.fail(f"processes left alive by the test:\n{listing}")
