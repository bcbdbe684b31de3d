"""The coordinator: a built system, linking its entries' lifecycle machines.

Theory of operation
-------------------
Each entry's state changes only through `statemachines.fire`. Two kinds of
change happen:

* event-triggered: something outside the coordinator happened (a check
  result, a process exit, a process gone, `term()`); `_react` fires the
  matching event at that entry, as `_act` does for an operator's `stop`,
  `start` and `restart` (the events `hold` and `release`);
* state-triggered: a change of one entry makes a rule apply to another
  ("every dependency is ready, so launch"; "a dependency left ready, so stop";
  "no dependent is running any more, so signal"). `_fire` queues the entries
  whose rules may now apply, and `_drain` applies them until nothing changes,
  as h11 does for its two coupled machines.

One reaction, with everything it causes, is one *step*: it runs without an
await, so no task ever sees a half-applied cascade. The queue (not recursion)
keeps a cascade down a chain of 20,000 entries flat, and the counters on each
entry keep every rule O(1), so a whole shutdown costs O(entries + edges).

The running system is composed of parts that each own their state:

* `EventLog` (`_event_log.py`): the history, the subscribers, the host;
* `EntrySupervisor` (`_supervisor.py`): the entries' tasks. They only run
  what an entry runs and wait; they never decide. Each launch starts one
  supervising task, which runs the process loop, checks the entry while
  each process runs (no check begins once the entry starts stopping), and
  reports `gone` once the process is stopped;
* `TaskHost` (`_task_host.py`): the task group they run in;
* `SubContainerUsers` (`_subcontainer_users.py`): who still uses each
  subcontainer, and its destroy after the last user;
* `OutputBuffers` (`_output_buffer.py`): each entry's latest output lines,
  fed by the output pumps of its processes.

Each is handed the callables it needs at construction (the supervisor gets
`_react`, the log `_stop_for`, the task host and the subcontainer users what
to call once everything may have stopped); none calls back into this class
otherwise.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import final

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream

from statemachines import (
    ACTIVE_STATES,
    EntryKind,
    LifecycleEvent,
    LifecycleState,
    fire,
    shared_machine,
    state_triggered_events,
)

from ._command import Command
from ._command_process import CommandProcess
from ._defaults import OUTPUT_BYTES, OUTPUT_LINES
from ._entry import Entry, TermFlag
from ._entry_view import EntryView
from ._event_log import EventLog
from ._events import Event, RunEnded, Transitioned
from ._host import DEFAULT_HISTORY_LIMIT, Host
from ._not_ready import why_not_ready
from ._options import EntrySpec, requirement_closure
from ._output_buffer import OutputBuffers, OutputFollower, OutputLine
from ._results import HealthCheckResult
from ._subcontainer_users import SubContainerUsers
from ._supervisor import EntrySupervisor, SpawnFunction
from ._task_host import TaskHost
from ._validation import closest, did_you_mean, require_option, wait_timeout_problem
from ._watch import FileWatcher
from .errors import GaveUpError, SystemTerminatedError, SystemTerminatingError, WaitTimeoutError

__all__ = ["RunningDaemons", "SpawnFunction", "SystemStatistics"]

WAITING = LifecycleState.WAITING
STARTING = LifecycleState.STARTING
READY = LifecycleState.READY
FAILING = LifecycleState.FAILING
STOPPING = LifecycleState.STOPPING
STOPPED = LifecycleState.STOPPED
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
    """Events recorded since the start, those `history` has dropped included."""
    dropped_events: int
    """Events lost by subscribers that fell behind."""
    history_dropped: int
    """The oldest events `history` let go, to keep within its `history_limit`."""
    output_dropped: Mapping[str, int]
    """Per entry, the oldest output lines its buffer let go, to keep within
    `output_lines` and `output_bytes`."""


@final
class RunningDaemons:
    """A system built by `Daemons.build()`.

    Use it as an async context manager: entering starts every entry whose
    dependencies allow it; leaving (by return, exception or cancellation)
    runs `term()` and comes back only once everything has stopped.
    """

    def __init__(
        self,
        specs: Sequence[EntrySpec],
        host: Host,
        *,
        orphan_guard: bool = False,
        history_limit: int | None = DEFAULT_HISTORY_LIMIT,
        output_lines: int | None = OUTPUT_LINES,
        output_bytes: int | None = OUTPUT_BYTES,
        spawn: SpawnFunction = CommandProcess.start,
        exit_code_from: str | None = None,
    ) -> None:
        self._log = log = EventLog(host, history_limit, self._stop_for)
        self._output = OutputBuffers(output_lines, output_bytes)
        self._tasks = TaskHost(orphan_guard=orphan_guard, ended=self._tasks_ended)
        self._supervisor = EntrySupervisor(
            self._tasks,
            spawn,
            react=self._react,
            record=log.record,
            report=log.report,
            error=log.error,
            fatal=log.fatal,
            output=self._output.append,
            end_run=self._end_run,
            exit_code_from=exit_code_from,
        )
        self._subcontainers = SubContainerUsers(
            specs,
            self._tasks,
            record=log.record,
            error=log.error,
            fatal=log.fatal,
            destroyed=self._check_all_stopped,
        )
        machines = {kind: shared_machine(kind) for kind in EntryKind}
        self._term_flag = TermFlag()
        self._entries: dict[str, Entry] = {}
        for spec in specs:
            entry = Entry(spec, self._term_flag, machines[spec.kind])
            for required in spec.requires:
                dependency = self._entries[required]
                entry.dependencies.append(dependency)
                dependency.dependents.append(entry)
            self._entries[spec.id] = entry
        self._order = list(self._entries.values())
        self._queue: deque[Entry] = deque()
        self._step = 0
        self._ready_count = 0
        self._stopped_count = 0
        self._gave_up: dict[str, None] = {}
        """Entries failing for good (max_restarts reached), in order."""
        self._finished: dict[str, None] = {}
        """Daemons their restart policy ended (`finish`), not started since."""
        self._exit_needs = _requirements(specs, exit_code_from)
        """What `exit_code_from` requires, directly or not: if one of them
        can no longer run, neither can it, and the run ends."""
        self._entered = False
        self._all_stopped: anyio.Event | None = None
        self._block_scope: anyio.CancelScope | None = None
        """Around the block of `async with`: cancelled to end it when user code
        raised an exception that ends the system (`_stop_for`)."""
        self._fatal_error: BaseException | None = None
        self._ended_by: RunEnded | None = None
        watches = {spec.id: spec.watch for spec in specs if spec.watch is not None}
        self._watcher = (
            FileWatcher(watches, self.restart, self._restartable, log.error, _log_files(specs))
            if watches
            else None
        )

    # Public surface.

    @property
    def host(self) -> Host:
        """Where health reports and events go; given at build time."""
        return self._log.host

    @property
    def history(self) -> list[Event]:
        """The latest `history_limit` events, in order (every event if `None`)."""
        return self._log.history

    @property
    def is_terminating(self) -> bool:
        return self._terminating

    @property
    def gave_up(self) -> tuple[str, ...]:
        """The entries that gave up (reached `max_restarts`) and have not
        recovered since, in the order they gave up."""
        return tuple(self._gave_up)

    @property
    def finished(self) -> tuple[str, ...]:
        """The daemons their restart policy ended (an exit 0 under
        `restart="on-failure"` or `"no"`), held in `stopped` and not started
        since, in the order they ended."""
        return tuple(self._finished)

    @property
    def ended_by(self) -> RunEnded | None:
        """The entry that ended the run (`exit_on_failure`, `exit_code_from`),
        with the code to exit with; `None` while nothing has."""
        return self._ended_by

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._entries)

    @property
    def entries(self) -> tuple[EntrySpec, ...]:
        """The specs of the entries, in the order they were added."""
        return tuple(entry.spec for entry in self._order)

    @property
    def entry_views(self) -> tuple[EntryView, ...]:
        """A read-only view of each entry, in the order they were added."""
        return tuple(EntryView(entry) for entry in self._order)

    def subscribe(self, max_buffer_size: float = 1000) -> MemoryObjectReceiveStream[Event]:
        """A stream of the events from now on; it ends when the system has stopped.

        A subscriber that falls `max_buffer_size` events behind loses the
        newer ones (counted in `statistics().dropped_events`); the system
        never waits for a subscriber.
        """
        return self._log.subscribe(max_buffer_size)

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
            events=len(self._log.history) + self._log.history_dropped,
            dropped_events=self._log.dropped_events,
            history_dropped=self._log.history_dropped,
            output_dropped={i: self._output.dropped(i) for i in self._entries},
        )

    def output(self, entry_id: str | None = None, lines: int | None = None) -> list[OutputLine]:
        """The latest `lines` lines kept of the entry's output (`None`: all kept),
        oldest first; of every entry, in time order, if `entry_id` is `None`.

        Each entry keeps its latest `output_lines` lines, and at most
        `output_bytes` bytes of them (see `Daemons.build`).
        """
        require_option("lines", lines)
        return self._output.tail(self._output_ids(entry_id), lines)

    def follow_output(
        self, entry_id: str | None = None, *, lines: int | None = 0
    ) -> OutputFollower:
        """The entry's output (every entry's, if `None`) from its latest `lines`
        lines on (`None`: all kept), as it comes:
        `async for line in running.follow_output("web")`.

        It ends once the system has stopped and the rest is read. A reader
        that falls behind the buffer skips ahead, never slowing the system;
        the follower's `lost` counts what it missed.
        """
        require_option("lines", lines)
        return self._output.follow(self._output_ids(entry_id), lines)

    async def wait_ready(self, timeout: float | None = None) -> None:
        """Wait until every entry is `ready` at the same time.

        Raises `WaitTimeoutError` (a `TimeoutError`) when `timeout` runs out,
        `GaveUpError` as soon as an entry gives up (reaches `max_restarts`)
        or is ended by its restart policy, or `SystemTerminatedError` if
        the system is terminated first. Each names the entries that were not
        ready, with their last health message, in its text and in its
        `reasons`.
        """
        _require_wait_timeout(timeout)

        def all_ready() -> bool:
            if self._terminating:
                message, reasons = why_not_ready(self._order, "Terminated while waiting for")
                raise SystemTerminatedError(message, not_ready=list(reasons), reasons=reasons)
            if self._gave_up or self._finished:
                stuck = [*self._gave_up, *self._finished]
                why = [
                    f"{', '.join(ids)} {what}"
                    for ids, what in (
                        (self._gave_up, "gave up"),
                        (self._finished, "ended, not to be restarted"),
                    )
                    if ids
                ]
                message, reasons = why_not_ready(self._order, "; ".join(why) + "; not ready:")
                raise GaveUpError(message, not_ready=list(reasons), reasons=reasons, gave_up=stuck)
            return self._ready_count == len(self._order)

        if not await self.wait_until(all_ready, timeout):
            message, reasons = why_not_ready(self._order, "Timed out waiting for")
            raise WaitTimeoutError(message, not_ready=list(reasons), reasons=reasons)

    async def wait_until(self, condition: Callable[[], bool], timeout: float | None = None) -> bool:
        """Wait until `condition()` is true; `False` if `timeout` ran out first.

        The condition is evaluated now, after each step of the coordinator
        (a reaction with the cascade it causes) and after each event, for example
        `await running.wait_until(lambda: running.state("api") is LifecycleState.WAITING)`.
        """
        self._require_running("wait_until")
        _require_wait_timeout(timeout)
        await anyio.lowlevel.checkpoint()
        if self._log.finished:
            return condition()  # nothing changes any more
        return await self._log.wait_until(condition, timeout)

    async def wait_stopped(self) -> None:
        """Wait until every entry is `stopped` (only `term()` gets them there)."""
        self._require_running("wait_stopped")
        assert self._all_stopped is not None
        await self._all_stopped.wait()

    # Operator actions (docs/spec.md section 10). Each takes effect in one
    # step before its first await, so actions take effect in call order.

    async def stop(self, entry_id: str) -> None:
        """Hold the entry: its running dependents stop first, in order, then
        the entry; it stays `stopped` until `start()` or `restart()`. Returns
        once it is `stopped` (or a later action on it superseded this one)."""
        entry, action = self._begin_action("stop", entry_id)
        entry.on_hold = True
        self._act(entry, LifecycleEvent.HOLD)
        await self._log.wait_until(
            lambda: entry.state is STOPPED or entry.operator_actions != action, None
        )

    async def start(self, entry_id: str) -> None:
        """Release a held entry (`stopped -> waiting`): it launches once its
        dependencies are ready. Does nothing to an entry that is not held."""
        entry, _ = self._begin_action("start", entry_id)
        if entry.on_hold:
            entry.on_hold = False
            self._act(entry, LifecycleEvent.RELEASE)
        await anyio.lowlevel.checkpoint()

    async def restart(self, entry_id: str) -> None:
        """A fresh launch of the entry: it and its running dependents stop in
        order, dependents first, and start again as their dependencies become
        ready. Returns once the entry has launched again (not once it is
        ready), or once a later action on it superseded this one; raises
        `SystemTerminatingError` if `term()` overrides it first."""
        entry, action = self._begin_action("restart", entry_id)
        launches = entry.launches
        if entry.state is not WAITING:
            # Held and released in one step: it stops as after a lost
            # dependency, and `gone` leads it back to `waiting`.
            entry.on_hold = True
            self._step += 1
            self._fire(entry, LifecycleEvent.HOLD)
            entry.on_hold = False
            self._fire(entry, LifecycleEvent.RELEASE)
            self._drain()
            self._log.notify()

        def launched() -> bool:
            if entry.launches != launches or entry.operator_actions != action:
                return True
            if self._terminating:
                raise SystemTerminatingError(
                    f"restart of {entry_id!r} overridden: the system is terminating",
                    entry=entry_id,
                )
            return False

        await self._log.wait_until(launched, None)

    def _begin_action(self, action: str, entry_id: str) -> tuple[Entry, int]:
        self._require_running(action)
        entry = self._entry(entry_id)
        if self._terminating:
            raise SystemTerminatingError(
                f"cannot {action} {entry_id!r}: the system is terminating", entry=entry_id
            )
        entry.operator_actions += 1
        return entry, entry.operator_actions

    def _act(self, entry: Entry, event: LifecycleEvent) -> None:
        """One step: an operator's `event` at `entry`, and its cascade."""
        self._step += 1
        self._fire(entry, event)
        self._drain()
        self._log.notify()

    async def term(self) -> None:
        """Stop every entry, dependents before their dependencies, and wait for it.

        Idempotent: concurrent and later calls share the one shutdown, and a
        caller that is cancelled does not interrupt it.
        """
        self._init_events()
        if not self._terminating:
            self._begin_term()
        assert self._all_stopped is not None
        await self._all_stopped.wait()

    def _begin_term(self) -> None:
        self._term_flag.raised = True
        self._tasks.cancel_checks()
        if self._watcher is not None:
            self._watcher.stop()
        self._step += 1
        for entry in self._order:
            if entry.state is STOPPED:  # held: stopped for good only now
                self._stopped_for_good(entry)
        self._term_every_entry()

    def _term_every_entry(self) -> None:
        """One step: `term` at every entry that is waiting or active."""
        # Dependents first, so no entry is stopped twice over (once by
        # term, once by losing a dependency).
        for entry in reversed(self._order):
            if entry.state is WAITING or entry.state in ACTIVE_STATES:
                self._fire(entry, LifecycleEvent.TERM)
        self._drain()
        self._check_all_stopped()
        self._log.notify()

    def _end_run(
        self, entry: Entry, returncode: int, reason: str, *, in_step: bool = False
    ) -> None:
        """`entry` ends the run: record why, and stop every entry in order
        (right after the step, if called within one). The first one to end
        the run is the one kept."""
        if self._terminating or self._ended_by is not None:
            return
        ended = self._ended_by = RunEnded(anyio.current_time(), entry.spec.id, returncode, reason)
        self._log.record(ended)
        if not in_step:
            self._begin_term()
        elif self._tasks.is_open:
            self._tasks.group.start_soon(self._term_after_step, name="healthdaemons:term")

    def _stop_for(self, error: BaseException, *, in_step: bool) -> None:
        """User code raised `error`, which ends the system: stop every entry in
        order, end the block, and let `error` out of it (`__aexit__`)."""
        if self._fatal_error is None:
            self._fatal_error = error
        if self._block_scope is not None:
            self._block_scope.cancel()
        if self._terminating:
            return
        if not in_step:
            self._begin_term()
        elif self._tasks.is_open:
            # Not in the middle of a step: right after it.
            self._tasks.group.start_soon(self._term_after_step, name="healthdaemons:term")

    async def _term_after_step(self) -> None:
        if not self._terminating:
            self._begin_term()

    def kill(self) -> None:
        """Stop now, out of order: begin `term()` if it has not begun, then
        SIGKILL every process group still running (in-process functions are
        abandoned). For when waiting is not an option, like a second Ctrl-C;
        `wait_stopped()` (or leaving the block) then ends quickly."""
        self._init_events()
        if not self._terminating:
            self._begin_term()
        else:
            # Only a broken rule (`verify` and `explore` try some) can have
            # left an entry waiting or active once terminating; without this
            # `term()` would wait for it for good.
            self._step += 1
            self._term_every_entry()
        for entry in self._order:
            self._supervisor.kill(entry)

    async def __aenter__(self) -> RunningDaemons:
        if self._entered:
            raise RuntimeError("a built system can be entered only once; call build() again")
        self._entered = True
        self._init_events()
        # Made now, entered last: the first steps below may already cancel it
        # (`_stop_for`), and the block must then end as soon as it begins.
        self._block_scope = anyio.CancelScope()
        await self._tasks.open()
        self._step += 1
        self._queue.extend(self._order)
        self._drain()
        self._log.notify()
        if self._watcher is not None and not self._terminating:
            self._watcher.start(self._tasks.group)
        self._block_scope.__enter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        assert self._block_scope is not None
        if self._block_scope.__exit__(exc_type, exc, traceback):
            exc = None  # our own cancellation of the block (`_stop_for`)
        try:
            with anyio.CancelScope(shield=True):
                await self.term()
        finally:
            # The block's own exception goes out as itself, never wrapped in
            # an exception group.
            self._tasks.cancel()
            self._log.finish()
            try:
                await self._tasks.close(exc)
            finally:
                self._log.end_streams()
                self._output.finish()
        if self._fatal_error is not None:
            # As itself, after the ordered shutdown: the program is to end.
            raise self._fatal_error
        return False

    def _restartable(self, entry_id: str) -> bool:
        """Whether files that changed restart the entry: not if it has not
        launched yet (it will, with the new files), nor if an operator (or
        its restart policy) holds it, stopping or stopped."""
        entry = self._entries[entry_id]
        return not entry.on_hold and entry.state is not WAITING

    def _tasks_ended(self) -> None:
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
            self._log.report(entry, report, soften)
        self._fire(entry, event)
        self._drain()
        self._log.notify()

    def _drain(self) -> None:
        queue = self._queue
        while queue:
            self._settle(queue.popleft())

    def _settle(self, entry: Entry) -> None:
        """The state-triggered rules of the entry's state, in order; the table's guards decide."""
        state = entry.state
        for event in state_triggered_events(entry.spec.kind, state):
            if self._fire(entry, event):
                return
        # Still waiting: say for what.
        if state is WAITING and not self._terminating:
            self._log.report_waiting(entry)

    @property
    def _terminating(self) -> bool:
        """Whether `term()` has begun: the flag the guard `Entry.terminating` reads."""
        return self._term_flag.raised

    def _fire(self, entry: Entry, event: LifecycleEvent) -> bool:
        source = entry.state
        if not fire(entry, event):
            return False
        dest = entry.state
        if source is not dest or event not in CHECK_RESULTS:
            self._log.record(
                Transitioned(anyio.current_time(), entry.spec.id, event, source, dest, self._step)
            )
        if event is LifecycleEvent.GIVE_UP or event is LifecycleEvent.FINISH:
            stuck = self._gave_up if event is LifecycleEvent.GIVE_UP else self._finished
            stuck[entry.spec.id] = None
            if entry.spec.id in self._exit_needs and not self._terminating:
                why = "gave up" if event is LifecycleEvent.GIVE_UP else "ended"
                reason = f"{self._supervisor.exit_code_from} cannot run: {entry.spec.id} {why}"
                self._end_run(entry, 1, reason, in_step=True)
        elif source is FAILING and dest is not FAILING:
            self._gave_up.pop(entry.spec.id, None)
        if event is LifecycleEvent.HOLD or event is LifecycleEvent.RELEASE:
            # Its waiting dependents say anew what they wait for.
            self._queue.extend(entry.dependents)
        if source is dest:
            if event is LifecycleEvent.SIGNAL:
                self._supervisor.permit_stop(entry)
            return True
        queue = self._queue
        if dest is READY or source is READY:
            delta = 1 if dest is READY else -1
            self._ready_count += delta
            for dependent in entry.dependents:
                dependent.ready_dependencies += delta
                queue.append(dependent)
            if dest is READY:
                self._became_ready(entry)
        if source is WAITING and dest is STARTING:
            entry.once_done = False
            for dependency in entry.dependencies:
                dependency.running_dependents += 1
            self._supervisor.launch(entry)
        elif source is STOPPING:
            if not entry.once_done:  # (a done oneshot let go of them already)
                for dependency in entry.dependencies:
                    dependency.running_dependents -= 1
                    queue.append(dependency)
            queue.append(entry)
        elif source is STOPPED:  # released
            self._finished.pop(entry.spec.id, None)
            self._stopped_count -= 1
            queue.append(entry)
        if dest is STOPPING:
            self._supervisor.stopping_began(entry)
            queue.append(entry)
        elif dest is STOPPED:
            self._stopped_count += 1
            if self._terminating:
                self._stopped_for_good(entry)
                self._check_all_stopped()
        return True

    def _became_ready(self, entry: Entry) -> None:
        if entry.became_ready is not None:
            entry.became_ready.set()
        if entry.spec.once and not entry.once_done:
            # Done for this run: its dependencies may stop without it.
            entry.once_done = True
            for dependency in entry.dependencies:
                dependency.running_dependents -= 1
                self._queue.append(dependency)

    def _stopped_for_good(self, entry: Entry) -> None:
        """`stopped` is final once the system terminates: its subcontainer may go."""
        if entry.spec.subcontainer is not None:
            self._subcontainers.release(entry.spec.subcontainer, entry.spec.id)

    def _check_all_stopped(self) -> None:
        if (
            self._terminating
            and self._stopped_count == len(self._order)
            and not self._subcontainers.destroying
        ):
            assert self._all_stopped is not None
            self._all_stopped.set()

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
            suggestion = closest(str(entry_id), list(self._entries))
            message = f"no entry {entry_id!r} in this system" + did_you_mean(suggestion)
            raise KeyError(message) from None

    def _output_ids(self, entry_id: str | None) -> Sequence[str]:
        if entry_id is None:
            return self.ids
        return (self._entry(entry_id).spec.id,)

    def _require_running(self, method: str) -> None:
        if not self._entered:
            raise RuntimeError(
                f"{method}() needs a running system: use `async with system.build()`"
            )


def _log_files(specs: Sequence[EntrySpec]) -> list[str]:
    """The log files the entries' commands write."""
    return [
        os.fspath(spec.exec.log.path)
        for spec in specs
        if isinstance(spec.exec, Command) and spec.exec.log is not None
    ]


def _requirements(specs: Sequence[EntrySpec], id: str | None) -> frozenset[str]:
    """What entry `id` requires, directly or not; nothing for `None` (at no cost)."""
    if id is None:
        return frozenset()
    requires = {spec.id: spec.requires for spec in specs}
    return frozenset(requirement_closure(requires[id], requires.__getitem__))


def _require_wait_timeout(timeout: object) -> None:
    problem = wait_timeout_problem(timeout)
    if problem is not None:
        raise ValueError(f"timeout {problem}")
