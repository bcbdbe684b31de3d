"""Simulated runs: the real coordinator, with every process and check played
from a fault schedule on trio's mock clock.

Only the world is simulated. Each `Command` becomes a `SimulatedProcess`
(spawned through the coordinator's own spawn hook, so the stop policy,
SIGKILL escalation and leftover handling are the real ones); each `ExecFn`
becomes a function that sleeps and fails as scheduled; each check answers
from the schedule and from whether the entry's process is up and ready.
Grace periods, triggers, backoff, `max_restarts`, start timeouts, restart
policies, `once` and the rules are the user's and the library's own; a
liveness check is left out (the restart it makes is a stop by the
supervisor, and the schedule's crashes and hangs cover what follows). A
run takes no real time.

(The one module of the library that imports trio: the mock clock is trio's.)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import anyio
import trio.testing

from statemachines import LifecycleState

from .._announced import Announcement
from .._command import Command
from .._command_process import SpawnError, SpawnSettings
from .._daemons import Daemons
from .._defaults import FAULT_HORIZON
from .._events import Event
from .._host import MemoryHost
from .._options import EntrySpec, ExecFn, ExecFunction
from .._process_handle import ExitStatus, ProcessHandle
from .._ready import CheckFn
from .._results import HealthCheckResult
from .._running import RunningDaemons
from .._subcontainer import SubContainer
from ..errors import SystemTerminatingError
from ._invariants import InvariantViolation, check_invariants
from ._report import OperatorCall
from ._schedules import FaultSchedule, OperatorAction, ProcessRun
from ._shutdown_bound import (
    HANG_MARGIN,
    ShutdownBudgetExceeded,
    chain_with_timeouts,
    shutdown_bound,
    shutdown_failures,
    worst_chain,
)

__all__ = [
    "SimulatedRun",
    "SimulatedWorld",
    "call_operator_action",
    "refuse_running_loop",
    "simulate",
    "simulated_system",
]

FIRST_PID = 1001


@dataclass(frozen=True)
class SimulatedRun:
    """What one simulated run did."""

    specs: tuple[EntrySpec, ...]
    schedule: FaultSchedule
    history: tuple[Event, ...]
    """Every event, timed in seconds since the start of the run."""
    term_called_at: float
    shutdown_time: float | None
    """How long `term()` took; `None` if it never returned."""
    shutdown_bound: float
    """What invariant 4 allows it: the stop bounds along the longest chain."""
    failure: AssertionError | None
    """The first invariant broken (or budget exceeded), if any."""
    crash: BaseException | None = None
    """An exception that escaped the supervisor itself (a bug)."""
    operator_calls: tuple[OperatorCall, ...] = ()
    """The operator actions called (the schedule's, in the order called), timed like `history`."""


class SimulatedProcess:
    """A process played from a `ProcessRun`, behind the coordinator's `ProcessHandle`."""

    def __init__(
        self, pid: int, run: ProcessRun, sigterm_timeout: float, settings: SpawnSettings
    ) -> None:
        self.pid: int | None = pid
        self.sigterm_timeout = sigterm_timeout
        self.run = run
        self.spawned_at = anyio.current_time()
        self._announce = settings.on_ready if settings.announcement is not None else None
        # The leader runs until its deadline: its own exit, or the end of a stop.
        deadline = math.inf if run.exit_after is None else self.spawned_at + run.exit_after
        self._leader = anyio.CancelScope(deadline=deadline)
        self._children = anyio.CancelScope()
        self._ending = (
            ExitStatus(run.exit_code, True, "exit code 0")
            if run.exit_code == 0
            else ExitStatus(run.exit_code, False, f"exit code {run.exit_code}")
        )
        self._signalled_at: float | None = None
        self._killed = False
        self._status: ExitStatus | None = None
        self._exited = anyio.Event()
        self._ended_callback: Callable[[], None] | None = None
        self._gone = anyio.Event()
        settings.task_group.start_soon(self._live, name=f"simulated:{settings.entry_id}")

    @property
    def running(self) -> bool:
        return not self._gone.is_set()

    @property
    def leader_alive(self) -> bool:
        return self._status is None

    async def _live(self) -> None:
        with self._leader:
            if self._announce is not None and self.run.ready_after is not None:
                await anyio.sleep(self.run.ready_after)
                self._announce(None)
            await anyio.sleep_forever()
        self._status = self._ending
        self._exited.set()
        callback, self._ended_callback = self._ended_callback, None
        if callback is not None:
            callback()
        if self.run.leaves_children and not self._killed and self._signalled_at is None:
            with self._children:
                await anyio.sleep_forever()
        self._gone.set()

    async def wait(self) -> ExitStatus:
        await self._exited.wait()
        assert self._status is not None
        return self._status

    def when_ended(self, callback: Callable[[], None]) -> None:
        if self._status is None:
            self._ended_callback = callback
        else:
            callback()

    async def wait_gone(self) -> None:
        await self._gone.wait()

    def terminate(self) -> str:
        now = anyio.current_time()
        if self._signalled_at is None:
            self._signalled_at = now
            if self.run.stop_time is not None:
                end = now + self.run.stop_time
                if self._status is None:
                    if end < self._leader.deadline:
                        self._ending = ExitStatus(-15, True, "signal SIGTERM")
                        self._leader.deadline = end
                else:
                    self._children.deadline = end
        return "SIGTERM"

    def kill(self) -> str:
        self._killed = True
        if self._status is None:
            self._ending = ExitStatus(-9, True, "signal SIGKILL")
        self._leader.cancel()
        self._children.cancel()
        return "SIGKILL"


class SimulatedWorld(Protocol):
    """What replaces the world around the coordinator: a spawn hook for
    commands, a function for each `ExecFn`, a check for each polled entry.
    `simulate` plays a schedule; `explore` lets its search choose."""

    async def start_command(self, command: Command, settings: SpawnSettings) -> ProcessHandle: ...

    def function(self, spec: EntrySpec, timeout: float) -> ExecFunction: ...

    def check(self, spec: EntrySpec) -> CheckFn: ...


def simulated_system(world: SimulatedWorld, specs: Sequence[EntrySpec]) -> RunningDaemons:
    """A system of `specs` that runs in `world`."""
    subcontainers: dict[int, SubContainer] = {}
    # The whole history: the invariant checker replays it from the start.
    return RunningDaemons(
        [_simulated_spec(world, s, subcontainers) for s in specs],
        MemoryHost(history_limit=None),
        history_limit=None,
        spawn=world.start_command,
    )


def _simulated_spec(
    world: SimulatedWorld, spec: EntrySpec, subcontainers: dict[int, SubContainer]
) -> EntrySpec:
    """The entry in `world`: the same rules and timeouts; its function, check
    and subcontainer simulated (never the user's own), and no files watched."""
    changes: dict[str, object] = {}
    announced = spec.ready is not None and isinstance(spec.ready.fn, Announcement)
    if isinstance(spec.exec, ExecFn):
        timeout = spec.exec.sigterm_timeout
        # Announcing is a command's job: hand over to a simulated one.
        function = _hand_over(spec.id, timeout) if announced else world.function(spec, timeout)
        changes["exec"] = ExecFn(function, sigterm_timeout=timeout)
    if spec.ready is not None and not announced:
        changes["ready"] = dataclasses.replace(spec.ready, fn=world.check(spec))
    if spec.liveness is not None:
        # A liveness restart is a stop the supervisor makes: the schedule's
        # crashes and hangs already cover what it leads to.
        changes["liveness"] = None
    if spec.subcontainer is not None:
        key = id(spec.subcontainer)
        if key not in subcontainers:
            subcontainers[key] = SubContainer(spec.subcontainer.name)
        changes["subcontainer"] = subcontainers[key]
    if spec.watch is not None:
        # Files are the world's too: a simulated run watches none (the
        # operator's restarts it draws stand for what a change would do).
        changes["watch"] = None
    return dataclasses.replace(spec, **changes)  # type: ignore[arg-type]


def _hand_over(entry_id: str, timeout: float) -> ExecFunction:
    async def hand_over(_: object) -> Command:
        return Command(["simulated", entry_id], sigterm_timeout=timeout)

    return hand_over


class _World:
    """Everything outside the coordinator: the processes and the checks."""

    def __init__(self, specs: Sequence[EntrySpec], schedule: FaultSchedule) -> None:
        self.schedule = schedule
        self.kinds = {spec.id: spec.kind for spec in specs}
        self.spawns = dict.fromkeys(self.kinds, 0)
        self.current: dict[str, tuple[float, ProcessRun, Callable[[], bool]]] = {}
        """Per entry, its latest process: spawned at, its run, and whether it is up."""
        self.processes: list[tuple[str, SimulatedProcess]] = []
        self.origin = 0.0
        self.failures: list[AssertionError] = []
        self.calls: list[OperatorCall] = []
        """The operator actions called, on the run's clock."""
        self.next_pid = FIRST_PID

    def now(self) -> float:
        return anyio.current_time() - self.origin

    def next_run(self, entry_id: str) -> ProcessRun:
        index = self.spawns[entry_id]
        self.spawns[entry_id] += 1
        return self.schedule.of(entry_id).run(index, self.kinds[entry_id])

    async def start_command(self, command: Command, settings: SpawnSettings) -> SimulatedProcess:
        entry_id = settings.entry_id
        earlier = [p for e, p in self.processes if e == entry_id and p.running]
        if earlier:
            self.failures.append(
                InvariantViolation(
                    3,
                    f"{entry_id} is spawned at {self.now():g} while its process "
                    f"{earlier[0].pid} is still alive",
                    [entry_id],
                    self.now(),
                )
            )
        run = self.next_run(entry_id)
        if run.spawn_time:
            await anyio.sleep(run.spawn_time)
        if run.spawn_fails:
            raise SpawnError(f"{command.argv[0]}: not found (simulated)")
        process = SimulatedProcess(self.next_pid, run, command.sigterm_timeout, settings)
        self.next_pid += 1
        self.processes.append((entry_id, process))
        self.current[entry_id] = (process.spawned_at, run, lambda: process.leader_alive)
        return process

    def function(self, spec: EntrySpec, timeout: float) -> ExecFunction:
        async def play(_: object) -> None:
            run = self.next_run(spec.id)
            up = [True]
            self.current[spec.id] = (anyio.current_time(), run, lambda: up[0])
            try:
                if run.spawn_fails:
                    raise RuntimeError("could not start (simulated)")
                await anyio.sleep(math.inf if run.exit_after is None else run.exit_after)
            except anyio.get_cancelled_exc_class():
                with anyio.CancelScope(shield=True):
                    # Ignoring cancellation: it outlives its timeout and is abandoned.
                    await anyio.sleep(timeout + 1 if run.stop_time is None else run.stop_time)
                raise
            finally:
                up[0] = False
            if run.exit_code:
                raise RuntimeError(f"exit code {run.exit_code} (simulated)")

        return play

    def check(self, spec: EntrySpec) -> CheckFn:
        flaps = self.schedule.of(spec.id).check_fails
        failed = [0] * len(flaps)

        def check() -> HealthCheckResult:
            now = self.now()
            for i, (start, count) in enumerate(flaps):
                if start <= now and failed[i] < count:
                    failed[i] += 1
                    return HealthCheckResult.failure("check fails (scheduled)")
            if spec.exec is None:
                return HealthCheckResult.success()
            current = self.current.get(spec.id)
            if current is None or not current[2]():
                return HealthCheckResult.failure("not running")
            spawned_at, run, _ = current
            if run.ready_after is None or anyio.current_time() < spawned_at + run.ready_after:
                return HealthCheckResult.failure("not ready yet")
            return HealthCheckResult.success()

        return check


async def call_operator_action(
    running: RunningDaemons, action: str, entry_id: str, calls: list[OperatorCall]
) -> None:
    """`running.stop`, `start` or `restart` of `entry_id`, as an operator
    would call it, noted in `calls`; refused once terminating, which is part
    of the contract."""
    calls.append(OperatorCall(len(running.history), anyio.current_time(), action, entry_id))
    try:
        await getattr(running, action)(entry_id)
    except SystemTerminatingError:
        pass


async def _play_actions(
    running: RunningDaemons,
    actions: Sequence[OperatorAction],
    world: _World,
    done: anyio.Event,
) -> None:
    """Call each action at its moment, without waiting for the earlier ones to return."""
    async with anyio.create_task_group() as calls:
        for action in actions:
            await anyio.sleep_until(world.origin + action.at)
            calls.start_soon(
                call_operator_action, running, action.action, action.entry, world.calls
            )
        done.set()
        await anyio.sleep_forever()


def refuse_running_loop(name: str) -> None:
    """The simulations run their own event loop (trio's, on a mock clock)."""
    try:
        anyio.get_current_task()
    except RuntimeError:
        return
    raise RuntimeError(
        f"{name}() runs its own event loop: call it from synchronous code "
        "(a plain test function), not from async code"
    )


def _specs(system: Daemons | Sequence[EntrySpec]) -> tuple[EntrySpec, ...]:
    return system.entries if isinstance(system, Daemons) else tuple(system)


def simulate(
    system: Daemons | Sequence[EntrySpec],
    schedule: FaultSchedule,
    *,
    shutdown_budget: float | None = None,
    horizon: float = FAULT_HORIZON,
) -> SimulatedRun:
    """Run `system` once under `schedule` on trio's mock clock and check
    invariants 1 to 6 (and the budget). Never raises for a violation: the
    returned run's `failure` holds the first one. A schedule that does not
    fit the system (an unknown id, a negative time) is a `ValueError`."""
    refuse_running_loop("simulate")
    specs = _specs(system)
    problem = schedule.problem([spec.id for spec in specs])
    if problem is not None:
        raise ValueError(f"fault schedule: {problem}")
    world = _World(specs, schedule)
    running = simulated_system(world, specs)
    bound, chain = shutdown_bound(specs, schedule)
    _, slowest = worst_chain(specs)
    times: dict[str, float] = {}

    async def main() -> None:
        world.origin = anyio.current_time()
        all_called = anyio.Event()
        async with running, anyio.create_task_group() as operator:
            operator.start_soon(_play_actions, running, schedule.actions, world, all_called)
            if schedule.term_at is None:
                # Once the operator has acted and the system has settled again.
                with anyio.move_on_after(horizon):
                    await all_called.wait()
                await running.wait_until(
                    lambda: all(running.state(i) is LifecycleState.READY for i in running.ids),
                    timeout=max(0.0, horizon - world.now()),
                )
            else:
                await anyio.sleep(schedule.term_at)
            times["called"] = world.now()
            with anyio.move_on_after(bound + HANG_MARGIN):
                await running.term()
                times["returned"] = world.now()
                # Checked as term() returns: an action called later is the
                # invariant checker's to judge, and the timeline stops here.
                shutdown.extend(shutdown_checked(times["called"], times["returned"]))
            if "returned" not in times:
                # Hung: end it (kill() is immediate here) so the run can finish.
                running.kill()
            # An action after term() returned is refused, and must be: call them all.
            await all_called.wait()
            operator.cancel_scope.cancel()

    shutdown: list[AssertionError] = []

    def shutdown_checked(called: float, returned: float | None) -> list[AssertionError]:
        alive = [(entry, process.pid) for entry, process in world.processes if process.running]
        took = None if returned is None else returned - called
        return shutdown_failures(running, alive, called, took, (bound, chain))

    crash: BaseException | None = None
    try:
        clock = trio.testing.MockClock(autojump_threshold=0)
        anyio.run(main, backend="trio", backend_options={"clock": clock})
    except Exception as error:
        crash = error
    history = tuple(dataclasses.replace(e, at=e.at - world.origin) for e in running.history)
    called = times.get("called", math.nan)
    took = times["returned"] - called if "returned" in times else None
    failures = list(world.failures)
    try:
        check_invariants(specs, history)
    except InvariantViolation as violation:
        failures.insert(0, violation)
    failures.extend(shutdown if "returned" in times else shutdown_checked(called, None))
    if shutdown_budget is not None and took is not None and took > shutdown_budget + 1e-9:
        failures.append(
            ShutdownBudgetExceeded(
                f"shutdown took {took:g} s, over the budget of {shutdown_budget:g} s: "
                f"the slowest chain of stops is {chain_with_timeouts(slowest, running, took)}; "
                "lower a sigterm_timeout along it, or raise the budget",
                slowest,
                called + took,
            )
        )
    failures.sort(key=lambda f: getattr(f, "at", math.inf))
    calls = tuple(dataclasses.replace(c, at=c.at - world.origin) for c in world.calls)
    failure = failures[0] if failures else None
    return SimulatedRun(specs, schedule, history, called, took, bound, failure, crash, calls)
