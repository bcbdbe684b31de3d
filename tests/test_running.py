"""Starting in dependency order, losing a dependency, recovering (docs/spec.md section 4)."""

from __future__ import annotations

import math

import anyio
import pytest

from coordinator import Daemons, ExecFn, HealthStatus, LifecycleState, Ready
from coordinator.errors import GaveUpError, SystemTerminatedError, WaitTimeoutError
from coordinator.triggers import cooldown_trigger
from statemachines import LifecycleEvent

from .support import (
    Switch,
    check_invariants,
    finishes,
    first_time,
    forever,
    spawn_times,
    transitions,
)

L = LifecycleEvent
S = LifecycleState
FAST = cooldown_trigger(0.01)


def test_build_is_a_context_manager_that_only_runs_once() -> None:
    async def main() -> None:
        running = Daemons.of().build()
        async with running:
            pass
        with pytest.raises(RuntimeError, match="entered only once"):
            async with running:
                pass

    anyio.run(main)


async def test_entries_start_in_dependency_order_and_become_ready() -> None:
    system = (
        Daemons.of()
        .add_daemon("db", exec=forever(), ready=Ready("Database", Switch()))
        .add_oneshot("migrate", exec=finishes(0.01), requires=["db"])
        .add_daemon("web", exec=forever(), ready=Ready("Web", Switch()), requires=["migrate"])
        .add_health_check("smoke", ready=Ready("Smoke", Switch()), requires=["web", "db"])
    )
    async with system.build() as running:
        await running.wait_ready(timeout=5)
        assert {i: running.state(i) for i in running.ids} == dict.fromkeys(running.ids, S.READY)
        assert running.health("web") is not None
        assert running.health("web").result is HealthStatus.SUCCESS  # type: ignore[union-attr]
    launches = [e for e, event, _ in transitions(running.history) if event == "launch"]
    assert launches == ["db", "migrate", "web", "smoke"]
    check_invariants(system.entries, running.history)


async def test_each_entry_starts_as_soon_as_its_own_dependencies_are_ready() -> None:
    slow = Switch(ok=False)
    system = (
        Daemons.of()
        .add_health_check("fast", ready=Ready("Fast", Switch(), trigger=FAST))
        .add_health_check("slow", ready=Ready("Slow", slow, trigger=FAST))
        .add_daemon("user", exec=forever(), ready=Ready("User", Switch()), requires=["fast"])
    )
    async with system.build() as running:
        assert await running.wait_until(lambda: running.state("user") is S.READY, timeout=5)
        # "user" did not wait for "slow", which is not even ready yet.
        assert running.state("slow") is S.STARTING
        slow.ok = True
        await running.wait_ready(timeout=5)


async def test_a_dependent_reports_the_pending_dependencies_display_names() -> None:
    system = (
        Daemons.of()
        .add_health_check("db", ready=Ready("Database", Switch(ok=False), trigger=FAST))
        .add_health_check("cache", ready=Ready("Cache", Switch(ok=False), trigger=FAST))
        .add_health_check("hidden", ready=Ready(None, Switch(ok=False), trigger=FAST))
        .add_health_check("web", ready=Ready("Web", Switch()), requires=["db", "hidden", "cache"])
    )
    async with system.build() as running:
        await anyio.sleep(0.05)
        health = running.health("web")
        assert health is not None
        assert health.result is HealthStatus.WAITING
        assert health.message == "Database, Cache"
        reported = running.host.health  # type: ignore[attr-defined]
        assert "hidden" not in reported
        assert reported["web"].message == "Database, Cache"


