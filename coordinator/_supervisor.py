"""The supervisor of a running system's entries: it runs what each runs,
checks it, and stops it.

It never decides: each task reports what happened (a check result, an exit,
a process gone) to the `react` it was handed (the coordinator's `_react`),
which applies the rules, and the rules call back `launch`,
`stopping_began`, `permit_stop` and `kill`.

One task per launch, the supervising task, runs the process loop (spawn,
wait, restart with backoff) and, while each process runs, its checks (or
the wait for it to announce readiness): the process's own end
(`when_ended`) cuts them short. A task less per running entry is less to
start, to stop, and for the cyclic collector to scan (docs/performance.md).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Protocol

import anyio

from statemachines import ACTIVE_STATES, EntryKind, LifecycleEvent

from . import triggers
from ._announced import Announcement
from ._check_call import call_check, unless_stopped
from ._checked import CHECKED_ENTRY, CheckedEntry
from ._command import Command
from ._command_process import SpawnError, SpawnSettings
from ._defaults import KILL_WAIT
from ._entry import Entry, LaunchChecks
from ._events import Event, ProcessExited, ProcessSignalled, ProcessSpawned
from ._fatal import Fatal, is_fatal
from ._options import Exec
from ._output_buffer import OutputStream
from ._output_guard import guard_output
from ._process_handle import ExitStatus, FunctionProcess, ProcessHandle, RestartBackoff
from ._results import HealthCheckResult
from ._task_host import TaskHost
from ._trigger_steps import close_quietly, start_trigger
from ._watchdog import Watchdog, watched

__all__ = ["EntrySupervisor", "React", "SpawnFunction"]


SpawnFunction = Callable[[Command, SpawnSettings], Awaitable[ProcessHandle]]
"""Starts a command: `CommandProcess.start` (real processes), or a simulation."""


class React(Protocol):
    """One step of the coordinator: `event` happened to `entry` (`RunningDaemons._react`)."""

    def __call__(
        self,
        entry: Entry,
        event: LifecycleEvent,
        report: HealthCheckResult | None = None,
        *,
        soften: bool = True,
    ) -> None: ...


class EndRun(Protocol):
    """`entry` ends the run with `returncode` (`RunningDaemons._end_run`)."""

    def __call__(
        self, entry: Entry, returncode: int, reason: str, *, in_step: bool = False
    ) -> None: ...


class EntrySupervisor:
    """The tasks of every entry of one running system."""

    __slots__ = (
        "_end_run",
        "_error",
        "_fatal",
        "_output",
        "_react",
        "_record",
        "_report",
        "_spawn",
        "_tasks",
        "_watchdog",
        "exit_code_from",
    )

    def __init__(
        self,
        tasks: TaskHost,
        spawn: SpawnFunction,
        *,
        react: React,
        record: Callable[[Event], None],
        report: Callable[[Entry, HealthCheckResult], None],
        error: Callable[[str | None, str], None],
        fatal: Fatal,
        output: Callable[[str, OutputStream, str], None],
        end_run: EndRun,
        exit_code_from: str | None = None,
    ) -> None:
        self._tasks = tasks
        self._watchdog = Watchdog(tasks, self._restart_process)
        self._end_run = end_run
        self.exit_code_from = exit_code_from
        self._output = output
        self._spawn = spawn
        self._react = react
        self._record = record
        self._report = report
        self._error = error
        self._fatal = fatal

    # Called by the rules, within a step.

    def launch(self, entry: Entry) -> None:
        """The entry just started: a fresh launch, and its supervising task."""
        entry.begin_launch(anyio.current_time())
        self._tasks.group.start_soon(self._supervise, entry, name=f"healthdaemons:{entry.spec.id}")

    def stopping_began(self, entry: Entry) -> None:
        """The entry is stopping: its checks end, and a restart delay is cut short."""
        checks = entry.checks
        assert checks is not None
        if entry.process is None or checks.checking:
            checks.end()
        else:
            # No check begins any more, and the trigger's wait is cut short
            # by the process's end: one wake-up of the task rather than two.
            checks.over = True
        if entry.stopping is not None:
            entry.stopping.set()

    def permit_stop(self, entry: Entry) -> None:
        """No dependent runs any more: the entry's process may be told to stop."""
        entry.signalled = True
        if entry.stop_permitted is not None:
            entry.stop_permitted.set()
        process = entry.process
        if (
            process is not None
            and process.running
            and entry.kill_at is None
            and not entry.sigkill_sent
            and entry.wait_scope is not None
        ):
            # The supervising task keeps waiting for the exit, now bounded.
            entry.wait_scope.deadline = self._terminate(entry, process)

    def kill(self, entry: Entry) -> None:
        """SIGKILL the entry's process group now, if it runs (a function is abandoned)."""
        process = entry.process
        if process is not None and process.running and not entry.sigkill_sent:
            self._kill(entry, process)

    # The tasks.

    async def _supervise(self, entry: Entry) -> None:
        """One launch's supervising task. For a daemon or a oneshot, the process
        loop (spawn, wait, restart with backoff) is inline: a coroutine awaited
        here for as long as the entry runs would cost every entry its frame."""
        spec = entry.spec
        if spec.exec is None:
            assert entry.checks is not None
            if not self._checks_over(entry.checks):
                # Until the entry stops: `stopping_began` cancels the scope.
                with anyio.CancelScope() as entry.checks.scope:
                    await self._check(entry, entry.checks)
        else:
            backoff: RestartBackoff | None = None  # made at the first exit, if any
            while entry.state in ACTIVE_STATES:
                spawned_at = anyio.current_time()
                status, leftovers = await self._run_process(entry, spec.exec)
                # An `ExecFn` may hand over to a command.
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
                    break
                if backoff is None:
                    backoff = RestartBackoff()
                delay = backoff.next_delay(anyio.current_time() - spawned_at)
                if spec.max_restarts is not None and backoff.restarts > spec.max_restarts:
                    self._give_up(entry, f"gave up after {spec.max_restarts} restarts", status)
                    break
                entry.restarts = backoff.restarts
                if delay:
                    stopping = entry.stopping = anyio.Event()
                    with anyio.move_on_after(delay):
                        await stopping.wait()
        if not entry.signalled:
            # Created only now: a running daemon waits in its process loop.
            entry.stop_permitted = anyio.Event()
            await entry.stop_permitted.wait()
        self._react(entry, LifecycleEvent.GONE)

    async def _check_while_running(self, entry: Entry, process: ProcessHandle) -> None:
        """Check the entry until its process ends, or its checks are over."""
        checks = entry.checks
        assert checks is not None
        ready = entry.spec.ready
        if ready is None or entry.spec.kind is EntryKind.ONESHOT or self._checks_over(checks):
            return
        scope = checks.scope = anyio.CancelScope()
        if _cancel_when_ended(process, scope):
            with scope:
                await self._check(entry, checks)
            # Over: nothing is left for `_exited` to cancel (a cancel formats
            # a task's repr, on every exit).
            checks.scope = None
            return
        # A handle of the user's own that cannot call back: its checks run in
        # a task of their own, which the exit cancels (`_exited`).
        group = self._tasks.checks_group
        if group is not None:
            group.start_soon(
                self._check_in_task,
                entry,
                checks,
                scope,
                name=f"healthdaemons:{entry.spec.id}:checks",
            )

    async def _check_in_task(
        self, entry: Entry, checks: LaunchChecks, scope: anyio.CancelScope
    ) -> None:
        try:
            with scope:
                await self._check(entry, checks)
        except anyio.get_cancelled_exc_class():
            if not self._checks_ended():
                raise
            # term() ended every check task: as if its own scope caught it. A
            # cancellation leaving the task would stay in a reference cycle
            # (anyio's `task_done` and its traceback) until the collector ran.

    def _check(self, entry: Entry, checks: LaunchChecks) -> Awaitable[None]:
        """The entry's checks (a plain function: a coroutine less to hold)."""
        ready = entry.spec.ready
        assert ready is not None
        if isinstance(ready.fn, Announcement):
            return self._announcement_deadline(entry, checks, ready.fn, ready.grace_period)
        return self._check_loop(entry, checks)

    def _give_up(self, entry: Entry, message: str, status: ExitStatus) -> None:
        """Failing for good; with `exit_on_failure`, the end of the run."""
        assert entry.checks is not None
        entry.checks.end()
        failure = HealthCheckResult.failure(message)
        self._react(entry, LifecycleEvent.GIVE_UP, failure, soften=False)
        if entry.spec.exit_on_failure:
            self._end_run(entry, _exit_code(status), f"{entry.spec.id}: {message}")

    async def _run_process(
        self, entry: Entry, exec_: Exec
    ) -> tuple[ExitStatus, ProcessHandle | None]:
        """Run one process until its leader exits, or until the stop is permitted
        and all of it has been stopped; never leaves any of it running, even
        when cancelled. Returns how it ended, and the process if something of
        it outlived its leader: the caller reacts to the exit, then stops it."""
        entry.kill_at = None
        entry.sigkill_sent = False
        # A reason to restart was for the process before, which a stop may
        # have ended before its exit was reacted to.
        entry.restart_reason = None
        process: ProcessHandle
        if isinstance(exec_, Command):
            # Shielded: a spawn cut short could leave a child nobody knows of.
            with anyio.CancelScope(shield=True):
                try:
                    process = await self._spawn(
                        guard_output(exec_, entry.spec.id, self._fatal),
                        self._spawn_settings(entry),
                    )
                except SpawnError as error:
                    self._error(entry.spec.id, f"could not start: {error}")
                    return ExitStatus(None, False, str(error), spawned=False), None
                except Exception as error:  # a spawn function of the user's own
                    self._error(entry.spec.id, f"could not start: spawn raised {error!r}")
                    return ExitStatus(None, False, repr(error), spawned=False), None
                except BaseException as error:  # from a subcontainer's `wrap`, or the spawn
                    if not is_fatal(error):
                        raise
                    self._fatal(entry.spec.id, "spawning", error)
                    return ExitStatus(None, False, repr(error), spawned=False), None
            if not _is_process_handle(process):
                message = f"spawn returned {type(process).__name__}, not a ProcessHandle"
                self._error(entry.spec.id, f"could not start: {message}")
                return ExitStatus(None, False, message, spawned=False), None
        else:
            name = f"healthdaemons:{entry.spec.id}:exec"
            process = FunctionProcess(
                exec_,
                entry.spec.subcontainer,
                self._tasks.group,
                name,
                functools.partial(self._fatal, entry.spec.id, "exec"),
            )
        entry.process = process
        self._record(ProcessSpawned(anyio.current_time(), entry.spec.id, process.pid))
        if watched(entry):
            self._watchdog.start(entry, process)
        scope = entry.wait_scope = anyio.CancelScope()
        if entry.signalled:
            # The stop was permitted while the command was being spawned.
            scope.deadline = self._terminate(entry, process)
        status: ExitStatus | None = None
        try:
            with scope:
                await self._check_while_running(entry, process)
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
        if not entry.sigkill_sent:
            kill_at = entry.kill_at
            if kill_at is None:
                kill_at = self._terminate(entry, process)
            with anyio.CancelScope(deadline=kill_at):
                status = await process.wait()
                await process.wait_gone()
                return status
        if not entry.sigkill_sent:  # (`kill()` may have come meanwhile)
            self._kill(entry, process)
        with anyio.move_on_after(KILL_WAIT):
            status = await process.wait()
            await process.wait_gone()
            return status
        # Stuck in the kernel, or changed to a user we may not signal.
        message = f"process group {process.pid} outlived SIGKILL by {KILL_WAIT:g} s; given up"
        self._error(entry.spec.id, message)
        return ExitStatus(None, False, "outlived SIGKILL")

    def _kill(self, entry: Entry, process: ProcessHandle) -> None:
        entry.sigkill_sent = True  # so no SIGTERM, nor another SIGKILL, follows
        self._signalled(entry.spec.id, process.pid, process.kill())

    def _signalled(self, entry_id: str, pid: int | None, signal: str) -> None:
        self._record(ProcessSignalled(anyio.current_time(), entry_id, pid, signal))

    def _exited(self, entry: Entry, pid: int | None, status: ExitStatus | None) -> None:
        assert status is not None
        entry.process = None
        checks = entry.checks
        if checks is not None and checks.scope is not None:
            checks.scope.cancel()  # (the checks of a handle without `when_ended`)
            checks.scope = None
        self._watchdog.stop(entry)
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
        """React to an exit the supervisor did not cause (or caused to restart
        it); `True` to run again."""
        restarted_for, entry.restart_reason = entry.restart_reason, None
        if entry.state not in ACTIVE_STATES:
            return False
        spec = entry.spec
        # A restart the watchdog made is the supervisor's, not the entry's exit.
        ends_run = spec.id == self.exit_code_from and restarted_for is None
        if spec.kind is EntryKind.ONESHOT and status.clean:
            self._react(entry, LifecycleEvent.HEALTHY, HealthCheckResult.success())
            if ends_run:
                self._end_run(entry, 0, f"{spec.id} exited with code 0")
            return False
        message = _exit_message(entry, status, restarted_for)
        if ends_run:
            self._react(entry, LifecycleEvent.UNHEALTHY, HealthCheckResult.failure(message))
            self._end_run(entry, _exit_code(status), message)
            return False
        if spec.kind is EntryKind.DAEMON and spec.restart != "always" and restarted_for is None:
            policy = f'restart = "{spec.restart}"'
            if status.returncode == 0:
                # Ended on its own: it stays stopped, as if an operator held it.
                entry.on_hold = True
                ended = HealthCheckResult.failure(f"{message}; not restarted ({policy})")
                self._react(entry, LifecycleEvent.FINISH, ended, soften=False)
                return False
            if spec.restart == "no":
                self._give_up(entry, f"{message}; not restarted ({policy})", status)
                return False
        if spec.kind is EntryKind.ONESHOT and spec.exit_on_failure:
            self._give_up(entry, message, status)
            return False
        failure = HealthCheckResult.failure(message)
        self._react(entry, LifecycleEvent.UNHEALTHY, failure)
        # The next process's trigger starts from this failure: with the last
        # success of the process that is gone, it would wait as after a success (30 s).
        entry.last_raw = failure
        return True

    def _restart_process(self, entry: Entry, process: ProcessHandle, reason: str) -> None:
        """Stop the process by the stop policy, for its loop to run it again."""
        if (
            entry.process is not process
            or not process.running
            or entry.state not in ACTIVE_STATES
            or entry.signalled
            or entry.kill_at is not None
            or entry.sigkill_sent
            or entry.wait_scope is None
        ):
            return  # stopping already, or gone
        entry.restart_reason = reason
        entry.wait_scope.deadline = self._terminate(entry, process)

    async def _check_loop(self, entry: Entry, checks: LaunchChecks) -> None:
        """Run the trigger and the check, and react to each result, until the
        checks are over (or the trigger ends); under `checks.scope`, which the
        process's end, or the entry's stop, cancels."""
        ready = entry.spec.ready
        assert ready is not None
        trigger = ready.trigger or triggers.default_trigger
        # Set in this task's context for as long as it checks, so it reaches
        # this entry's checks only (not its process, which runs from here too).
        checked = CHECKED_ENTRY.set(
            CheckedEntry(
                entry.spec.id,
                None if entry.spec.exec is None else entry,
                self._tasks.guard_fd,
            )
        )
        try:
            while not self._checks_cut(checks):
                broken = False
                steps = start_trigger(trigger, entry.last_result)
                try:
                    while True:
                        source = "trigger"
                        try:
                            await anext(steps)
                        except StopAsyncIteration:
                            return
                        except Exception as error:
                            # A broken trigger never takes the system down:
                            # report it and go on with the default trigger.
                            self._error(
                                entry.spec.id,
                                f"trigger failed: {error!r}; using the default trigger",
                            )
                            broken = True
                            break
                        if self._checks_cut(checks):
                            return
                        source = "check"
                        checks.checking = True
                        try:
                            result = unless_stopped(entry, await _run_check(entry))
                        finally:
                            checks.checking = False
                        # The checks may be over by now (a result already due
                        # when the cancel came): then the result is not theirs.
                        if not self._checks_cut(checks):
                            entry.last_raw = result
                            event = (
                                LifecycleEvent.HEALTHY
                                if result.is_success
                                else LifecycleEvent.UNHEALTHY
                            )
                            self._react(entry, event, result)
                except BaseException as error:
                    if not is_fatal(error):
                        raise
                    self._fatal(entry.spec.id, source, error)
                    return
                finally:
                    # An async generator that raised (a cancellation) or
                    # ended is closed already: no scope, no await.
                    if getattr(steps, "ag_frame", True) is not None:
                        with anyio.CancelScope(shield=True):
                            closing_error = await close_quietly(steps)
                        if closing_error is not None:
                            self._fatal(entry.spec.id, "trigger", closing_error)
                if broken:
                    trigger = triggers.default_trigger
        finally:
            CHECKED_ENTRY.reset(checked)

    def _checks_over(self, checks: LaunchChecks) -> bool:
        """Whether these checks of a launch are over: it stopped, or the
        system terminates (`TaskHost.cancel_checks`)."""
        return checks.over or self._checks_ended()

    def _checks_cut(self, checks: LaunchChecks) -> bool:
        """Whether the checks of the current process are over: those of the
        launch, or the process ended (its exit reported or not). A line it
        announced with is still heard until the exit is reported (`_announced`)."""
        scope = checks.scope
        return self._checks_over(checks) or (scope is not None and scope.cancel_called)

    def _checks_ended(self) -> bool:
        return self._tasks.checks_group is None

    def _spawn_settings(self, entry: Entry) -> SpawnSettings:
        """What the spawn function is given for the entry's next process."""
        entry.announcer = announcer = object()
        ready = entry.spec.ready
        announcement = None
        if ready is not None and isinstance(ready.fn, Announcement):
            announcement = ready.fn
            entry.last_raw = None  # each process announces for itself
        return SpawnSettings(
            entry_id=entry.spec.id,
            task_group=self._tasks.group,
            report_error=functools.partial(self._error, entry.spec.id),
            announcement=announcement,
            on_ready=functools.partial(self._announced, entry, announcer),
            subcontainer=entry.spec.subcontainer,
            guard_fd=self._tasks.guard_fd,
            on_output=functools.partial(self._output, entry.spec.id),
        )

    async def _announcement_deadline(
        self, entry: Entry, checks: LaunchChecks, announcement: Announcement, grace_period: float
    ) -> None:
        """The grace period of a launch whose processes announce their own
        readiness: counted from its first process, and a failure at its end
        if the process running then has not announced."""
        now = anyio.current_time()
        if checks.announce_by is None:
            checks.announce_by = now + grace_period
            if entry.last_raw is None:
                self._report(
                    entry, HealthCheckResult.starting(f"waiting for {announcement.waiting_for}")
                )
        if now >= checks.announce_by:
            return  # past already (a later process of the launch)
        await anyio.sleep_until(checks.announce_by)
        if entry.last_raw is None and not self._checks_cut(checks):
            failure = HealthCheckResult.failure(
                f"still waiting for {announcement.waiting_for} after {grace_period:g} s"
            )
            self._react(entry, LifecycleEvent.UNHEALTHY, failure)

    def _announced(self, entry: Entry, announcer: object, message: str | None) -> None:
        """The process `announcer` stands for said it is ready."""
        checks = entry.checks
        if (
            entry.announcer is not announcer
            or entry.state not in ACTIVE_STATES
            or checks is None
            or self._checks_over(checks)
        ):
            return
        result = HealthCheckResult.success(message)
        entry.last_raw = result
        self._react(entry, LifecycleEvent.HEALTHY, result)


