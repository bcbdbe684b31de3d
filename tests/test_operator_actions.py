"""Operator actions on a running system: `stop`, `start`, `restart` (docs/spec.md section 10).

In-process daemons on both backends (trio on its mock clock); every history
is checked against the invariants.
"""

from __future__ import annotations

import anyio
import pytest

from coordinator import (
    Daemons,
    ExecFn,
    LifecycleState,
    ProcessSignalled,
    Ready,
    RunningDaemons,
    Transitioned,
)
from coordinator.errors import GaveUpError, SystemTerminatingError
from coordinator.triggers import cooldown_trigger
from statemachines import LifecycleEvent

from .support import Switch, check_invariants, finishes, forever, spawn_times

pytestmark = pytest.mark.anyio

S = LifecycleState
E = LifecycleEvent
FAST = cooldown_trigger(0.01)


def fast(display: str, check: Switch | None = None) -> Ready:
    return Ready(display, check or Switch(), trigger=FAST)


def chain(db_check: Switch | None = None, *, stop_delay: float = 0.0) -> Daemons:
    """db <- web <- app, three daemons."""
    return (
        Daemons.of()
        .add_daemon("db", exec=forever(stop_delay), ready=fast("Database", db_check))
        .add_daemon("web", exec=forever(), ready=fast("Web"), requires=["db"])
        .add_daemon("app", exec=forever(), ready=fast("App"), requires=["web"])
    )


def signalled(running: RunningDaemons) -> list[str]:
    return [e.entry for e in running.history if isinstance(e, ProcessSignalled)]


def launches(running: RunningDaemons, entry: str) -> int:
    return sum(
        isinstance(e, Transitioned) and e.entry == entry and e.event is E.LAUNCH
        for e in running.history
    )


def states(running: RunningDaemons) -> dict[str, S]:
    return dict(running.statistics().states)


async def settle(running: RunningDaemons, entry: str, state: S) -> None:
    assert await running.wait_until(lambda: running.state(entry) is state, timeout=10)


async def test_stop_stops_running_dependents_first_then_holds_the_entry() -> None:
    system = chain()
    async with system.build() as running:
        await running.wait_ready(timeout=10)
        await running.stop("db")
        # Dependents first, in order, then the entry itself.
        assert signalled(running) == ["app", "web", "db"]
        assert states(running) == {"db": S.STOPPED, "web": S.WAITING, "app": S.WAITING}
        health = running.health("web")
        assert health is not None and health.message == "Database (stopped)"
        assert running.entry_views[0].held
        # It stays there: nothing relaunches it.
        await anyio.sleep(1)
        assert states(running) == {"db": S.STOPPED, "web": S.WAITING, "app": S.WAITING}
        # Idempotent.
        before = len(running.history)
        await running.stop("db")
        assert running.state("db") is S.STOPPED
        assert [e for e in running.history[before:] if isinstance(e, ProcessSignalled)] == []
    check_invariants(system.entries, running.history)


async def test_stop_a_waiting_entry_holds_it_even_when_its_dependency_recovers() -> None:
    db_check = Switch(ok=False)
    system = chain(db_check)
    async with system.build() as running:
        await settle(running, "db", S.STARTING)
        await running.stop("web")
        assert running.state("web") is S.STOPPED
        health = running.health("app")
        assert health is not None and health.message == "Web (stopped)"
        db_check.ok = True
        await settle(running, "db", S.READY)
        await anyio.sleep(1)
        # A dependency recovery does not relaunch a held entry.
        db_check.ok = False
        await settle(running, "db", S.FAILING)
        db_check.ok = True
        await settle(running, "db", S.READY)
        await anyio.sleep(1)
        assert spawn_times(running.history, "web") == []
        assert states(running) == {"db": S.READY, "web": S.STOPPED, "app": S.WAITING}
    check_invariants(system.entries, running.history)


