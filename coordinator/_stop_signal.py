"""A command's stop signal: the polite first step of the stop policy.

Given as a name (`"SIGQUIT"`, `"QUIT"`, any case) or a number (`3`,
`signal.SIGQUIT`), as docker's `stop_signal` takes it. Refused: signals
that cannot ask a process to end, so that a stop never turns into a wait
of `sigterm_timeout` for nothing (SIGKILL would skip the polite step the
policy is built on; it comes after `sigterm_timeout` anyway).
"""

from __future__ import annotations

import signal

from ._validation import closest, did_you_mean

__all__ = ["DEFAULT_STOP_SIGNAL", "resolve_stop_signal", "stop_signal_problem"]

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
_NAMES = [s.name for s in signal.Signals if s not in _REFUSED]


def resolve_stop_signal(value: str | int) -> signal.Signals:
    """The signal `value` names; `ValueError` with the problem if it names none allowed."""
    found = _lookup(value)
    if isinstance(found, str):
        raise ValueError(found)
    return found


def stop_signal_problem(value: object) -> str | None:
    """What is wrong with `value` as a stop signal, if anything."""
    found = _lookup(value)
    return found if isinstance(found, str) else None


def _lookup(value: object) -> signal.Signals | str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return f"must be a signal name or number, not {type(value).__name__}"
    number: signal.Signals | None = None
    if isinstance(value, int) or value.strip().isdigit():
        try:
            number = signal.Signals(int(value))
        except ValueError:
            return f"unknown signal number {value}"
    else:
        name = value.strip().upper()
        name = name if name.startswith("SIG") else f"SIG{name}"
        number = signal.Signals.__members__.get(name)
        if number is None:
            return f"unknown signal {value!r}" + did_you_mean(closest(name, _NAMES))
    refused = _REFUSED.get(number)
    if refused is not None:
        return f"{number.name} {refused}"
    return number
