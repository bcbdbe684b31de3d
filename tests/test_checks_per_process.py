"""A daemon is checked while a process of it runs, by its supervising task
(docs/spec.md section 5): one task per running entry, checks that end with
the process, and a fresh trigger for the next one."""

from __future__ import annotations

import math
from collections.abc import Callable

import anyio
import pytest
import trio.testing

from coordinator import (
    Command,
    Daemons,
    ExecFn,
    ExitStatus,
    HealthCheckResult,
    LifecycleState,
    ProcessHandle,
    Ready,
    SpawnSettings,
)
from coordinator.checks import log_line
from coordinator.triggers import FIRST_RETRY, RETRY_FRACTION
from statemachines import LifecycleEvent

from .support import Switch, first_time, forever, spawn_times

mock_clock_only = pytest.mark.parametrize(
    "anyio_backend", [("trio", {"clock": trio.testing.MockClock(autojump_threshold=0)})]
)


def entry_tasks() -> list[str]:
    return [
        task.name
        for task in anyio.get_running_tasks()
        if task.name and task.name.startswith("healthdaemons:e")
    ]


async def test_a_running_daemon_and_its_checks_take_one_task_besides_its_function() -> None:
    system = Daemons.of()
    shared = forever()
    for i in range(20):
        requires = [f"e{i - 1}"] if i else []
        system = system.add_daemon(
            f"e{i}", exec=shared, ready=Ready(f"E{i}", Switch()), requires=requires
        )
    async with system.build() as running:
        await running.wait_ready(timeout=60)
        names = entry_tasks()
        # Per entry: its supervising task, and its function's task.
        assert sorted(names) == sorted(
            [f"healthdaemons:e{i}" for i in range(20)]
            + [f"healthdaemons:e{i}:exec" for i in range(20)]
        )


async def test_the_exit_cuts_a_check_short_and_its_result_is_ignored() -> None:
    started = anyio.Event()
    exit_now = anyio.Event()
    calls = [0]

    runs = [0]

    async def run(_: object) -> None:
        runs[0] += 1
        if runs[0] == 1:
            await exit_now.wait()
            raise RuntimeError("crashed")
        await anyio.sleep_forever()

    async def check() -> HealthCheckResult:
        calls[0] += 1
        if calls[0] == 1:
            started.set()
            await anyio.sleep(100)  # cut short by the exit
        return HealthCheckResult.success()

    system = Daemons.of().add_daemon(
        "web", exec=ExecFn(run), ready=Ready("Web", check, timeout=1000)
    )
    async with system.build() as running:
        await started.wait()
        exit_now.set()
        # The next process is checked at once, with a trigger of its own.
        await running.wait_ready(timeout=60)
        spawned = spawn_times(running.history, "web")
        assert len(spawned) == 2
        # The first check's success never counted: the crash came first.
        assert spawned[1] <= first_time(running.history, "web", LifecycleEvent.HEALTHY)
        assert first_time(running.history, "web", LifecycleEvent.HEALTHY) < spawned[1] + 1
        assert calls[0] == 2


@mock_clock_only
async def test_after_a_restart_delay_the_quarter_counts_from_the_new_process() -> None:
    """Before, the trigger started over at the exit, so after a restart delay
    of 1 s the new process's checks were a quarter of that delay apart."""
    runs: list[float] = []
    ready_after = 0.3

    async def run(_: object) -> None:
        runs.append(anyio.current_time())
        if len(runs) <= 2:
            raise RuntimeError(f"run {len(runs)} crashed")  # restarted at once, then after 1 s
        await anyio.sleep_forever()

    def check() -> HealthCheckResult:
        if len(runs) == 3 and anyio.current_time() - runs[-1] >= ready_after:
            return HealthCheckResult.success()
        return HealthCheckResult.failure("not yet")

    system = Daemons.of().add_daemon("web", exec=ExecFn(run), ready=Ready("Web", check))
    async with system.build() as running:
        await running.wait_ready(timeout=60)
        seen = anyio.current_time()
    assert len(runs) == 3
    assert runs[2] - runs[1] == pytest.approx(1, abs=0.01)
    late = seen - (runs[2] + ready_after)
    assert late <= max(FIRST_RETRY, RETRY_FRACTION * ready_after) + 0.001, late


