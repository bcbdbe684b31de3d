"""`kill()` and subcontainers with real processes, exactly: what is signalled
and when a subcontainer is destroyed. Written for the survivors of `make
mutate` (docs/testing.md)."""

from __future__ import annotations

import anyio

from coordinator import (
    Command,
    Daemons,
    ErrorReported,
    LifecycleState,
    ProcessSignalled,
    Ready,
    RunningDaemons,
    SubContainer,
    SubContainerDestroyed,
)
from coordinator.checks import log_line

from .helpers import always_ready, last_pid, sleeper

STUBBORN = "trap '' TERM; echo trapped; sleep 1000 & wait; sleep 1000"
"""Ignores SIGTERM from the moment it prints `trapped`."""


async def test_kill_sends_sigkill_to_each_group_and_no_sigterm_after() -> None:
    # `top` is signalled by the shutdown that kill() begins (it has no
    # dependent); `base` must wait for `top`, so only the SIGKILL reaches it.
    system = (
        Daemons.of()
        .add_daemon(
            "base", exec=Command(["sh", "-c", STUBBORN], sigterm_timeout=60), ready=always_ready()
        )
        .add_daemon(
            "top",
            exec=Command(["sh", "-c", STUBBORN], sigterm_timeout=60),
            ready=always_ready(),
            requires=["base"],
        )
    )
    async with system.build() as running:
        await running.wait_ready(timeout=10)
        pids = {entry: last_pid(running, entry) for entry in ("base", "top")}
        running.kill()
        with anyio.fail_after(10):
            await running.wait_stopped()
    signalled = [
        (e.entry, e.pid, e.signal) for e in running.history if isinstance(e, ProcessSignalled)
    ]
    assert signalled == [
        ("top", pids["top"], "SIGTERM"),
        ("base", pids["base"], "SIGKILL"),
        ("top", pids["top"], "SIGKILL"),
    ]


class SlowToDestroy(SubContainer):
    """Records its users' states when destroyed; destroying takes a while."""

    def __init__(self, name: str, users: list[str]) -> None:
        super().__init__(name)
        self.users = users
        self.running: RunningDaemons | None = None
        self.states_at_destroy: dict[str, LifecycleState] = {}
        self.destroyed = False

    async def destroy(self) -> None:
        assert self.running is not None
        self.states_at_destroy = {u: self.running.state(u) for u in self.users}
        await anyio.sleep(1.0)
        self.destroyed = True


async def test_subcontainers_go_after_their_last_user_and_before_term_returns() -> None:
    shared = SlowToDestroy("shared", ["quick", "slow"])
    alone = SlowToDestroy("alone", ["single"])
    system = (
        Daemons.of()
        .add_daemon("quick", exec=sleeper(), ready=always_ready(), subcontainer=shared)
        .add_daemon(
            # Stops half a second after `quick`: SIGTERM ignored, then SIGKILL.
            "slow",
            exec=Command(["sh", "-c", STUBBORN], sigterm_timeout=0.5),
            # Ready once SIGTERM is ignored: stopped at once otherwise, it
            # could be gone before `quick`, and the last user would be `quick`.
            ready=Ready(None, log_line("^trapped$")),
            subcontainer=shared,
        )
        .add_daemon("single", exec=sleeper(), ready=always_ready(), subcontainer=alone)
    )
    running = system.build()
    shared.running = alone.running = running
    async with running:
        await running.wait_ready(timeout=10)
        await running.term()
        # Both destroys overlapped (each takes 1 s) and both finished before
        # term() returned.
        assert shared.destroyed
        assert alone.destroyed
    stopped = LifecycleState.STOPPED
    assert shared.states_at_destroy == {"quick": stopped, "slow": stopped}
    assert alone.states_at_destroy == {"single": stopped}
    destroyed = {(e.name, e.entry) for e in running.history if isinstance(e, SubContainerDestroyed)}
    assert destroyed == {("shared", "slow"), ("alone", "single")}


class FailsToDestroy(SubContainer):
    async def destroy(self) -> None:
        raise RuntimeError("still mounted")


class HangsInDestroy(SubContainer):
    destroy_timeout = 0.2

    async def destroy(self) -> None:
        await anyio.sleep_forever()


async def test_a_subcontainer_that_fails_or_hangs_in_destroy_is_reported() -> None:
    system = (
        Daemons.of()
        .add_daemon("a", exec=sleeper(), ready=always_ready(), subcontainer=FailsToDestroy("p"))
        .add_daemon("b", exec=sleeper(), ready=always_ready(), subcontainer=HangsInDestroy("q"))
        .add_daemon("c", exec=sleeper(), ready=always_ready(), subcontainer=SubContainer("r"))
    )
    async with system.build() as running:
        await running.wait_ready(timeout=10)
        started = anyio.current_time()
    errors = {(e.entry, e.message) for e in running.history if isinstance(e, ErrorReported)}
    assert errors == {
        ("a", "destroying <FailsToDestroy 'p'> failed: RuntimeError('still mounted')"),
        ("b", "destroying <HangsInDestroy 'q'> took over 0.2 s"),
    }
    [destroyed] = [e for e in running.history if isinstance(e, SubContainerDestroyed)]
    assert (destroyed.entry, destroyed.name) == ("c", "r")
    assert started <= destroyed.at <= anyio.current_time()
