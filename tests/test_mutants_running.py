"""The running system's bookkeeping, exactly: statistics, the messages that
name a method or the entries waited for, and `kill()` called first. Written
for the survivors of `make mutate` (docs/testing.md)."""

from __future__ import annotations

import anyio
import pytest

from coordinator import (
    Command,
    Daemons,
    ErrorReported,
    ExecFn,
    ExitStatus,
    LifecycleState,
    ProcessExited,
    ProcessHandle,
    ProcessSignalled,
    Ready,
    SpawnSettings,
)
from coordinator.errors import SystemTerminatedError

from .support import Switch, forever


def two_daemons(ok: bool = True) -> Daemons:
    return (
        Daemons.of()
        .add_daemon("a", exec=forever(), ready=Ready("A", Switch(ok)))
        .add_daemon("b", exec=forever(), ready=Ready("B", Switch(ok)), requires=["a"])
    )


async def test_statistics_count_ready_stopped_terminating_and_events() -> None:
    async with two_daemons().build() as running:
        await running.wait_ready(timeout=10)
        stats = running.statistics()
        assert (stats.ready, stats.stopped, stats.terminating) == (2, 0, False)
        assert stats.events == len(running.history) > 0
        await running.term()
        stats = running.statistics()
        assert (stats.ready, stats.stopped, stats.terminating) == (0, 2, True)
        assert stats.events == len(running.history)
        assert stats.states == {"a": LifecycleState.STOPPED, "b": LifecycleState.STOPPED}


async def test_wait_stopped_outside_the_block_names_itself() -> None:
    running = two_daemons().build()
    with pytest.raises(RuntimeError, match=r"^wait_stopped\(\) needs a running system"):
        await running.wait_stopped()


async def test_wait_ready_after_term_names_every_entry_not_ready() -> None:
    async with two_daemons(ok=False).build() as running:
        await running.term()
        expected = r"^Terminated while waiting for a, b\n  a: stopped\n  b: stopped$"
        with pytest.raises(SystemTerminatedError, match=expected):
            await running.wait_ready(timeout=10)


async def test_kill_first_begins_the_shutdown() -> None:
    async with two_daemons().build() as running:
        await running.wait_ready(timeout=10)
        running.kill()
        assert running.statistics().terminating
        with anyio.fail_after(10):
            await running.wait_stopped()


async def test_an_abandoned_function_did_not_end_cleanly() -> None:
    async def stubborn(_: object) -> None:
        try:
            await anyio.sleep_forever()
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.sleep(0.5)

    system = Daemons.of().add_daemon(
        "stubborn", exec=ExecFn(stubborn, sigterm_timeout=0.1), ready=Ready("S", Switch())
    )
    async with system.build() as running:
        await running.wait_ready(timeout=5)
    [exited] = [e for e in running.history if isinstance(e, ProcessExited)]
    assert exited.clean is False
    assert exited.returncode is None
    assert exited.description == "ignored cancellation for 0.1 s and was abandoned"


class LingeringGroup:
    """A fake process group whose leader ignores SIGTERM and dies at SIGKILL,
    while another member of its group lingers `linger` seconds more."""

    def __init__(self, pid: int, settings: SpawnSettings, linger: float) -> None:
        self.pid: int | None = pid
        self.sigterm_timeout = 60.0
        self._task_group = settings.task_group
        self._linger = linger
        self._leader_dead = anyio.Event()
        self._gone = anyio.Event()

    @property
    def running(self) -> bool:
        return not self._gone.is_set()

    async def wait(self) -> ExitStatus:
        await self._leader_dead.wait()
        return ExitStatus(-9, False, "killed by SIGKILL")

    async def wait_gone(self) -> None:
        await self._gone.wait()

    def terminate(self) -> str:
        return "SIGTERM"  # ignored

    def kill(self) -> str:
        if not self._leader_dead.is_set():
            self._leader_dead.set()
            self._task_group.start_soon(self._member_dies_later)
        return "SIGKILL"

    async def _member_dies_later(self) -> None:
        await anyio.sleep(self._linger)
        self._gone.set()


async def test_kill_sends_one_sigkill_to_a_group_that_outlives_its_leader() -> None:
    # After kill(), the leader is gone but a member of its group is still
    # there: stopping what is left waits for it, and does not SIGKILL again.
    pids = iter(range(1000, 2000))

    async def spawn(command: Command, settings: SpawnSettings) -> ProcessHandle:
        return LingeringGroup(next(pids), settings, linger=0.5)

    system = (
        Daemons.of()
        .add_daemon("base", exec=Command(["base"]), ready=Ready("Base", Switch()))
        .add_daemon("top", exec=Command(["top"]), ready=Ready("Top", Switch()), requires=["base"])
    )
    async with system.build(spawn=spawn) as running:
        await running.wait_ready(timeout=10)
        running.kill()
        with anyio.fail_after(10):
            await running.wait_stopped()
    signalled = [
        (e.entry, e.pid, e.signal) for e in running.history if isinstance(e, ProcessSignalled)
    ]
    assert signalled == [
        ("top", 1001, "SIGTERM"),
        ("base", 1000, "SIGKILL"),
        ("top", 1001, "SIGKILL"),
    ]
    errors = [e for e in running.history if isinstance(e, ErrorReported)]
    assert errors == []
