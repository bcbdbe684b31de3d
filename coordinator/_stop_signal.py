"""A command's stop signal: the polite first step of the stop policy.

Given as a name (`"SIGQUIT"`, `"QUIT"`, any case, or a real-time signal
`"SIGRTMIN+3"`, systemd's own stop signal in a container) or a number (`3`,
`signal.SIGQUIT`), as docker's `stop_signal` takes it. Refused: signals
that cannot ask a process to end, so that a stop never turns into a wait
of `sigterm_timeout` for nothing (SIGKILL would skip the polite step the
policy is built on; it comes after `sigterm_timeout` anyway).
"""

from __future__ import annotations

import re
import signal
from typing import NamedTuple

from ._validation import closest, did_you_mean

__all__ = [
    "DEFAULT_STOP_SIGNAL",
    "StopSignal",
    "resolve_stop_signal",
    "signal_name",
    "stop_signal_problem",
]

DEFAULT_STOP_SIGNAL = "SIGTERM"

_REFUSED = {
    signal.SIGKILL: "is not a polite stop (SIGKILL follows sigterm_timeout anyway)",
    signal.SIGSTOP: "stops a process instead of ending it",
    signal.SIGTSTP: "stops a process instead of ending it",
    signal.SIGTTIN: "stops a process instead of ending it",
    signal.SIGTTOU: "stops a process instead of ending it",
    signal.SIGCONT: "continues a process instead of ending it (it follows the stop signal anyway)",
    signal.SIGCHLD: "is ignored by default: it asks nothing of a process",
    signal.SIGWINCH: "is ignored by default: it asks nothing of a process",
    signal.SIGURG: "is ignored by default: it asks nothing of a process",
}
_REFUSED_NUMBERS = frozenset(int(number) for number in _REFUSED)
_NAMES = [s.name for s in signal.Signals if s not in _REFUSED]


class StopSignal(NamedTuple):
    """A signal by number and by the name a record shows (`SIGRTMIN+3` for
    a real-time signal, which `signal.Signals` has no member for)."""

    number: int
    name: str


def resolve_stop_signal(value: str | int) -> StopSignal:
    """The signal `value` names; `ValueError` with the problem if it names none allowed."""
    found = _lookup(value)
    if isinstance(found, str):
        raise ValueError(found)
    return found


def stop_signal_problem(value: object) -> str | None:
    """What is wrong with `value` as a stop signal, if anything."""
    found = _lookup(value)
    return found if isinstance(found, str) else None


def signal_name(number: int) -> str:
    """`SIGTERM`, or `SIGRTMIN+3` for a real-time signal."""
    try:
        return signal.Signals(number).name
    except ValueError:
        if signal.SIGRTMIN <= number <= signal.SIGRTMAX:
            return f"SIGRTMIN+{number - signal.SIGRTMIN}"
        return str(number)


_REAL_TIME = re.compile(r"SIGRT(MIN|MAX)(?:([+-])(\d+))?")


def _lookup(value: object) -> StopSignal | str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return f"must be a signal name or number, not {type(value).__name__}"
    number: int | None
    if isinstance(value, int) or value.strip().isdigit():
        number = int(value)
        if not 1 <= number < signal.NSIG:
            return f"unknown signal number {value}"
    else:
        name = value.strip().upper()
        name = name if name.startswith("SIG") else f"SIG{name}"
        number = _real_time(name)
        if number == -1:
            span = int(signal.SIGRTMAX - signal.SIGRTMIN)
            return f"unknown signal {value!r} (real-time ones are SIGRTMIN+0 to SIGRTMIN+{span})"
        if number is None:
            member = signal.Signals.__members__.get(name)
            if member is None:
                return f"unknown signal {value!r}" + did_you_mean(closest(name, _NAMES))
            number = int(member)
    if number in _REFUSED_NUMBERS:
        found = signal.Signals(number)
        return f"{found.name} {_REFUSED[found]}"
    try:
        signal.Signals(number)
    except ValueError:
        if not signal.SIGRTMIN <= number <= signal.SIGRTMAX:
            return f"unknown signal number {value}"
    return StopSignal(number, signal_name(number))


def _real_time(name: str) -> int | None:
    """`SIGRTMIN+3`, `SIGRTMAX-1` (as docker and systemd write them); `None`
    for another name, -1 for one beyond the real-time signals."""
    found = _REAL_TIME.fullmatch(name)
    if found is None:
        return None
    base = signal.SIGRTMIN if found[1] == "MIN" else signal.SIGRTMAX
    offset = int(found[3] or 0) * (-1 if found[2] == "-" else 1)
    number = int(base) + offset
    return number if signal.SIGRTMIN <= number <= signal.SIGRTMAX else -1
