"""Small tools for tests that run real processes."""

from __future__ import annotations

import sys
from collections.abc import Callable

import anyio

from coordinator import (
    Command,
    Event,
    HealthCheckResult,
    LifecycleState,
    ProcessExited,
    ProcessSignalled,
    ProcessSpawned,
    Ready,
    RunningDaemons,
    Transitioned,
)
from coordinator._process_table import all_processes, read_stat
from coordinator.triggers import cooldown_trigger

PYTHON = sys.executable
"""Starts in about 10 ms with `-I -S` (the pyenv shim on PATH takes 100 ms)."""


def sleeper(**options: object) -> Command:
    """A daemon that runs until it is told to stop."""
    return Command(["sleep", "1000"], **options)  # type: ignore[arg-type]


def python(code: str, **options: object) -> Command:
    return Command([PYTHON, "-I", "-S", "-c", code], **options)  # type: ignore[arg-type]


def always_ready(display: str | None = None, grace_period: float = 5.0) -> Ready:
    return Ready(display, lambda: HealthCheckResult.success(), grace_period=grace_period)


def quick(fn: object, display: str | None = None) -> Ready:
    """A check polled every 20 ms."""
    return Ready(display, fn, trigger=cooldown_trigger(0.02))  # type: ignore[arg-type]


def pids(history: list[Event], entry: str) -> list[int]:
    return [e.pid for e in history if isinstance(e, ProcessSpawned) and e.entry == entry if e.pid]


def last_pid(running: RunningDaemons, entry: str) -> int:
    return pids(running.history, entry)[-1]


def signals(history: list[Event], entry: str) -> list[str]:
    return [e.signal for e in history if isinstance(e, ProcessSignalled) and e.entry == entry]


def exits(history: list[Event], entry: str) -> list[ProcessExited]:
    return [e for e in history if isinstance(e, ProcessExited) and e.entry == entry]


def stopped_order(history: list[Event]) -> list[str]:
    return [
        e.entry for e in history if isinstance(e, Transitioned) and e.dest is LifecycleState.STOPPED
    ]


def stat(pid: int) -> tuple[str, int, int, int]:
    """State, parent pid, process group and session of a live process."""
    found = read_stat(pid)
    if found is None:
        raise FileNotFoundError(f"no process {pid}")
    return found.state, found.ppid, found.pgrp, found.session


def alive(pid: int) -> bool:
    found = read_stat(pid)
    return found is not None and found.alive


async def poll_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for a condition about the outside world (say, /proc), which no event announces."""
    with anyio.fail_after(timeout):
        while not condition():  # noqa: ASYNC110
            await anyio.sleep(0.01)


def children_of(pid: int) -> list[int]:
    return [p.pid for p in all_processes() if p.ppid == pid]


def runs(pid: int, *argv: str) -> bool:
    """Whether the process has exec'd `argv` (a forked shell has not yet)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return cmdline.read().decode(errors="replace").split("\0")[:-1] == list(argv)
    except OSError:
        return False


class Collected:
    """An output sink that keeps what it is given, and whether it has ended."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.closed = 0

    def write(self, data: bytes) -> None:
        assert not self.closed, "written after its end"
        self.data += data

    def close(self) -> None:
        self.closed += 1
