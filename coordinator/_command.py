"""`Command`: an operating-system process to run as an entry's process."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ._health import is_non_negative

__all__ = ["DEFAULT_SIGTERM_TIMEOUT", "Command", "LineCallback"]

DEFAULT_SIGTERM_TIMEOUT = 30.0

LineCallback = Callable[[str], object]
"""Receives each whole line of output, without its line ending."""


@dataclass(frozen=True, slots=True)
class Command:
    """A process to run: a string runs as `sh -c STRING`, a sequence is an argv.

    It starts in its own session and process group; stopping it sends SIGTERM
    (then SIGCONT, for stopped members) to the group, SIGKILL after
    `sigterm_timeout`, and waits until no process of the group is left.
    `env` adds to the inherited environment. `user` (a name or uid) drops
    privileges, which needs root. Output lines go to
    `on_stdout` / `on_stderr`, or else to the `healthdaemons.output` logger,
    prefixed with the entry id; both pipes are always drained.

    `run_as_init=True` runs it under a minimal init that forwards signals to
    it and reaps the zombies of its tree; with `user`, the init keeps the
    supervisor's user and only the command runs as `user`.
    """

    command: str | Sequence[str]
    sigterm_timeout: float = DEFAULT_SIGTERM_TIMEOUT
    run_as_init: bool = False
    env: Mapping[str, str] | None = None
    cwd: str | os.PathLike[str] | None = None
    user: str | int | None = None
    on_stdout: LineCallback | None = None
    on_stderr: LineCallback | None = None

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
        command = self.command
        if isinstance(command, str):
            if not command.strip():
                return "exec.command must not be empty"
        elif not isinstance(command, Sequence) or isinstance(command, bytes):
            return (
                "exec.command must be a string or a sequence of strings, "
                f"not {type(command).__name__}"
            )
        elif not command:
            return "exec.command must not be an empty argv"
        elif not all(isinstance(arg, str) for arg in command):
            return "every argument of exec.command must be a string"
        elif not command[0]:
            return "exec.command's program must not be empty"
        if not is_non_negative(self.sigterm_timeout):
            return f"exec.sigterm_timeout must be a number >= 0, not {self.sigterm_timeout!r}"
        if self.env is not None and not (
            isinstance(self.env, Mapping)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in self.env.items())
        ):
            return "exec.env must map strings to strings"
        for name in self.env or ():
            if not name or "=" in name:
                return f"exec.env has a bad variable name: {name!r}"
        arguments = [command] if isinstance(command, str) else list(command)
        if any("\0" in text for text in [*arguments, *(self.env or {}).values()]):
            return "exec.command and exec.env must not contain NUL characters"
        if self.user is not None and (isinstance(self.user, bool) or not self.user):
            return f"exec.user must be a user name or uid, not {self.user!r}"
        for name in ("on_stdout", "on_stderr"):
            callback = getattr(self, name)
            if callback is not None and not callable(callback):
                return f"exec.{name} must be callable, not {type(callback).__name__}"
        return None
