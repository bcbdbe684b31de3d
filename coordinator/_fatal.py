"""Exceptions from user code that end the whole system.

A check, trigger, `ExecFn`, host or output callback that raises an
`Exception` has failed, and the system reports it and goes on. One that
raises any other `BaseException` (`KeyboardInterrupt`, `SystemExit`, or a
class of its own) asks for the program to end: the system stops every entry
in order, dependents first, and then lets that same exception out of its
`async with` block. Cancellations are the exception: they are how anyio
stops tasks, and pass through untouched.
"""

from __future__ import annotations

from typing import Protocol

import anyio

__all__ = ["Fatal", "is_fatal"]


class Fatal(Protocol):
    """Records that user code (`source`) of an entry raised `error`, which ends
    the system, and ends it in order (`EventLog.fatal`). `in_step`: called
    within a step, so the shutdown begins right after it."""

    def __call__(
        self, entry_id: str | None, source: str, error: BaseException, *, in_step: bool = False
    ) -> None: ...


def is_fatal(error: BaseException) -> bool:
    """Whether `error`, raised by user code, must end the system."""
    ordinary = (Exception, anyio.get_cancelled_exc_class())
    if isinstance(error, BaseExceptionGroup):
        # Fatal if any exception in it is fatal.
        return error.split(lambda part: isinstance(part, ordinary))[1] is not None
    return not isinstance(error, ordinary)
