"""The entry a check runs for, in the context of the task that runs its checks.

A running system sets it in the task that checks an entry, for as long as
it checks (`EntrySupervisor._check_loop`); whatever the check calls, however
wrapped (a lambda, a partial, a task it starts), sees it there and nowhere
else:

* `owned=True` port and URL checks ask whose processes a listening socket
  must belong to (`_ownership.py`);
* `run_health_script` runs its script under the orphan guard's pipe, if the
  system has one.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol

from ._process_handle import ProcessHandle

__all__ = ["CHECKED_ENTRY", "CheckedEntry", "RunsProcesses"]


class RunsProcesses(Protocol):
    @property
    def process(self) -> ProcessHandle | None: ...


@dataclass(frozen=True, slots=True)
class CheckedEntry:
    id: str
    runner: RunsProcesses | None
    """The running entry, whose `process` is the current one; `None` for an
    entry that runs nothing (`add_health_check`)."""
    guard_fd: int | None = None
    """The read end of the system's orphan guard pipe, if it has one."""


CHECKED_ENTRY: ContextVar[CheckedEntry | None] = ContextVar(
    "healthdaemons_checked_entry", default=None
)
