"""The watchdog of a daemon's process: its start timeout, then its liveness check.

One task per process, made only for a daemon that has either. It never
decides what happens to the entry: when the process was not ready in time,
or failed its liveness check too often, it hands the process to `restart`
(the supervisor's, which stops it by the stop policy for its loop to run
it again), with the reason the exit will be reported with.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio

from statemachines import LifecycleState

from ._check_call import call_check, unless_stopped
from ._checked import CHECKED_ENTRY, CheckedEntry
from ._entry import Entry
from ._process_handle import ProcessHandle
from ._task_host import TaskHost

__all__ = ["Watchdog", "watched"]

Restart = Callable[[Entry, ProcessHandle, str], None]
"""Stop the entry's process, for the reason given, to run it again."""


def watched(entry: Entry) -> bool:
    """Whether the entry's processes need a watchdog."""
    return entry.spec.start_timeout is not None or entry.spec.liveness is not None


class Watchdog:
    """The watchdogs of a system's processes."""

    __slots__ = ("_restart", "_tasks")

    def __init__(self, tasks: TaskHost, restart: Restart) -> None:
        self._tasks = tasks
        self._restart = restart

    def start(self, entry: Entry, process: ProcessHandle) -> None:
        """Watch the entry's new process; `stop` ends it when the process ends."""
        # Made now, not in the task: the process may be ready before it runs.
        became_ready = entry.became_ready = anyio.Event()
        if entry.state is LifecycleState.READY:
            # A command an `ExecFn` handed over to, the entry ready already.
            became_ready.set()
        scope = entry.watchdog = anyio.CancelScope()
        self._tasks.group.start_soon(
            self._watch, entry, process, scope, name=f"healthdaemons:{entry.spec.id}:watch"
        )

    @staticmethod
    def stop(entry: Entry) -> None:
        if entry.watchdog is not None:
            entry.watchdog.cancel()
            entry.watchdog = entry.became_ready = None

    async def _watch(self, entry: Entry, process: ProcessHandle, scope: anyio.CancelScope) -> None:
        spec = entry.spec
        became_ready = entry.became_ready
        assert became_ready is not None
        # Set in this task's own context, so it reaches this entry's checks only.
        CHECKED_ENTRY.set(CheckedEntry(spec.id, entry, self._tasks.guard_fd))
        with scope:
            if spec.start_timeout is None:
                await became_ready.wait()
            else:
                with anyio.move_on_after(spec.start_timeout):
                    await became_ready.wait()
                if not became_ready.is_set():
                    reason = f"not ready {spec.start_timeout:g} s after it started"
                    self._restart(entry, process, reason)
                    return
            liveness = spec.liveness
            if liveness is None:
                return
            failures = 0
            while True:
                await anyio.sleep(liveness.interval)
                result = await call_check(liveness.fn, liveness.timeout, "liveness check")
                result = unless_stopped(entry, result)
                failures = 0 if result.is_success else failures + 1
                if failures >= liveness.failures:
                    times = "once" if failures == 1 else f"{failures} times in a row"
                    self._restart(
                        entry, process, f"liveness check failed {times}: {result.message}"
                    )
                    return