async def test_start_after_stop_brings_the_entry_and_its_dependents_back() -> None:
    system = chain()
    async with system.build() as running:
        await running.wait_ready(timeout=10)
        await running.stop("db")
        await running.start("db")
        assert running.state("db") in (S.WAITING, S.STARTING)
        assert not running.entry_views[0].held
        await running.wait_ready(timeout=30)
        assert [len(spawn_times(running.history, e)) for e in ("db", "web", "app")] == [2, 2, 2]
        health = running.health("web")
        assert health is not None and health.is_success
        # `start` on an entry that is not held does nothing.
        before = len(running.history)
        await running.start("web")
        assert running.history[before:] == []
    check_invariants(system.entries, running.history)


async def test_restart_a_daemon_cascades_to_its_dependents_in_order() -> None:
    system = chain()
    async with system.build() as running:
        await running.wait_ready(timeout=10)
        await running.restart("web")
        # Returns once the entry has launched again (its process spawns next).
        assert running.state("web") is S.STARTING
        assert launches(running, "web") == 2
        assert signalled(running) == ["app", "web"]
        assert not running.entry_views[1].held
        await running.wait_ready(timeout=30)
        assert [len(spawn_times(running.history, e)) for e in ("db", "web", "app")] == [1, 2, 2]
        web_events = [e.event for e in running.history if isinstance(e, Transitioned)]
        assert E.HOLD in web_events and E.RELEASE in web_events
    check_invariants(system.entries, running.history)


async def test_restart_a_oneshot_runs_it_once_more_and_restarts_its_dependents() -> None:
    system = (
        Daemons.of()
        .add_oneshot("migrate", exec=finishes(1))
        .add_daemon("web", exec=forever(), ready=fast("Web"), requires=["migrate"])
    )
    async with system.build() as running:
        await running.wait_ready(timeout=10)
        await running.restart("migrate")
        assert running.state("migrate") is S.STARTING
        assert signalled(running) == ["web"]
        await running.wait_ready(timeout=30)
        assert len(spawn_times(running.history, "migrate")) == 2
        assert len(spawn_times(running.history, "web")) == 2
    check_invariants(system.entries, running.history)


async def test_restart_a_check_entry_restarts_checking_and_its_dependents() -> None:
    port = Switch()
    system = (
        Daemons.of()
        .add_health_check("port", ready=fast("Port", port))
        .add_daemon("web", exec=forever(), ready=fast("Web"), requires=["port"])
    )
    async with system.build() as running:
        await running.wait_ready(timeout=10)
        calls = port.calls
        await running.restart("port")
        assert running.state("port") is S.STARTING
        assert signalled(running) == ["web"]
        await running.wait_ready(timeout=30)
        assert port.calls > calls
        assert len(spawn_times(running.history, "web")) == 2
    check_invariants(system.entries, running.history)


def crashes(times: int) -> ExecFn:
    """Crashes at once on its first `times` runs, then runs until cancelled."""
    runs = [0]

    async def run(_: object) -> None:
        runs[0] += 1
        if runs[0] <= times:
            raise RuntimeError("boom")
        await anyio.sleep_forever()

    return ExecFn(run)


async def test_restart_resets_the_restart_count_and_clears_a_give_up() -> None:
    system = (
        Daemons.of()
        .add_daemon("db", exec=crashes(3), ready=fast("Database"), max_restarts=1)
        .add_daemon("web", exec=forever(), ready=fast("Web"), requires=["db"])
    )
    async with system.build() as running:
        with pytest.raises(GaveUpError):
            await running.wait_ready(timeout=60)
        assert running.state("db") is S.FAILING
        await running.restart("db")
        assert running.statistics().restarts["db"] == 0
        # The give-up is cleared: waiting no longer fails at once. The third
        # run crashes (one restart allowed), the fourth stays up.
        await running.wait_ready(timeout=60)
        assert running.statistics().restarts["db"] == 1
    check_invariants(system.entries, running.history)