async def test_no_check_begins_once_the_entry_is_stopping() -> None:
    check = Switch(ok=False)  # failing: checked every second
    system = Daemons.of().add_daemon(
        "slow", exec=forever(stop_delay=5, sigterm_timeout=30), ready=Ready("Slow", check)
    )
    async with system.build() as running:
        assert await running.wait_until(lambda: check.calls >= 3, 60)

        async def term() -> None:
            await running.term()

        async with anyio.create_task_group() as group:
            group.start_soon(term)
            assert await running.wait_until(
                lambda: running.state("slow") is LifecycleState.STOPPING, 60
            )
            calls = check.calls
        assert check.calls == calls


class _BareHandle:
    """A user's process handle with only what the protocol asks (no `when_ended`)."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.sigterm_timeout = 5.0
        self._status: ExitStatus | None = None
        self._ended = anyio.Event()

    @property
    def running(self) -> bool:
        return self._status is None

    def end(self, status: ExitStatus) -> None:
        if self._status is None:
            self._status = status
            self._ended.set()

    async def wait(self) -> ExitStatus:
        await self._ended.wait()
        assert self._status is not None
        return self._status

    async def wait_gone(self) -> None:
        await self._ended.wait()

    def terminate(self) -> str:
        self.end(ExitStatus(-15, True, "signal SIGTERM"))
        return "SIGTERM"

    def kill(self) -> str:
        self.end(ExitStatus(-9, True, "signal SIGKILL"))
        return "SIGKILL"


async def test_a_handle_that_cannot_call_back_is_checked_from_a_task_of_its_own() -> None:
    handles: list[_BareHandle] = []

    async def spawn(command: Command, settings: SpawnSettings) -> ProcessHandle:
        handle = _BareHandle()
        handles.append(handle)
        return handle

    check = Switch()
    system = Daemons.of().add_daemon("web", exec=Command(["web"]), ready=Ready("Web", check))
    async with system.build(spawn=spawn) as running:
        await running.wait_ready(timeout=60)
        assert "healthdaemons:web:checks" in [task.name for task in anyio.get_running_tasks()]
        # Its end ends its checks' task; the next process gets one of its own.
        handles[0].end(ExitStatus(1, False, "exit code 1"))
        assert await running.wait_until(lambda: len(handles) == 2, 60)
        await running.wait_ready(timeout=60)
        names = [task.name for task in anyio.get_running_tasks()]
        assert names.count("healthdaemons:web:checks") == 1
    assert not math.isinf(first_time(running.history, "web", LifecycleEvent.HEALTHY))


class _CallingBackHandle(_BareHandle):
    """The same, calling back at its end, as the coordinator's own handles do."""

    def __init__(self) -> None:
        super().__init__()
        self._callbacks: list[Callable[[], None]] = []

    def when_ended(self, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)

    def end(self, status: ExitStatus) -> None:
        super().end(status)
        for callback in self._callbacks:
            callback()


async def test_a_line_announced_before_the_exit_counts_even_if_read_after_it() -> None:
    """Output pumps and the reaper run apart: the exit may be heard first.
    The line still counts until the supervisor reports the exit."""
    spawned: list[tuple[_CallingBackHandle, SpawnSettings]] = []

    async def spawn(command: Command, settings: SpawnSettings) -> ProcessHandle:
        handle = _CallingBackHandle()
        spawned.append((handle, settings))
        return handle

    system = Daemons.of().add_daemon(
        "web", exec=Command(["web"]), ready=Ready("Web", log_line("ready"))
    )
    async with system.build(spawn=spawn) as running:
        assert await running.wait_until(lambda: len(spawned) == 1, 60)
        handle, settings = spawned[0]
        assert settings.on_ready is not None
        handle.end(ExitStatus(1, False, "exit code 1"))
        settings.on_ready("ready")
        assert await running.wait_until(lambda: len(spawned) == 2, 60)
    became_ready = first_time(running.history, "web", LifecycleEvent.HEALTHY)
    assert became_ready <= spawn_times(running.history, "web")[1]
