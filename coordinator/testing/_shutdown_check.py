"""Check that a system shut down cleanly, and run systems for a test.

A clean shutdown is one where, once the system's block was left:

1. every entry is `stopped`;
2. the history keeps invariants 1, 2, 3, 5 and 6 (`check_invariants`);
3. no process the system started is alive, grandchildren included.

The third point is checked by `_leftovers.py`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from types import TracebackType

import anyio
from anyio.abc import TaskGroup

from statemachines import LifecycleState

from .._daemons import Daemons
from .._defaults import LEFTOVER_WAIT
from .._fatal import is_fatal
from .._running import RunningDaemons
from ._invariants import InvariantViolation, check_invariants
from ._leftovers import LeftoverProcess, kill_leftovers, leftover_processes

__all__ = ["StartSystem", "UncleanShutdown", "check_clean_shutdown"]


class UncleanShutdown(AssertionError):
    """A system did not shut down cleanly.

    The message lists each problem on its own line. `entries` names the
    entries involved; `leftovers` are the processes found alive afterwards
    (killed by then, unless the check was told not to); `violation` is the
    broken invariant, if one was.
    """

    def __init__(
        self,
        message: str,
        entries: Iterable[str],
        leftovers: Sequence[LeftoverProcess] = (),
        violation: InvariantViolation | None = None,
    ) -> None:
        super().__init__(message)
        self.entries = tuple(dict.fromkeys(entries))
        self.leftovers = tuple(leftovers)
        self.violation = violation


def check_clean_shutdown(
    running: RunningDaemons, *, wait: float = LEFTOVER_WAIT, kill: bool = True
) -> None:
    """Raise `UncleanShutdown` unless `running`, a system whose block has
    been left, shut down cleanly: every entry `stopped`, invariants 1, 2, 3,
    5 and 6 kept by its history, and no process of it alive.

    Leftover processes get `wait` seconds to go; then, with `kill` (the
    default), they are killed before the error is raised.
    """
    problem = _check(running, wait=wait, kill=kill)
    if problem is not None:
        raise problem


class StartSystem:
    """Runs systems for a test, then stops them and checks how they stopped.

    ```python
    async with StartSystem() as start_system:
        running = await start_system(system, wait_ready=30)
        ...
    ```

    Each system runs in a task of its own, so the caller may start it from
    within any cancel scope (`fail_after`, a task group). Leaving the block
    stops the systems one after another, the last started first, each by
    leaving its `async with` block (the ordered `term()`); then
    `check_clean_shutdown` checks each, and every problem found, of every
    system, comes out as one `UncleanShutdown`, after leftover processes have
    been killed. An exception raised in the block goes out as itself, after
    the same shutdown; the shutdown's problems are then attached to it as a
    note.

    The `start_system` fixture of the pytest plugin is this, reporting the
    problems as a failure of the test's teardown.
    """

    def __init__(self, *, leftover_wait: float = LEFTOVER_WAIT) -> None:
        self.leftover_wait = leftover_wait
        self._systems: list[_System] = []
        self._group: TaskGroup | None = None
        self._closed = False

    @property
    def systems(self) -> tuple[RunningDaemons, ...]:
        """The systems started so far, in the order they were started."""
        return tuple(system.running for system in self._systems)

    async def __call__(self, system: Daemons, *, wait_ready: float | None = None) -> RunningDaemons:
        """Build `system` and run it until the end of the block; with
        `wait_ready`, also wait up to that many seconds until every entry is
        ready (raising `WaitTimeoutError` as `RunningDaemons.wait_ready` does;
        the system is stopped and checked at the end of the block all the
        same)."""
        if self._group is None or self._closed:
            raise RuntimeError("start_system() needs its block: `async with StartSystem() as ...`")
        if not isinstance(system, Daemons):
            raise TypeError(f"start_system() takes a Daemons (a system to build), not {system!r}")
        # The whole history, for the invariant checker.
        started = _System(system.build(history_limit=None))
        self._systems.append(started)
        self._group.start_soon(started.run, name="healthdaemons:start_system")
        await started.settled.wait()
        if started.error is not None and not started.entered:
            raise started.error
        if wait_ready is not None:
            await started.running.wait_ready(wait_ready)
        return started.running

    async def __aenter__(self) -> StartSystem:
        if self._group is not None or self._closed:
            raise RuntimeError("a StartSystem can be entered only once")
        group = anyio.create_task_group()
        await group.__aenter__()
        self._group = group
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        assert self._group is not None
        self._closed = True
        try:
            # Shielded: the order of the shutdown is the point. Each step is
            # bounded by the systems' own timeouts.
            with anyio.CancelScope(shield=True):
                for started in reversed(self._systems):
                    started.leave.set()
                    await started.done.wait()
        finally:
            try:
                # Its tasks have ended, unless the loop above failed: then
                # they all stop now. The block's exception is not passed on:
                # it goes out as itself, never in an exception group.
                for started in self._systems:
                    started.leave.set()
                await self._group.__aexit__(None, None, None)
            finally:
                # Checked (and leftovers killed) whatever happened above.
                problem = self._check_all()
                if problem is not None:
                    if exc is None:
                        raise problem
                    exc.add_note(str(problem))
        fatal = [started.fatal for started in self._systems if started.fatal is not None]
        if fatal and exc is None:
            raise fatal[0]
        return False

    def _check_all(self) -> UncleanShutdown | None:
        problems = [
            problem
            for started in self._systems
            if (problem := _check(started.running, self.leftover_wait, True, started)) is not None
        ]
        if not problems:
            return None
        return problems[0] if len(problems) == 1 else _combine(problems)


# Internals.


class _System:
    """One system of a `StartSystem`, run by a task of its group."""

    def __init__(self, running: RunningDaemons) -> None:
        self.running = running
        self.entered = False
        self.settled = anyio.Event()
        """Set once the block is entered, or could not be."""
        self.leave = anyio.Event()
        self.done = anyio.Event()
        self.error: Exception | None = None
        """What entering or leaving the block raised (entering: for the caller)."""
        self.fatal: BaseException | None = None
        """What user code raised that ends the program (`KeyboardInterrupt`, say):
        raised again when the `StartSystem` block is left."""

    async def run(self) -> None:
        # Never raises: an exception here would cancel the test itself.
        try:
            async with self.running:
                self.entered = True
                self.settled.set()
                await self.leave.wait()
        except Exception as error:
            self.error = error
        except BaseException as error:
            if not is_fatal(error):
                raise
            # Not out of this task: on asyncio it would stop the event loop.
            self.fatal = error
        finally:
            self.settled.set()
            self.done.set()


def _describe(running: RunningDaemons) -> str:
    ids = running.ids
    shown = ", ".join(ids[:6])
    if len(ids) > 6:
        shown += f", ... ({len(ids)} entries)"
    return f"the system ({shown or 'no entries'})"


def _check(
    running: RunningDaemons, wait: float, kill: bool, started: _System | None = None
) -> UncleanShutdown | None:
    lines: list[str] = []
    entries: list[str] = []
    violation: InvariantViolation | None = None
    if started is None or started.entered:
        if started is not None and started.error is not None:
            error = started.error
            lines.append(f"- leaving its block raised {type(error).__name__}: {error}")
        states = [(i, running.state(i)) for i in running.ids]
        not_stopped = [(i, state) for i, state in states if state is not LifecycleState.STOPPED]
        if not_stopped:
            listing = ", ".join(f"{i} is {state.value}" for i, state in not_stopped)
            lines.append(f"- not stopped: {listing}")
            entries += [i for i, _ in not_stopped]
        dropped = running.statistics().history_dropped
        if dropped:
            lines.append(
                f"- its history cannot be checked: its oldest {dropped} events were dropped"
                " (build it with history_limit=None)"
            )
        else:
            try:
                check_invariants(running.entries, running.history)
            except InvariantViolation as error:
                violation = error
                lines.append(f"- {error}")
                entries += error.entries
            except ValueError as error:  # a history the checker cannot replay
                lines.append(f"- its history cannot be checked: {error}")
    leftovers = leftover_processes(running, wait=wait)
    if leftovers:
        how = "killed now" if kill else "still running"
        lines.append(f"- processes alive after the shutdown ({how}):")
        lines += [f"    {process}" for process in leftovers]
        survivors = kill_leftovers(leftovers, wait=wait) if kill else []
        if survivors:
            pids = ", ".join(str(p.pid) for p in survivors)
            lines.append(f"    (SIGKILL did not end {pids})")
        entries += [process.entry for process in leftovers]
    if not lines:
        return None
    header = f"{_describe(running)} did not shut down cleanly"
    if entries:
        header += f" (entries {', '.join(dict.fromkeys(entries))})"
    return UncleanShutdown("\n".join([f"{header}:", *lines]), entries, leftovers, violation)


def _combine(problems: Sequence[UncleanShutdown]) -> UncleanShutdown:
    violations = [p.violation for p in problems if p.violation is not None]
    return UncleanShutdown(
        "\n\n".join(str(p) for p in problems),
        [e for p in problems for e in p.entries],
        [leftover for p in problems for leftover in p.leftovers],
        violations[0] if violations else None,
    )
