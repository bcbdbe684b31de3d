"""Which entries use each subcontainer, and destroying it after its last user."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import anyio

from ._events import SubContainerDestroyed
from ._fatal import Fatal, is_fatal
from ._options import EntrySpec
from ._subcontainer import SubContainer
from ._task_host import TaskHost

__all__ = ["SubContainerUsers"]


class SubContainerUsers:
    """Counts, per subcontainer (by identity), the entries not yet stopped
    that use it; the last one to stop has it destroyed, in a task, and
    `destroyed` is called when that task is done."""

    __slots__ = ("_destroyed", "_error", "_fatal", "_record", "_tasks", "_users", "destroying")

    def __init__(
        self,
        specs: Iterable[EntrySpec],
        tasks: TaskHost,
        *,
        record: Callable[[SubContainerDestroyed], None],
        error: Callable[[str | None, str], None],
        fatal: Fatal,
        destroyed: Callable[[], None],
    ) -> None:
        self._users: dict[int, int] = {}
        for spec in specs:
            if spec.subcontainer is not None:
                key = id(spec.subcontainer)
                self._users[key] = self._users.get(key, 0) + 1
        self._tasks = tasks
        self._record = record
        self._error = error
        self._fatal = fatal
        self._destroyed = destroyed
        self.destroying = 0
        """How many destroys are under way; the system has not stopped until none is."""

    def release(self, subcontainer: SubContainer, entry_id: str) -> None:
        """`entry_id` stopped for good; destroy its subcontainer if it was the last user."""
        key = id(subcontainer)
        self._users[key] -= 1
        if self._users[key] == 0 and self._tasks.is_open:
            self.destroying += 1
            self._tasks.group.start_soon(
                self._destroy, subcontainer, entry_id, name=f"healthdaemons:{entry_id}:destroy"
            )

    async def _destroy(self, subcontainer: SubContainer, entry_id: str) -> None:
        with anyio.CancelScope(shield=True):
            timeout = subcontainer.destroy_timeout
            with anyio.move_on_after(timeout) as scope:
                try:
                    await subcontainer.destroy()
                except Exception as error:
                    self._error(entry_id, f"destroying {subcontainer!r} failed: {error!r}")
                except BaseException as error:
                    if not is_fatal(error):
                        raise
                    self._fatal(entry_id, f"destroying {subcontainer!r}", error)
                else:
                    self._record(
                        SubContainerDestroyed(anyio.current_time(), entry_id, subcontainer.name)
                    )
            if scope.cancelled_caught:
                self._error(entry_id, f"destroying {subcontainer!r} took over {timeout:g} s")
        self.destroying -= 1
        self._destroyed()