async def test_losing_a_dependency_stops_dependents_first_and_restarts_them_fresh() -> None:
    db = Switch()
    system = (
        Daemons.of()
        .add_daemon("db", exec=forever(), ready=Ready("Database", db, trigger=FAST))
        .add_daemon("api", exec=forever(0.02), ready=Ready("Api", Switch()), requires=["db"])
        .add_daemon("web", exec=forever(0.02), ready=Ready("Web", Switch()), requires=["api"])
    )
    async with system.build() as running:
        await running.wait_ready(timeout=5)
        db.ok = False
        assert await running.wait_until(
            lambda: running.state("api") is S.WAITING and running.state("web") is S.WAITING,
            timeout=5,
        )
        assert running.state("db") is S.FAILING
        history = running.history
        # Both dependents entered `stopping` in the step where db left `ready`.
        lost = [e for e in history if getattr(e, "event", None) is L.DEPENDENCY_LOST]
        assert {e.entry for e in lost} == {"api", "web"}
        assert first_time(history, "web", L.GONE) <= first_time(history, "api", L.SIGNAL)
        db.ok = True
        await running.wait_ready(timeout=5)
        # A fresh process each, not the old one.
        assert len(spawn_times(running.history, "api")) == 2
        assert len(spawn_times(running.history, "web")) == 2
        # The database itself was never stopped: only its check failed.
        assert len(spawn_times(running.history, "db")) == 1
    check_invariants(system.entries, running.history)


async def test_wait_ready_times_out_naming_the_entries_not_ready() -> None:
    system = (
        Daemons.of()
        .add_health_check("db", ready=Ready("Database", Switch(ok=False), trigger=FAST))
        .add_health_check("web", ready=Ready("Web", Switch()), requires=["db"])
        .add_health_check("ok", ready=Ready("Ok", Switch()))
    )
    async with system.build() as running:
        with pytest.raises(WaitTimeoutError) as caught:
            await running.wait_ready(timeout=0.2)
    assert str(caught.value) == (
        "Timed out waiting for db, web\n  db: starting: switched off\n  web: waiting for Database"
    )
    assert caught.value.not_ready == ("db", "web")
    assert caught.value.reasons == {"db": "starting: switched off", "web": "waiting for Database"}
    assert isinstance(caught.value, TimeoutError)


@pytest.mark.parametrize("timeout", [float("nan"), -1.0, -math.inf, "5", True])
@pytest.mark.parametrize("method", ["wait_ready", "wait_until"])
async def test_waits_refuse_a_timeout_that_is_not_a_duration(method: str, timeout: object) -> None:
    """One rule for both waits (`wait_until` let -1 return False at once, and
    NaN reach anyio's own error)."""
    system = Daemons.of().add_health_check("db", ready=Ready("Database", Switch()))
    async with system.build() as running:
        wait = (
            running.wait_ready(timeout)  # type: ignore[arg-type]
            if method == "wait_ready"
            else running.wait_until(lambda: False, timeout)  # type: ignore[arg-type]
        )
        with pytest.raises(ValueError, match=r"^timeout must be a number of seconds >= 0 or None"):
            await wait


async def test_waits_take_infinity_as_no_limit() -> None:
    system = Daemons.of().add_health_check("db", ready=Ready("Database", Switch()))
    async with system.build() as running:
        await running.wait_ready(math.inf)
        assert await running.wait_until(lambda: True, math.inf)


def crashes(runs: list[float]) -> ExecFn:
    """A daemon that crashes at once, every time."""

    async def run(_: object) -> None:
        runs.append(anyio.current_time())
        raise RuntimeError("boom")

    return ExecFn(run)


async def test_wait_ready_fails_as_soon_as_an_entry_gives_up() -> None:
    runs: list[float] = []
    system = (
        Daemons.of()
        .add_daemon("db", exec=forever(), ready=Ready("Database", Switch()))
        .add_daemon("app", exec=crashes(runs), ready=Ready("App", Switch(ok=False)), max_restarts=2)
        .add_daemon("web", exec=forever(), ready=Ready("Web", Switch()), requires=["app"])
    )
    async with system.build() as running:
        start = anyio.current_time()
        assert not running.gave_up
        with pytest.raises(GaveUpError) as caught:
            await running.wait_ready(timeout=600)
        waited = anyio.current_time() - start
        assert running.gave_up == ("app",)
    assert len(runs) == 3
    assert waited < 10  # the backoff (0, 1, 2 s), not the timeout
    error = caught.value
    assert error.gave_up == ("app",)
    assert error.not_ready == ("app", "web")
    assert error.reasons == {"app": "failing: gave up after 2 restarts", "web": "waiting for App"}
    assert str(error).splitlines() == [
        "app gave up; not ready: app, web",
        "  app: failing: gave up after 2 restarts",
        "  web: waiting for App",
    ]


