"""The coordinator: a built system, linking its entries' lifecycle machines.

Theory of operation
-------------------
Each entry's state changes only through `statemachines.fire`. Two kinds of
change happen:

* event-triggered: something outside the coordinator happened (a check
  result, a process exit, a process gone, `term()`); `_react` fires the
  matching event at that entry;
* state-triggered: a change of one entry makes a rule apply to another
  ("every dependency is ready, so launch"; "a dependency left ready, so stop";
  "no dependent is running any more, so signal"). `_fire` queues the entries
  whose rules may now apply, and `_drain` applies them until nothing changes,
  as h11 does for its two coupled machines.

One reaction, with everything it causes, is one *step*: it runs without an
await, so no task ever sees a half-applied cascade. The queue (not recursion)
keeps a cascade down a chain of 20,000 entries flat, and the counters on each
entry keep every rule O(1), so a whole shutdown costs O(entries + edges).

Tasks only run what an entry runs and wait; they never decide. Each launch
starts a supervising task, which runs the process loop and reports `gone`
once the process is stopped, and a check loop, cancelled as soon as the
entry starts stopping.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import final

import anyio
from anyio.abc import TaskGroup, TaskStatus

from statemachines import (
    ACTIVE_STATES,
    EntryKind,
    LifecycleEvent,
    LifecycleState,
    fire,
    new_machine,
)

from . import triggers
from ._announced import Announcement
from ._command import Command
from ._entry import Entry
from ._events import (
    ProcessExited,
    ProcessSignalled,
    ProcessSpawned,
    SubContainerDestroyed,
    Transitioned,
)
from ._health import HealthCheckResult, close_steps
from ._host import Host
from ._options import EntrySpec, Exec
from ._processes import ExitStatus, FunctionProcess, ProcessHandle, RestartBackoff
from ._recorder import EventRecorder
from ._subcontainer import SubContainer
from ._subprocesses import CommandProcess, SpawnError, SpawnSettings
from .errors import SystemTerminatedError, WaitTimeoutError

__all__ = ["RunningDaemons", "SystemStatistics"]

WAITING = LifecycleState.WAITING
STARTING = LifecycleState.STARTING
READY = LifecycleState.READY
STOPPING = LifecycleState.STOPPING
STOPPED = LifecycleState.STOPPED
KILL_WAIT = 10.0
"""How long a process group may take to vanish after SIGKILL before it is given up on."""
CHECK_RESULTS = frozenset({LifecycleEvent.HEALTHY, LifecycleEvent.UNHEALTHY})
"""Events that, when they change no state, are not recorded: a steady check
would otherwise add an event at every poll (reports record the changes)."""


@dataclass(frozen=True, slots=True)
class SystemStatistics:
    """A snapshot of a running system, for tests, tools and dashboards."""

    states: Mapping[str, LifecycleState]
    restarts: Mapping[str, int]
    ready: int
    stopped: int
    terminating: bool
    events: int
    dropped_events: int


@final
class RunningDaemons(EventRecorder):
    """A system built by `Daemons.build()`.

    Use it as an async context manager: entering starts every entry whose
    dependencies allow it; leaving (by return, exception or cancellation)
    runs `term()` and comes back only once everything has stopped.
    """

    def __init__(
        self, specs: Sequence[EntrySpec], host: Host, *, orphan_guard: bool = False
    ) -> None:
        super().__init__(host)
        machines = {kind: new_machine(kind) for kind in EntryKind}
        self._entries: dict[str, Entry] = {}
        for spec in specs:
            entry = Entry(spec, self, machines[spec.kind])
            for required in spec.requires:
                dependency = self._entries[required]
                entry.dependencies.append(dependency)
                dependency.dependents.append(entry)
            self._entries[spec.id] = entry
        self._order = list(self._entries.values())
        self._queue: deque[Entry] = deque()
        self._step = 0
        self._terminating = False
        self._ready_count = 0
        self._stopped_count = 0
        self._task_group: TaskGroup | None = None
        self._host_group: TaskGroup | None = None
        self._tasks_scope: anyio.CancelScope | None = None
        self._entered = False
        self._finished = False
        self._all_stopped: anyio.Event | None = None
        # Subcontainers by identity: how many entries not yet stopped use each.
        self._holders: dict[int, int] = {}
        for spec in specs:
            if spec.subcontainer is not None:
                key = id(spec.subcontainer)
                self._holders[key] = self._holders.get(key, 0) + 1
        self._destroying = 0
        self._orphan_guard = orphan_guard
        self._guard_fds: tuple[int, int] | None = None

    # Public surface.

    @property
    def is_terminating(self) -> bool:
        return self._terminating

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def state(self, entry_id: str) -> LifecycleState:
        """The entry's current lifecycle state."""
        return self._entry(entry_id).state

    def health(self, entry_id: str) -> HealthCheckResult | None:
        """The entry's last reported health (`None` before its first report)."""
        return self._entry(entry_id).health

    def statistics(self) -> SystemStatistics:
        return SystemStatistics(
            states={i: e.state for i, e in self._entries.items()},
            restarts={i: e.restarts for i, e in self._entries.items()},
            ready=self._ready_count,
            stopped=self._stopped_count,
            terminating=self._terminating,
            events=len(self.history),
            dropped_events=self._dropped_events,
        )

    async def wait_ready(self, timeout: float | None = None) -> None:
        """Wait until every entry is `ready` at the same time.

        Raises `WaitTimeoutError` (a `TimeoutError`) naming the entries that
        were not ready, or `SystemTerminatedError` if the system is terminated
        first.
        """

        def all_ready() -> bool:
            if self._terminating:
                raise SystemTerminatedError(
                    f"Terminated while waiting for {', '.join(self._not_ready())}",
                    not_ready=self._not_ready(),
                )
            return self._ready_count == len(self._order)

        if not await self.wait_until(all_ready, timeout):
            raise WaitTimeoutError(
                f"Timed out waiting for {', '.join(self._not_ready())}",
                not_ready=self._not_ready(),
            )

    async def wait_until(self, condition: Callable[[], bool], timeout: float | None = None) -> bool:
        """Wait until `condition()` is true; `False` if `timeout` ran out first.

        The condition is evaluated now, after each step of the coordinator
        (a reaction with the cascade it causes) and after each event, for example
        `await running.wait_until(lambda: running.state("api") is LifecycleState.WAITING)`.
        """
        self._require_running("wait_until")
        await anyio.lowlevel.checkpoint()
        if self._finished:
            return condition()  # nothing changes any more
        with anyio.move_on_after(timeout):
            while not condition():
                if self._changed is None:
                    self._changed = anyio.Event()
                await self._changed.wait()
            return True
        return False

    async def wait_stopped(self) -> None:
        """Wait until every entry is `stopped` (only `term()` gets them there)."""
        self._require_running("wait_stopped")
        assert self._all_stopped is not None
        await self._all_stopped.wait()

    async def term(self) -> None:
        """Stop every entry, dependents before their dependencies, and wait for it.

        Idempotent: concurrent and later calls share the one shutdown, and a
        caller that is cancelled does not interrupt it.
        """
        self._init_events()
        if not self._terminating:
            self._terminating = True
            self._step += 1
            # Dependents first, so no entry is stopped twice over (once by
            # term, once by losing a dependency).
            for entry in reversed(self._order):
                if entry.state is WAITING or entry.state in ACTIVE_STATES:
                    self._fire(entry, LifecycleEvent.TERM)
            self._drain()
            self._notify()
        assert self._all_stopped is not None
        await self._all_stopped.wait()

    async def __aenter__(self) -> RunningDaemons:
        if self._entered:
            raise RuntimeError("a built system can be entered only once; call build() again")
        self._entered = True
        self._init_events()
        if self._orphan_guard:
            # The write end stays here; when this process dies, however, the
            # pipe closes and each command's init kills its process group.
            self._guard_fds = os.pipe()
        host = anyio.create_task_group()
        await host.__aenter__()
        self._host_group = host
        # Shielded: a cancelled `start()` would wait for the shielded task.
        with anyio.CancelScope(shield=True):
            self._task_group = await host.start(self._host_tasks)
        self._step += 1
        self._queue.extend(self._order)
        self._drain()
        self._notify()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        assert self._host_group is not None
        assert self._tasks_scope is not None
        try:
            with anyio.CancelScope(shield=True):
                await self.term()
        finally:
            # Everything has stopped (unless our own code crashed, and then
            # cancelling the tasks stops what is left); only check loops
            # finishing their cancellation and abandoned functions can still
            # run here. The block's own exception goes out as itself, never
            # wrapped in an exception group.
            self._tasks_scope.cancel()
            self._task_group = None
            self._finished = True
            await self._exit_host_group(exc)
        return False

    async def _exit_host_group(self, exc: BaseException | None) -> None:
        assert self._host_group is not None
        try:
            await self._host_group.__aexit__(None, None, None)
        except anyio.get_cancelled_exc_class():
            # An outer cancellation that arrived meanwhile must not replace
            # the block's own exception; without one, it goes on out.
            if exc is None or isinstance(exc, anyio.get_cancelled_exc_class()):
                raise
        finally:
            self._close_subscribers()
            if self._guard_fds is not None:
                for fd in self._guard_fds:
                    os.close(fd)
                self._guard_fds = None

    async def _host_tasks(self, *, task_status: TaskStatus[TaskGroup]) -> None:
        """Hold the group where every task of the system runs.

        Its scope is shielded: a cancellation of the block around the system
        (say, a `move_on_after`) must not reach the processes before `term()`
        has stopped them in order. `__aexit__` cancels it once all is stopped.
        """
        try:
            with anyio.CancelScope(shield=True) as self._tasks_scope:
                async with anyio.create_task_group() as tasks:
                    task_status.started(tasks)
                    await anyio.sleep_forever()
        finally:
            # No task of the system runs any more, so nothing is left to wait
            # for. Before term() this only happens when our own code crashed:
            # the crash then comes out of the block, and nothing hangs.
            assert self._all_stopped is not None
            self._all_stopped.set()

    # Reactions: the only places where entries change state.

    def _react(
        self,
        entry: Entry,
        event: LifecycleEvent,
        report: HealthCheckResult | None = None,
        *,
        soften: bool = True,
    ) -> None:
        """One step: something happened to `entry`; fire `event` and settle the system."""
        self._step += 1
        if report is not None:
            self._report(entry, report, soften)
        self._fire(entry, event)
        self._drain()
        self._notify()

    def _drain(self) -> None:
        queue = self._queue
        while queue:
            self._settle(queue.popleft())

    def _settle(self, entry: Entry) -> None:
        """The state-triggered rules, in order; the table's guards decide."""
        state = entry.state
        if state is WAITING:
            if not self._fire(entry, LifecycleEvent.LAUNCH) and not self._terminating:
                self._report_waiting(entry)
        elif state in ACTIVE_STATES:
            if entry.ready_dependencies < len(entry.dependencies):
                self._fire(entry, LifecycleEvent.DEPENDENCY_LOST)
        elif state is STOPPING and not entry.signalled:
            self._fire(entry, LifecycleEvent.SIGNAL)

    def _fire(self, entry: Entry, event: LifecycleEvent) -> bool:
        source = entry.state
        if not fire(entry, event):
            return False
        dest = entry.state
        if source is not dest or event not in CHECK_RESULTS:
            self._record(
                Transitioned(anyio.current_time(), entry.spec.id, event, source, dest, self._step)
            )
        if source is dest:
            if event is LifecycleEvent.SIGNAL:
                self._permit_stop(entry)
            return True
        queue = self._queue
        if dest is READY or source is READY:
            delta = 1 if dest is READY else -1
            self._ready_count += delta
            for dependent in entry.dependents:
                dependent.ready_dependencies += delta
                queue.append(dependent)
        if source is WAITING and dest is STARTING:
            for dependency in entry.dependencies:
                dependency.running_dependents += 1
            self._launch(entry)
        elif source is STOPPING:
            for dependency in entry.dependencies:
                dependency.running_dependents -= 1
                queue.append(dependency)
            queue.append(entry)
        if dest is STOPPING:
            assert entry.checks_scope is not None
            entry.checks_scope.cancel()
            if entry.stopping is not None:
                entry.stopping.set()
            queue.append(entry)
        elif dest is STOPPED:
            self._stopped_count += 1
            if entry.spec.subcontainer is not None:
                self._release(entry.spec.subcontainer, entry.spec.id)
            self._check_all_stopped()
        return True

    def _check_all_stopped(self) -> None:
        if self._stopped_count == len(self._order) and not self._destroying:
            assert self._all_stopped is not None
            self._all_stopped.set()

    def _release(self, subcontainer: SubContainer, entry_id: str) -> None:
        """`entry_id` stopped for good; destroy its subcontainer if it was the last user."""
        key = id(subcontainer)
        self._holders[key] -= 1
        if self._holders[key] == 0 and self._task_group is not None:
            self._destroying += 1
            self._task_group.start_soon(self._destroy, subcontainer, entry_id)

    def _launch(self, entry: Entry) -> None:
        assert self._task_group is not None
        entry.launched_at = anyio.current_time()
        entry.last_raw = None
        entry.restarts = 0
        entry.signalled = False
        entry.stopping = None
        entry.stop_permitted = None
        entry.checks_scope = anyio.CancelScope()
        entry.checking = False
        entry.recheck_scope = None
        entry.wait_scope = None
        self._task_group.start_soon(self._supervise, entry, name=f"healthdaemons:{entry.spec.id}")

    def _permit_stop(self, entry: Entry) -> None:
        entry.signalled = True
        if entry.stop_permitted is not None:
            entry.stop_permitted.set()
        process = entry.process
        if (
            process is not None
            and process.running
            and entry.kill_at is None
            and entry.wait_scope is not None
        ):
            # The supervising task keeps waiting for the exit, now bounded.
            entry.wait_scope.deadline = self._terminate(entry, process)

    # Supervising tasks: they run things and wait, and report to `_react`.

    async def _supervise(self, entry: Entry) -> None:
        assert self._task_group is not None
        if entry.spec.exec is None:
            self._start_checks(entry)
        else:
            await self._process_loop(entry)
        if not entry.signalled:
            # Created only now: a running daemon waits in its process loop.
            entry.stop_permitted = anyio.Event()
            await entry.stop_permitted.wait()
        self._react(entry, LifecycleEvent.GONE)

    def _start_checks(self, entry: Entry) -> None:
        """Start checking, once per launch: at once for a health check, and
        once its first process exists for a daemon."""
        ready = entry.spec.ready
        if entry.checking or ready is None or entry.spec.kind is EntryKind.ONESHOT:
            return
        assert self._task_group is not None
        entry.checking = True
        # Not awaited: its scope is cancelled when the entry starts
        # stopping, and results of a cancelled loop are dropped.
        announced = isinstance(ready.fn, Announcement)
        self._task_group.start_soon(
            self._announcement_deadline if announced else self._check_loop,
            entry,
            name=f"healthdaemons:{entry.spec.id}:checks",
        )

    async def _process_loop(self, entry: Entry) -> None:
        spec = entry.spec
        assert spec.exec is not None
        backoff = RestartBackoff()
        while entry.state in ACTIVE_STATES:
            spawned_at = anyio.current_time()
            status, leftovers = await self._run_process(entry, spec.exec)
            # An `ExecFn` may hand over to a command. (Not a helper coroutine:
            # its frame would cost every running entry memory.)
            while (
                status.then_run is not None
                and leftovers is None
                and not entry.signalled
                and entry.state in ACTIVE_STATES
            ):
                status, leftovers = await self._run_process(entry, status.then_run)
            try:
                again = not entry.signalled and self._after_exit(entry, status)
            finally:
                if leftovers is not None:
                    # Reported first, so dependents do not wait on a dead
                    # service; stopped before anything runs again.
                    with anyio.CancelScope(shield=True):
                        await self._stop(entry, leftovers)
            # (Re-checked: the stop above may have let the system move on.)
            if not again or entry.signalled or entry.state not in ACTIVE_STATES:
                return
            delay = backoff.next_delay(anyio.current_time() - spawned_at)
            if spec.max_restarts is not None and backoff.restarts > spec.max_restarts:
                self._give_up(entry, spec.max_restarts)
                return
            entry.restarts = backoff.restarts
            if delay:
                stopping = entry.stopping = anyio.Event()
                with anyio.move_on_after(delay):
                    await stopping.wait()

    def _give_up(self, entry: Entry, restarts: int) -> None:
        assert entry.checks_scope is not None
        entry.checks_scope.cancel()
        failure = HealthCheckResult.failure(f"gave up after {restarts} restarts")
        self._react(entry, LifecycleEvent.GIVE_UP, failure, soften=False)

    async def _run_process(
        self, entry: Entry, exec_: Exec
    ) -> tuple[ExitStatus, ProcessHandle | None]:
        """Run one process until its leader exits, or until the stop is permitted
        and all of it has been stopped; never leaves any of it running, even
        when cancelled. Returns how it ended, and the process if something of
        it outlived its leader: the caller reacts to the exit, then stops it."""
        assert self._task_group is not None
        entry.kill_at = None
        process: ProcessHandle
        if isinstance(exec_, Command):
            # Shielded: a spawn cut short could leave a child nobody knows of.
            with anyio.CancelScope(shield=True):
                try:
                    process = await CommandProcess.start(exec_, self._spawn_settings(entry))
                except SpawnError as error:
                    self._error(entry.spec.id, f"could not start: {error}")
                    return ExitStatus(None, False, str(error), spawned=False), None
        else:
            name = f"healthdaemons:{entry.spec.id}:exec"
            process = FunctionProcess(exec_, entry.spec.subcontainer, self._task_group, name)
        entry.process = process
        self._record(ProcessSpawned(anyio.current_time(), entry.spec.id, process.pid))
        self._start_checks(entry)
        scope = entry.wait_scope = anyio.CancelScope()
        if entry.signalled:
            # The stop was permitted while the command was being spawned.
            scope.deadline = self._terminate(entry, process)
        status: ExitStatus | None = None
        try:
            with scope:
                status = await process.wait()
        finally:
            if status is None:
                with anyio.CancelScope(shield=True):
                    status = await self._stop(entry, process)
            self._exited(entry, process.pid, status)
        assert status is not None
        return status, (process if process.running else None)

    def _terminate(self, entry: Entry, process: ProcessHandle) -> float:
        """Tell the process to stop; returns when it gets killed if it has not."""
        kill_at = entry.kill_at = anyio.current_time() + process.sigterm_timeout
        self._signalled(entry.spec.id, process.pid, process.terminate())
        return kill_at

    async def _stop(self, entry: Entry, process: ProcessHandle) -> ExitStatus:
        """The stop policy: terminate, wait up to `sigterm_timeout`, kill, wait.

        Run under a shielded scope; every step of it is bounded.
        """
        kill_at = entry.kill_at
        if kill_at is None:
            kill_at = self._terminate(entry, process)
        with anyio.CancelScope(deadline=kill_at):
            status = await process.wait()
            await process.wait_gone()
            return status
        self._signalled(entry.spec.id, process.pid, process.kill())
        with anyio.move_on_after(KILL_WAIT):
            status = await process.wait()
            await process.wait_gone()
            return status
        # Stuck in the kernel, or changed to a user we may not signal.
        message = f"process group {process.pid} outlived SIGKILL by {KILL_WAIT:g} s; given up"
        self._error(entry.spec.id, message)
        return ExitStatus(None, False, "outlived SIGKILL")

    def _signalled(self, entry_id: str, pid: int | None, signal: str) -> None:
        self._record(ProcessSignalled(anyio.current_time(), entry_id, pid, signal))

    def _exited(self, entry: Entry, pid: int | None, status: ExitStatus | None) -> None:
        assert status is not None
        entry.process = None
        entry.announcer = None  # what is left of it may not announce readiness
        self._record(
            ProcessExited(
                anyio.current_time(),
                entry.spec.id,
                pid,
                status.returncode,
                status.clean,
                status.description,
            )
        )
        if status.abandoned:
            self._error(entry.spec.id, f"{entry.spec.id}: {status.description}")

    def _after_exit(self, entry: Entry, status: ExitStatus) -> bool:
        """React to an exit the supervisor did not cause; `True` to run again."""
        if entry.state not in ACTIVE_STATES:
            return False
        kind = entry.spec.kind.value
        if entry.spec.kind is EntryKind.ONESHOT and status.clean:
            self._react(entry, LifecycleEvent.HEALTHY, HealthCheckResult.success())
            return False
        if not status.spawned:
            message = f"{entry.spec.id} {kind} could not start: {status.description}"
        elif status.clean:
            message = f"{entry.spec.id} {kind} exited"
        else:
            message = f"{entry.spec.id} {kind} crashed: {status.description}"
        self._react(entry, LifecycleEvent.UNHEALTHY, HealthCheckResult.failure(message))
        if entry.recheck_scope is not None:
            entry.recheck_scope.cancel()
        return True

    async def _check_loop(self, entry: Entry) -> None:
        ready = entry.spec.ready
        checks = entry.checks_scope
        assert ready is not None
        assert checks is not None
        trigger = ready.trigger or triggers.default_trigger
        with checks:
            while True:
                # A process exit cancels this scope: start over with a fresh
                # trigger, which checks at once.
                recheck = entry.recheck_scope = anyio.CancelScope()
                broken = False
                with recheck:
                    steps = trigger(lambda: entry.last_raw)
                    try:
                        while True:
                            try:
                                await anext(steps)
                            except StopAsyncIteration:
                                break
                            except Exception as error:
                                # A broken trigger never takes the system down:
                                # report it and go on with the default trigger.
                                self._error(
                                    entry.spec.id,
                                    f"trigger failed: {error!r}; using the default trigger",
                                )
                                broken = True
                                break
                            result = await _run_check(entry)
                            # Its launch may be over (a result already due when
                            # the cancel came): then the result is not this one's.
                            # Between two processes, the exit has said it all.
                            if not checks.cancel_called and (
                                entry.process is not None or entry.spec.exec is None
                            ):
                                entry.last_raw = result
                                event = (
                                    LifecycleEvent.HEALTHY
                                    if result.is_success
                                    else LifecycleEvent.UNHEALTHY
                                )
                                self._react(entry, event, result)
                    finally:
                        with anyio.CancelScope(shield=True):
                            await _close_quietly(steps)
                if broken:
                    trigger = triggers.default_trigger
                elif not recheck.cancel_called:
                    return

    def _spawn_settings(self, entry: Entry) -> SpawnSettings:
        assert self._task_group is not None
        entry.announcer = announcer = object()
        ready = entry.spec.ready
        announcement = None
        if ready is not None and isinstance(ready.fn, Announcement):
            announcement = ready.fn
            entry.last_raw = None  # each process announces for itself
        return SpawnSettings(
            entry_id=entry.spec.id,
            task_group=self._task_group,
            report_error=functools.partial(self._error, entry.spec.id),
            announcement=announcement,
            on_ready=functools.partial(self._announced, entry, announcer),
            subcontainer=entry.spec.subcontainer,
            guard_fd=None if self._guard_fds is None else self._guard_fds[0],
        )

    async def _announcement_deadline(self, entry: Entry) -> None:
        """The grace period of a process that announces its own readiness."""
        ready = entry.spec.ready
        assert ready is not None
        assert isinstance(ready.fn, Announcement)
        assert entry.checks_scope is not None
        waiting_for = ready.fn.waiting_for
        with entry.checks_scope:
            if entry.last_raw is None:
                self._report(entry, HealthCheckResult.starting(f"waiting for {waiting_for}"))
            await anyio.sleep(ready.grace_period)
            if entry.last_raw is None:
                failure = HealthCheckResult.failure(
                    f"still waiting for {waiting_for} after {ready.grace_period:g} s"
                )
                self._react(entry, LifecycleEvent.UNHEALTHY, failure)

    def _announced(self, entry: Entry, announcer: object, message: str | None) -> None:
        """The process `announcer` stands for said it is ready."""
        checks = entry.checks_scope
        if (
            entry.announcer is not announcer
            or entry.state not in ACTIVE_STATES
            or checks is None
            or checks.cancel_called
        ):
            return
        result = HealthCheckResult.success(message)
        entry.last_raw = result
        self._react(entry, LifecycleEvent.HEALTHY, result)

    async def _destroy(self, subcontainer: SubContainer, entry_id: str) -> None:
        with anyio.CancelScope(shield=True):
            timeout = subcontainer.destroy_timeout
            with anyio.move_on_after(timeout) as scope:
                try:
                    await subcontainer.destroy()
                except Exception as error:
                    self._error(entry_id, f"destroying {subcontainer!r} failed: {error!r}")
                else:
                    self._record(
                        SubContainerDestroyed(anyio.current_time(), entry_id, subcontainer.name)
                    )
            if scope.cancelled_caught:
                self._error(entry_id, f"destroying {subcontainer!r} took over {timeout:g} s")
        self._destroying -= 1
        self._check_all_stopped()

    # Helpers.

    def _init_events(self) -> None:
        if self._all_stopped is None:
            self._all_stopped = anyio.Event()
            if not self._order:
                self._all_stopped.set()

    def _entry(self, entry_id: str) -> Entry:
        try:
            return self._entries[entry_id]
        except KeyError:
            raise KeyError(f"no entry {entry_id!r} in this system") from None

    def _not_ready(self) -> list[str]:
        return [e.spec.id for e in self._order if e.state is not READY]

    def _require_running(self, method: str) -> None:
        if not self._entered:
            raise RuntimeError(
                f"{method}() needs a running system: use `async with system.build()`"
            )


async def _close_quietly(steps: AsyncIterator[None]) -> None:
    try:
        await close_steps(steps)
    except Exception:  # the trigger's own cleanup failed; nothing to keep
        pass


async def _run_check(entry: Entry) -> HealthCheckResult:
    """Run the entry's check; an exception is a failure whose message is its text."""
    assert entry.spec.ready is not None
    try:
        value = entry.spec.ready.fn()
        if inspect.isawaitable(value):
            value = await value
    except Exception as error:
        return HealthCheckResult.failure(str(error) or type(error).__name__)
    if not isinstance(value, HealthCheckResult):
        return HealthCheckResult.failure(
            f"check returned {type(value).__name__}, not a HealthCheckResult"
        )
    return value
