"""Where every task of a running system runs, and the orphan guard's pipe."""

from __future__ import annotations

import os
from collections.abc import Callable

import anyio
from anyio.abc import TaskGroup, TaskStatus

__all__ = ["TaskHost"]


class TaskHost:
    """The task group of one running system, opened by `__aenter__` and closed
    by `__aexit__` of `RunningDaemons`; `ended` is called once no task of it
    runs any more."""

    __slots__ = (
        "_checks_group",
        "_checks_scope",
        "_ended",
        "_group",
        "_guard_fds",
        "_host_group",
        "_orphan_guard",
        "_tasks_scope",
    )

    def __init__(self, *, orphan_guard: bool, ended: Callable[[], None]) -> None:
        self._orphan_guard = orphan_guard
        self._ended = ended
        self._group: TaskGroup | None = None
        self._host_group: TaskGroup | None = None
        self._tasks_scope: anyio.CancelScope | None = None
        self._checks_group: TaskGroup | None = None
        self._checks_scope: anyio.CancelScope | None = None
        self._guard_fds: tuple[int, int] | None = None

    @property
    def is_open(self) -> bool:
        """Whether tasks may be started: from `open()` until `cancel()`."""
        return self._group is not None

    @property
    def group(self) -> TaskGroup:
        assert self._group is not None, "the system is not running"
        return self._group

    @property
    def checks_group(self) -> TaskGroup | None:
        """Where checks run that need a task of their own (those of a process
        handle without `when_ended`): `None` once `cancel_checks()` has ended
        them all (or before `open()`)."""
        return self._checks_group

    def cancel_checks(self) -> None:
        """End every check at once, as `term()` begins: the check tasks by
        one cancellation for the whole system (far cheaper than one per
        entry), and the checks that supervising tasks run by a flag they
        read before each check (`checks_group` is `None`)."""
        if self._checks_scope is not None:
            self._checks_scope.cancel()
        self._checks_group = None

    @property
    def guard_fd(self) -> int | None:
        """The read end of the orphan guard's pipe, for each command's init."""
        return None if self._guard_fds is None else self._guard_fds[0]

    async def open(self) -> None:
        if self._orphan_guard:
            # The write end stays here; when this process dies, however, the
            # pipe closes and each command's init kills its process group.
            self._guard_fds = os.pipe()
        host = anyio.create_task_group()
        await host.__aenter__()
        self._host_group = host
        # Shielded: a cancelled `start()` would wait for the shielded task.
        with anyio.CancelScope(shield=True):
            self._group = await host.start(self._hold)

    def cancel(self) -> None:
        """Everything has stopped (unless our own code crashed, and then
        cancelling the tasks stops what is left); only check loops finishing
        their cancellation and abandoned functions can still run."""
        assert self._tasks_scope is not None
        self._tasks_scope.cancel()
        self._group = None
        self._checks_group = None

    async def close(self, exc: BaseException | None) -> None:
        """Wait for the cancelled tasks; `exc` is the block's own exception,
        which an outer cancellation arriving meanwhile must not replace."""
        assert self._host_group is not None
        try:
            await self._host_group.__aexit__(None, None, None)
        except anyio.get_cancelled_exc_class():
            if exc is None or isinstance(exc, anyio.get_cancelled_exc_class()):
                raise
        finally:
            if self._guard_fds is not None:
                for fd in self._guard_fds:
                    os.close(fd)
                self._guard_fds = None

    async def _hold(self, *, task_status: TaskStatus[TaskGroup]) -> None:
        """Hold the group where every task of the system runs.

        Its scope is shielded: a cancellation of the block around the system
        (say, a `move_on_after`) must not reach the processes before `term()`
        has stopped them in order. `cancel()` ends it once all is stopped.
        """
        try:
            with anyio.CancelScope(shield=True) as self._tasks_scope:
                async with anyio.create_task_group() as tasks:
                    # Check tasks in a group of their own, inside this one.
                    with anyio.CancelScope() as self._checks_scope:
                        async with anyio.create_task_group() as self._checks_group:
                            task_status.started(tasks)
                            await anyio.sleep_forever()
                    await anyio.sleep_forever()
        finally:
            # No task of the system runs any more, so nothing is left to wait
            # for. Before term() this only happens when our own code crashed:
            # the crash then comes out of the block, and nothing hangs.
            self._ended()