async def test_run_until_success_fails_when_an_entry_gives_up() -> None:
    system = Daemons.of().add_daemon(
        "app", exec=crashes([]), ready=Ready("App", Switch(ok=False)), max_restarts=0
    )
    with pytest.raises(GaveUpError, match="app: failing: gave up after 0 restarts"):
        await system.run_until_success(timeout=600)


async def test_the_timeout_names_a_crashing_entrys_last_message() -> None:
    system = Daemons.of().add_daemon(
        "app",
        exec=crashes([]),
        ready=Ready("App", Switch(ok=False, message="refused"), grace_period=0.1),
    )
    async with system.build() as running:
        with pytest.raises(WaitTimeoutError) as caught:
            await running.wait_ready(timeout=1.5)
    assert caught.value.reasons["app"] in {
        "failing: refused",
        "failing: app daemon crashed: RuntimeError: boom",
    }


async def test_wait_ready_fails_once_the_system_is_terminating() -> None:
    system = Daemons.of().add_health_check("db", ready=Ready("Database", Switch(ok=False)))
    async with system.build() as running, anyio.create_task_group() as group:

        async def wait() -> None:
            with pytest.raises(SystemTerminatedError, match="Terminated while waiting for db"):
                await running.wait_ready()

        group.start_soon(wait)
        await anyio.sleep(0.01)
        await running.term()


async def test_run_until_success_returns_after_everything_was_ready_and_stopped() -> None:
    system = (
        Daemons.of()
        .add_daemon("db", exec=forever(), ready=Ready("Database", Switch()))
        .add_oneshot("migrate", exec=finishes(0.01), requires=["db"])
    )
    await system.run_until_success(timeout=5)


async def test_run_until_success_timeout_terms_and_names_what_was_not_ready() -> None:
    system = (
        Daemons.of()
        .add_daemon("db", exec=forever(), ready=Ready("Database", Switch()))
        .add_daemon("web", exec=forever(), ready=Ready("Web", Switch(ok=False)), requires=["db"])
        .add_daemon("api", exec=forever(), ready=Ready("Api", Switch()), requires=["web"])
    )
    with pytest.raises(WaitTimeoutError) as caught:
        await system.run_until_success(timeout=0.2)
    assert str(caught.value).splitlines()[0] == "Timed out waiting for web, api"
    assert caught.value.reasons == {"web": "starting: switched off", "api": "waiting for Web"}


async def test_oneshot_runs_once_and_stays_ready() -> None:
    runs: list[float] = []

    async def once(_: object) -> None:
        runs.append(anyio.current_time())

    system = (
        Daemons.of()
        .add_oneshot("migrate", exec=ExecFn(once))
        .add_health_check(
            "after", ready=Ready("After", Switch(), trigger=FAST), requires=["migrate"]
        )
    )
    async with system.build() as running:
        await running.wait_ready(timeout=5)
        await anyio.sleep(0.1)
        assert running.state("migrate") is S.READY
    assert len(runs) == 1


async def test_a_crashing_oneshot_is_failing_retried_and_gates_its_dependents() -> None:
    system = (
        Daemons.of()
        .add_oneshot("migrate", exec=finishes(fail_times=2))
        .add_health_check("web", ready=Ready("Web", Switch()), requires=["migrate"])
    )
    async with system.build() as running:
        assert await running.wait_until(lambda: running.state("migrate") is S.FAILING, timeout=10)
        health = running.health("migrate")
        assert health is not None
        assert health.message is not None
        assert health.message.startswith("migrate oneshot crashed: RuntimeError: run ")
        assert running.state("web") is S.WAITING
        await running.wait_ready(timeout=10)
    spawns = spawn_times(running.history, "migrate")
    assert len(spawns) == 3
    # First retry at once, the second after a second.
    assert spawns[1] - spawns[0] < 0.5
    assert spawns[2] - spawns[1] >= 1.0
    assert first_time(running.history, "web", L.LAUNCH) >= spawns[2]
    check_invariants(system.entries, running.history)
