"""Running what an entry runs, behind one small interface.

The coordinator only ever sees a `ProcessHandle`: it can wait for the exit,
or stop the process (politely, then for good, within a bound). In-process
functions (`ExecFn`) are one implementation; operating-system processes are
another, and the coordinator does not change when one is added.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import anyio
import anyio.lowlevel
from anyio import TaskHandle
from anyio.abc import TaskGroup

from ._command import Command
from ._defaults import RESTART_DELAY_CAP, RESTART_RESET_AFTER
from ._fatal import is_fatal
from ._options import ExecFn

__all__ = ["ExitStatus", "FunctionProcess", "NotifiesEnd", "ProcessHandle", "RestartBackoff"]


@dataclass(frozen=True, slots=True)
class ExitStatus:
    """How a process ended. `clean`: exit code 0, or a stop the supervisor asked for.

    `spawned=False`: it never started (`description` says why).
    `then_run`: an `ExecFn` returned this command to run next.
    """

    returncode: int | None
    clean: bool
    description: str
    abandoned: bool = False
    spawned: bool = True
    then_run: Command | None = None


@runtime_checkable
class ProcessHandle(Protocol):
    """What the coordinator needs of a running process.

    The stop policy (terminate, wait up to `sigterm_timeout`, kill, wait)
    belongs to the coordinator; a handle only knows how to deliver each step.
    """

    pid: int | None
    sigterm_timeout: float

    @property
    def running(self) -> bool: ...

    async def wait(self) -> ExitStatus:
        """Wait until the process itself has ended (or, once killed, is past waiting for)."""
        ...

    async def wait_gone(self) -> None:
        """Wait until nothing of it is left (for a command: its whole process group)."""
        ...

    def terminate(self) -> str:
        """Ask the process to stop; returns what was sent, for the record."""
        ...

    def kill(self) -> str:
        """Stop it for good; returns what was sent, for the record."""
        ...


class NotifiesEnd(Protocol):
    """A `ProcessHandle` may also have `when_ended`: then the supervisor checks
    the entry in the task that waits for the process, rather than in a task
    of its own (one task less per running entry)."""

    def when_ended(self, callback: Callable[[], None]) -> None:
        """Call `callback` once, when `wait` would return (at once if it would now)."""
        ...


_CANCELLED = ExitStatus(None, True, "cancelled")
"""One for all: it would otherwise be made anew, and held, by every running function."""


class FunctionProcess:
    """An `ExecFn` running in a task of the system's task group.

    It runs there, not under the entry's own task, so that a function that
    ignores cancellation can be abandoned without stalling the shutdown.
    A function that raises a `BaseException` that must end the program
    (`KeyboardInterrupt`, say) has crashed, and `on_fatal` gets the exception.
    """

    __slots__ = (
        "_done",
        "_ended_callback",
        "_exec",
        "_on_fatal",
        "_status",
        "_subcontainer",
        "_task",
        "sigterm_timeout",
    )

    pid: int | None = None

    def __init__(
        self,
        exec_fn: ExecFn,
        subcontainer: Any,
        task_group: TaskGroup,
        name: str,
        on_fatal: Callable[[BaseException], None],
    ) -> None:
        self._exec = exec_fn
        self._on_fatal = on_fatal
        self._subcontainer = subcontainer
        self.sigterm_timeout = exec_fn.sigterm_timeout
        self._done: anyio.Event | None = None
        """Made only when something waits before the end: the supervising
        task checks the entry meanwhile, and waits only once it has ended."""
        self._status: ExitStatus | None = None
        self._ended_callback: Callable[[], None] | None = None
        # Cancelled through its task's own scope: a scope of ours would cost
        # every running function memory.
        self._task: TaskHandle[None] | None = task_group.start_soon(self._run, name=name)

    @property
    def running(self) -> bool:
        return self._status is None

    async def _run(self) -> None:
        # Cancelled (by `terminate` or by the group ending) unless it says otherwise.
        status = _CANCELLED
        try:
            returned = await self._exec.fn(self._subcontainer)
        except Exception as error:
            status = ExitStatus(None, False, _describe(error))
        except BaseException as error:
            if isinstance(error, anyio.get_cancelled_exc_class()):
                # Its stop, or the end of the system: the task ends here.
                # Raised on, the cancellation would be kept by the task's
                # handle, in a cycle with its traceback's frames (on trio,
                # those of whoever cancelled), for the collector to free.
                return
            if not is_fatal(error):
                raise
            # Kept from the event loop: asyncio would stop at once,
            # leaving every process running (and hang on closing).
            status = ExitStatus(None, False, _describe(error))
            self._on_fatal(error)
        else:
            if returned is None:
                status = ExitStatus(0, True, "returned")
            elif isinstance(returned, Command) and returned.problem() is None:
                status = ExitStatus(0, True, "returned a command", then_run=returned)
            elif isinstance(returned, Command):
                status = ExitStatus(None, False, f"returned a bad command: {returned.problem()}")
            else:
                status = ExitStatus(None, False, f"returned {returned!r} instead of None")
        finally:
            if self._status is None:  # not abandoned meanwhile
                self._finish(status)

    def _finish(self, status: ExitStatus) -> None:
        self._status = status
        # Let go of the task: a cancelled one keeps its cancellation, whose
        # traceback holds the frame of `_run` and so this process, a cycle
        # only the collector would free.
        self._task = None
        if self._done is not None:
            self._done.set()
        callback, self._ended_callback = self._ended_callback, None
        if callback is not None:
            callback()

    def when_ended(self, callback: Callable[[], None]) -> None:
        if self._status is None:
            self._ended_callback = callback
        else:
            callback()

    async def wait(self) -> ExitStatus:
        await self.wait_gone()
        assert self._status is not None
        return self._status

    async def wait_gone(self) -> None:
        if self._status is None:
            if self._done is None:
                self._done = anyio.Event()
            await self._done.wait()
        else:
            await anyio.lowlevel.checkpoint()  # (as the event's `wait` would)

    def terminate(self) -> str:
        if self._task is not None:
            self._task.cancel()
        return "cancel"

    def kill(self) -> str:
        # A function cannot be killed: stop waiting for it.
        if self._status is None:
            timeout = self.sigterm_timeout
            self._finish(
                ExitStatus(
                    None, False, f"ignored cancellation for {timeout:g} s and was abandoned", True
                )
            )
        return "abandon"


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class RestartBackoff:
    """Capped exponential delays between restarts: 0, 1, 2, 4 ... 30 s.

    A process that stayed up `reset_after` seconds counts as healthy again:
    the next restart is immediate and the restart count starts over.
    """

    __slots__ = ("cap", "reset_after", "restarts")

    def __init__(
        self, cap: float = RESTART_DELAY_CAP, reset_after: float = RESTART_RESET_AFTER
    ) -> None:
        self.cap = cap
        self.reset_after = reset_after
        self.restarts = 0

    def next_delay(self, uptime: float) -> float:
        if uptime >= self.reset_after:
            self.restarts = 0
        delay = 0.0 if self.restarts == 0 else min(2.0 ** (self.restarts - 1), self.cap)
        self.restarts += 1
        return delay
