"""`Command`: an operating-system process to run as an entry's process."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ._defaults import SIGTERM_TIMEOUT
from ._log_file import LogFile
from ._stop_signal import DEFAULT_STOP_SIGNAL, stop_signal_problem
from ._validation import (
    argv_problem,
    callable_problem,
    env_name_problem,
    option_problem,
    path_problem,
    text_problem,
    user_problem,
)

__all__ = ["Command", "LineCallback"]

LineCallback = Callable[[str], object]
"""Receives each whole line of output, without its line ending."""


@dataclass(frozen=True, slots=True)
class Command:
    """A process to run: a string runs as `sh -c STRING`, a sequence is an argv.

    It starts in its own session and process group; stopping it sends its
    `stop_signal` (SIGTERM unless given: a name such as `"SIGQUIT"` or
    `"QUIT"`, or a number) then SIGCONT, for stopped members, to the group,
    SIGKILL after `sigterm_timeout` (the wait after the stop signal, whatever
    it is), and waits until no process of the group is left.
    `env` adds to the inherited environment. `user` (a name or uid) drops
    privileges, which needs root. Output lines go to
    `on_stdout` / `on_stderr`, or else to the `healthdaemons.output` logger,
    prefixed with the entry id; both pipes are always drained. With `log`,
    each line also goes to that file, timestamped, rotated by size.

    `run_as_init=True` runs it under a minimal init that forwards signals to
    it and reaps the zombies of its tree; with `user`, the init keeps the
    supervisor's user and only the command runs as `user`.
    """

    command: str | Sequence[str]
    sigterm_timeout: float = SIGTERM_TIMEOUT
    run_as_init: bool = False
    env: Mapping[str, str] | None = None
    cwd: str | os.PathLike[str] | None = None
    user: str | int | None = None
    on_stdout: LineCallback | None = None
    on_stderr: LineCallback | None = None
    stop_signal: str | int = DEFAULT_STOP_SIGNAL
    log: LogFile | None = None

    @property
    def argv(self) -> list[str]:
        if isinstance(self.command, str):
            return ["sh", "-c", self.command]
        return list(self.command)

    def __str__(self) -> str:
        if isinstance(self.command, str):
            return self.command
        return " ".join(self.command)

    def problem(self) -> str | None:
        """What is wrong with these options, if anything (for validation)."""
        problems = [
            _command_problem(self.command),
            _named("sigterm_timeout", option_problem("sigterm_timeout", self.sigterm_timeout)),
            None if self.cwd is None else _named("cwd", path_problem(self.cwd)),
            None if self.user is None else _named("user", user_problem(self.user)),
            None if self.env is None else _env_problem(self.env),
            _named("stop_signal", stop_signal_problem(self.stop_signal)),
            None if self.log is None else _log_problem(self.log),
        ]
        if not isinstance(self.run_as_init, bool):
            problems.append(f"exec.run_as_init must be a boolean, not {_type(self.run_as_init)}")
        for name in ("on_stdout", "on_stderr"):
            callback = getattr(self, name)
            if callback is not None:
                problems.append(_named(name, callable_problem(callback)))
        return next((problem for problem in problems if problem is not None), None)


def _named(name: str, problem: str | None) -> str | None:
    return None if problem is None else f"exec.{name} {problem}"


def _command_problem(command: object) -> str | None:
    found = argv_problem(command)
    if found is None:
        return None
    index, problem = found
    return f"exec.command{'' if index is None else f'[{index}]'} {problem}"


def _log_problem(log: object) -> str | None:
    if not isinstance(log, LogFile):
        return f"exec.log must be a LogFile, not {_type(log)}"
    problem = log.problem()
    return None if problem is None else f"exec.log.{problem}"


def _env_problem(env: object) -> str | None:
    if not isinstance(env, Mapping):
        return f"exec.env must map strings to strings, not {_type(env)}"
    for name, value in env.items():
        problem = env_name_problem(name)
        if problem is not None:
            return f"exec.env has a {problem}"
        problem = text_problem(value)
        if problem is not None:
            return f"exec.env[{name!r}] {problem}"
    return None


def _type(value: object) -> str:
    return type(value).__name__
