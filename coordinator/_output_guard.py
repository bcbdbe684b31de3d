"""Output callbacks that cannot end the system in the wrong place."""

from __future__ import annotations

import dataclasses
import functools

from ._command import Command, LineCallback
from ._fatal import Fatal, is_fatal

__all__ = ["guard_output"]


def guard_output(command: Command, entry_id: str, fatal: Fatal) -> Command:
    """`command` with output callbacks that do not raise what ends the system
    into the task reading the output: they hand it to `fatal` (`EventLog.fatal`),
    which ends the system in order instead."""
    if command.on_stdout is None and command.on_stderr is None:
        return command
    return dataclasses.replace(
        command,
        on_stdout=_guarded(entry_id, "on_stdout", command.on_stdout, fatal),
        on_stderr=_guarded(entry_id, "on_stderr", command.on_stderr, fatal),
    )


def _guarded(
    entry_id: str, name: str, callback: LineCallback | None, fatal: Fatal
) -> LineCallback | None:
    if callback is None:
        return None
    return functools.partial(_deliver, entry_id, name, callback, fatal)


def _deliver(entry_id: str, name: str, callback: LineCallback, fatal: Fatal, line: str) -> object:
    try:
        return callback(line)
    except BaseException as error:
        if not is_fatal(error):
            raise
        fatal(entry_id, name, error, in_step=True)
        return None