async def test_actions_take_effect_in_call_order() -> None:
    system = chain(stop_delay=5)
    async with system.build() as running:
        await running.wait_ready(timeout=10)
        async with anyio.create_task_group() as group:
            group.start_soon(running.stop, "db")
            await settle(running, "db", S.STOPPING)
            await running.start("db")  # supersedes the pending stop
        await running.wait_ready(timeout=30)
        assert not running.entry_views[0].held
        # A restart, then a stop: it ends stopped.
        async with anyio.create_task_group() as group:
            group.start_soon(running.restart, "db")
            await settle(running, "db", S.STOPPING)
            await running.stop("db")  # supersedes the pending restart
        assert states(running) == {"db": S.STOPPED, "web": S.WAITING, "app": S.WAITING}
    check_invariants(system.entries, running.history)


async def test_term_overrides_pending_actions() -> None:
    system = chain(stop_delay=5)
    async with system.build() as running:
        await running.wait_ready(timeout=10)
        restart_error: list[BaseException] = []

        async def restart_db() -> None:
            try:
                await running.restart("db")
            except SystemTerminatingError as error:
                restart_error.append(error)

        async with anyio.create_task_group() as group:
            group.start_soon(restart_db)
            await settle(running, "db", S.STOPPING)
            group.start_soon(running.stop, "web")
            await running.wait_until(lambda: running.entry_views[1].held, timeout=10)
            await running.term()
        assert len(restart_error) == 1
        assert "'db'" in str(restart_error[0]) and restart_error[0].entry == "db"  # type: ignore[attr-defined]
        assert set(states(running).values()) == {S.STOPPED}
        assert len(spawn_times(running.history, "db")) == 1
    check_invariants(system.entries, running.history)


@pytest.mark.parametrize("action", ["stop", "start", "restart"])
async def test_an_action_after_term_raises(action: str) -> None:
    system = chain()
    async with system.build() as running:
        await running.wait_ready(timeout=10)
        await running.term()
        with pytest.raises(SystemTerminatingError, match=f"cannot {action} 'web'"):
            await getattr(running, action)("web")
    with pytest.raises(SystemTerminatingError):
        await getattr(running, action)("db")
    assert set(states(running).values()) == {S.STOPPED}
    check_invariants(system.entries, running.history)


@pytest.mark.parametrize("action", ["stop", "start", "restart"])
async def test_an_unknown_id_names_the_closest(action: str) -> None:
    system = chain()
    async with system.build() as running:
        with pytest.raises(KeyError, match="no entry 'wbe' in this system; did you mean 'web'"):
            await getattr(running, action)("wbe")
        with pytest.raises(KeyError, match=r"no entry 'zzzz' in this system\"?$"):
            await getattr(running, action)("zzzz")
        await running.wait_ready(timeout=10)


async def test_term_with_every_entry_held_ends() -> None:
    system = chain()
    async with system.build() as running:
        await running.wait_ready(timeout=10)
        await running.stop("db")
        await running.stop("web")
        await running.stop("app")
        assert set(states(running).values()) == {S.STOPPED}
        assert not running.statistics().terminating
    assert set(states(running).values()) == {S.STOPPED}
    check_invariants(system.entries, running.history)


async def test_an_action_needs_a_running_system() -> None:
    running = chain().build()
    with pytest.raises(RuntimeError, match="needs a running system"):
        await running.stop("db")


@pytest.mark.parametrize("kind", ["check", "daemon"])
async def test_restart_right_after_a_launch_checks_the_new_launch_only(kind: str) -> None:
    """Restarted before its tasks ran: the stopped launch's check loop must not
    take the new launch's scope (found by the property test)."""
    port = Switch()
    system = Daemons.of()
    if kind == "check":
        system = system.add_health_check("port", ready=fast("Port", port))
    else:
        system = system.add_daemon("port", exec=forever(), ready=fast("Port", port))
    system = system.add_daemon("web", exec=forever(), ready=fast("Web"), requires=["port"])
    async with system.build() as running:
        await running.restart("port")
        await running.restart("port")
        await running.wait_ready(timeout=10)
        assert launches(running, "port") == 3
    check_invariants(system.entries, running.history)