def _exit_message(entry: Entry, status: ExitStatus, restarted_for: str | None) -> str:
    kind = entry.spec.kind.value
    if restarted_for is not None:
        return f"{entry.spec.id} {kind} restarted: {restarted_for}"
    if not status.spawned:
        return f"{entry.spec.id} {kind} could not start: {status.description}"
    if status.clean:
        return f"{entry.spec.id} {kind} exited"
    return f"{entry.spec.id} {kind} crashed: {status.description}"


def _exit_code(status: ExitStatus) -> int:
    """The code a shell would give: 128 + N after signal N; 1 when there is none."""
    if status.returncode is None:
        return 1
    return status.returncode if status.returncode >= 0 else 128 - status.returncode


async def _run_check(entry: Entry) -> HealthCheckResult:
    """Run the entry's readiness check."""
    ready = entry.spec.ready
    assert ready is not None
    return await call_check(ready.fn, ready.timeout, "health check")


def _cancel_when_ended(process: ProcessHandle, scope: anyio.CancelScope) -> bool:
    """Have the process's end cancel `scope`, if its handle can call back
    (`NotifiesEnd`); not inline in the caller, whose frame would hold the
    bound method for as long as the process runs."""
    when_ended = getattr(process, "when_ended", None)
    if when_ended is None:
        return False
    when_ended(scope.cancel)
    return True


_HANDLE_TYPES: set[type] = set()
"""Classes whose spawned objects were `ProcessHandle`s: a runtime-checkable
protocol's `isinstance` looks up each of its members (about 10 µs a spawn)."""


def _is_process_handle(process: object) -> bool:
    kind = type(process)
    if kind in _HANDLE_TYPES:
        return True
    if isinstance(process, ProcessHandle):
        _HANDLE_TYPES.add(kind)
        return True
    return False
