"""How an entry's run ends and restarts (docs/spec.md section 4): restart
policies, ending the whole run on one entry, the start timeout, the liveness
check, and oneshots that run once.

Coordinator logic with in-process daemons on trio's mock clock; the same
features with real processes are in tests/processes/test_run_policies_real.py.
"""

from __future__ import annotations

import itertools
from typing import Any

import anyio
import pytest
import trio.testing

from coordinator import (
    Daemons,
    ExecFn,
    HealthReported,
    Liveness,
    ProcessSignalled,
    Ready,
    RestartPolicy,
    RunEnded,
    Transitioned,
)
from coordinator.errors import GaveUpError, InvalidEntryError
from statemachines import LifecycleEvent, LifecycleState

from .support import Switch, check_invariants, finishes, forever, spawn_times

S = LifecycleState


@pytest.fixture
def anyio_backend() -> object:
    return ("trio", {"clock": trio.testing.MockClock(autojump_threshold=0)})


def exits(after: float, *, error: bool = False) -> ExecFn:
    """A daemon that returns (an exit 0) or raises (a crash) after `after` seconds."""

    async def run(_: object) -> None:
        await anyio.sleep(after)
        if error:
            raise RuntimeError("boom")

    return ExecFn(run)


def transitions(running: object, entry: str) -> list[tuple[str, str, str]]:
    history = running.history  # type: ignore[attr-defined]
    return [
        (e.event.value, e.source.value, e.dest.value)
        for e in history
        if isinstance(e, Transitioned) and e.entry == entry
    ]


def stopped_at(running: object, entry: str) -> float:
    history = running.history  # type: ignore[attr-defined]
    return next(
        e.at
        for e in history
        if isinstance(e, Transitioned) and e.entry == entry and e.dest is S.STOPPED
    )


# Restart policies.


@pytest.mark.parametrize("policy", ["on-failure", "no"])
async def test_an_exit_0_ends_a_daemon_whose_policy_says_so(policy: RestartPolicy) -> None:
    system = (
        Daemons.of()
        .add_daemon("db", exec=exits(5), ready=Ready("Db", Switch()), restart=policy)
        .add_daemon("web", exec=forever(), ready=Ready("Web", Switch()), requires=["db"])
    )
    async with system.build() as running:
        await anyio.sleep(60)
        assert running.state("db") is S.STOPPED
        assert running.state("web") is S.WAITING  # its dependency is gone for good
        assert len(spawn_times(running.history, "db")) == 1
        assert ("finish", "ready", "stopping") in transitions(running, "db")
        health = running.health("db")
        assert health is not None and health.message == (
            f'db daemon exited; not restarted (restart = "{policy}")'
        )
        # An operator's start runs it again.
        await running.start("db")
        await running.wait_until(lambda: running.state("web") is S.READY, 10)
        assert len(spawn_times(running.history, "db")) == 2
    check_invariants(system.entries, running.history)


async def test_on_failure_restarts_a_crash() -> None:
    system = Daemons.of().add_daemon(
        "db", exec=exits(5, error=True), ready=Ready("Db", Switch()), restart="on-failure"
    )
    async with system.build() as running:
        await anyio.sleep(30)
        assert len(spawn_times(running.history, "db")) >= 3
        assert running.state("db") is not S.STOPPED


async def test_restart_no_gives_up_at_the_first_crash() -> None:
    system = (
        Daemons.of()
        .add_daemon("db", exec=exits(5, error=True), ready=Ready("Db", Switch()), restart="no")
        .add_daemon("web", exec=forever(), ready=Ready("Web", Switch()), requires=["db"])
    )
    async with system.build() as running:
        await anyio.sleep(60)
        assert running.state("db") is S.FAILING
        assert running.gave_up == ("db",)
        health = running.health("db")
        assert health is not None and health.message == (
            'db daemon crashed: RuntimeError: boom; not restarted (restart = "no")'
        )
        assert running.state("web") is S.WAITING
        assert len(spawn_times(running.history, "db")) == 1
    check_invariants(system.entries, running.history)


# Ending the run on one entry.


async def test_exit_on_failure_ends_the_run_when_a_daemon_gives_up() -> None:
    system = (
        Daemons.of()
        .add_daemon(
            "db",
            exec=exits(5, error=True),
            ready=Ready("Db", Switch()),
            max_restarts=1,
            exit_on_failure=True,
        )
        .add_daemon("cache", exec=forever(), ready=Ready("Cache", Switch()))
        .add_daemon("web", exec=forever(), ready=Ready("Web", Switch()), requires=["cache"])
    )
    async with system.build() as running:
        await running.wait_stopped()
        ended = running.ended_by
        assert ended is not None
        assert (ended.entry, ended.returncode) == ("db", 1)
        assert ended.reason == "db: gave up after 1 restarts"
        assert [e for e in running.history if isinstance(e, RunEnded)] == [ended]
        # In order: web before cache.
        assert stopped_at(running, "web") <= stopped_at(running, "cache")
    check_invariants(system.entries, running.history)


async def test_a_oneshot_with_exit_on_failure_is_not_retried() -> None:
    system = (
        Daemons.of()
        .add_daemon("db", exec=forever(), ready=Ready("Db", Switch()))
        .add_oneshot("tests", exec=finishes(2, fail_times=5), requires=["db"], exit_on_failure=True)
    )
    async with system.build() as running:
        await running.wait_stopped()
    assert running.ended_by is not None and running.ended_by.entry == "tests"
    assert running.ended_by.reason == "tests: tests oneshot crashed: RuntimeError: run 1 failed"
    assert len(spawn_times(running.history, "tests")) == 1
    check_invariants(system.entries, running.history)


@pytest.mark.parametrize(("fail_times", "code"), [(0, 0), (1, 1)])
async def test_exit_code_from_ends_the_run_at_the_first_exit(fail_times: int, code: int) -> None:
    system = (
        Daemons.of()
        .add_daemon("db", exec=forever(), ready=Ready("Db", Switch()))
        .add_oneshot("tests", exec=finishes(3, fail_times=fail_times), requires=["db"])
    )
    async with system.build(exit_code_from="tests") as running:
        await running.wait_stopped()
    assert running.ended_by is not None
    assert (running.ended_by.entry, running.ended_by.returncode) == ("tests", code)
    assert len(spawn_times(running.history, "tests")) == 1
    check_invariants(system.entries, running.history)


async def test_the_first_entry_to_end_the_run_is_kept() -> None:
    system = Daemons.of().add_oneshot("a", exec=finishes(1)).add_oneshot("b", exec=finishes(2))
    async with system.build(exit_code_from="a") as running:
        await running.wait_stopped()
    assert running.ended_by is not None and running.ended_by.entry == "a"


def test_exit_code_from_must_name_an_entry_with_a_process() -> None:
    system = (
        Daemons.of()
        .add_oneshot("tests", exec=finishes())
        .add_health_check("up", ready=Ready("Up", Switch()))
    )
    with pytest.raises(ValueError, match=r"^exit_code_from: no entry 'test'; did you mean 'tests'"):
        system.build(exit_code_from="test")
    with pytest.raises(ValueError, match="'up' is a check, which runs no process"):
        system.build(exit_code_from="up")


def test_exit_on_failure_needs_a_daemon_that_can_fail_for_good() -> None:
    with pytest.raises(
        InvalidEntryError, match='exit_on_failure needs max_restarts or restart="no"'
    ):
        Daemons.of().add_daemon(
            "db", exec=forever(), ready=Ready("Db", Switch()), exit_on_failure=True
        )
    Daemons.of().add_daemon(
        "db", exec=forever(), ready=Ready("Db", Switch()), exit_on_failure=True, restart="no"
    )


def test_bad_policies_are_refused_with_the_entry_named() -> None:
    bad: list[Any] = [{"restart": "sometimes"}, {"liveness": Switch()}]
    with pytest.raises(InvalidEntryError, match=r"^daemon 'db': restart must be one of"):
        Daemons.of().add_daemon("db", exec=forever(), ready=Ready("Db", Switch()), **bad[0])
    with pytest.raises(InvalidEntryError, match="liveness must be a Liveness, not Switch"):
        Daemons.of().add_daemon("db", exec=forever(), ready=Ready("Db", Switch()), **bad[1])
    oneshot: Any = {"exec": finishes(), "once": "yes"}
    with pytest.raises(InvalidEntryError, match="once must be a boolean, not str"):
        Daemons.of().add_oneshot("m", **oneshot)


# The start timeout and the liveness check.


async def test_a_daemon_never_ready_is_restarted_after_its_start_timeout() -> None:
    never = Switch(ok=False)
    system = Daemons.of().add_daemon(
        "app", exec=forever(), ready=Ready("App", never), start_timeout=20, max_restarts=2
    )
    async with system.build() as running:
        await anyio.sleep(120)
        spawns = spawn_times(running.history, "app")
        assert len(spawns) == 3
        # 20 s each, plus the backoff (0, then 1 s) between them.
        assert [round(b - a) for a, b in itertools.pairwise(spawns)] == [20, 21]
        assert running.state("app") is S.FAILING
        assert running.gave_up == ("app",)
        reports = [e.message for e in running.history if isinstance(e, HealthReported)]
        assert "app daemon restarted: not ready 20 s after it started" in reports


async def test_a_daemon_ready_in_time_is_left_alone() -> None:
    system = Daemons.of().add_daemon(
        "app", exec=forever(), ready=Ready("App", Switch()), start_timeout=1
    )
    async with system.build() as running:
        await anyio.sleep(100)
        assert len(spawn_times(running.history, "app")) == 1
        assert running.state("app") is S.READY


async def test_a_failing_liveness_check_restarts_the_daemon() -> None:
    alive = Switch()
    system = (
        Daemons.of()
        .add_daemon(
            "app",
            exec=forever(),
            ready=Ready("App", Switch()),
            liveness=Liveness(alive, interval=10, failures=3),
        )
        .add_daemon("web", exec=forever(), ready=Ready("Web", Switch()), requires=["app"])
    )
    async with system.build() as running:
        await running.wait_ready(5)
        await anyio.sleep(100)
        assert len(spawn_times(running.history, "app")) == 1  # alive: left alone
        alive.ok = False
        failed_at = anyio.current_time()
        await running.wait_until(lambda: len(spawn_times(running.history, "app")) == 2, 100)
        # Three failures 10 s apart, then the stop (cancelled at once).
        assert anyio.current_time() - failed_at <= 31
        signalled = [
            e.signal
            for e in running.history
            if isinstance(e, ProcessSignalled) and e.entry == "app"
        ]
        assert signalled == ["cancel"]
        assert running.statistics().restarts["app"] == 1
        # Its dependents follow, as after any exit of a dependency.
        assert ("dependency_lost", "ready", "stopping") in transitions(running, "web")
        alive.ok = True
        await running.wait_ready(10)
    check_invariants(system.entries, running.history)


async def test_liveness_waits_for_the_first_ready() -> None:
    ready = Switch(ok=False)
    system = Daemons.of().add_daemon(
        "app",
        exec=forever(),
        ready=Ready("App", ready),
        liveness=Liveness(Switch(ok=False), interval=1, failures=1),
    )
    async with system.build() as running:
        await anyio.sleep(60)
        assert len(spawn_times(running.history, "app")) == 1
        ready.ok = True
        await running.wait_until(lambda: len(spawn_times(running.history, "app")) == 2, 10)
        reports = [str(e.message) for e in running.history if isinstance(e, HealthReported)]
        assert any(
            r.startswith("app daemon restarted: liveness check failed once") for r in reports
        )


# Oneshots that run once.


async def test_a_once_oneshot_stays_ready_through_a_lost_dependency() -> None:
    db_ok = Switch()
    system = (
        Daemons.of()
        .add_daemon("db", exec=forever(), ready=Ready("Db", db_ok))
        .add_oneshot("migrate", exec=finishes(1), requires=["db"], once=True)
        .add_daemon("app", exec=forever(), ready=Ready("App", Switch()), requires=["db", "migrate"])
    )
    async with system.build() as running:
        await running.wait_ready(10)
        db_ok.ok = False
        await running.wait_until(lambda: running.state("app") is S.WAITING, 100)
        assert running.state("migrate") is S.READY
        db_ok.ok = True
        await running.wait_ready(100)
        # A restart of the dependency: the dependents stop, migrate does not.
        await running.restart("db")
        await running.wait_ready(100)
        assert running.state("migrate") is S.READY
        assert len(spawn_times(running.history, "migrate")) == 1
        assert len(spawn_times(running.history, "app")) == 3
        # An operator's restart runs it again.
        await running.restart("migrate")
        await running.wait_ready(100)
        assert len(spawn_times(running.history, "migrate")) == 2
    check_invariants(system.entries, running.history)


async def test_a_done_oneshot_does_not_hold_up_its_dependency_stop() -> None:
    system = (
        Daemons.of()
        .add_daemon("db", exec=forever(), ready=Ready("Db", Switch()))
        .add_oneshot("migrate", exec=finishes(1), requires=["db"], once=True)
    )
    async with system.build() as running:
        await running.wait_ready(10)
        await running.stop("db")  # would wait for ever if migrate still counted
        assert running.state("db") is S.STOPPED
        assert running.state("migrate") is S.READY
    events = [(e.entry, e.event) for e in running.history if isinstance(e, Transitioned)]
    assert ("migrate", LifecycleEvent.TERM) in events
    check_invariants(system.entries, running.history)


async def test_a_oneshot_without_once_runs_again() -> None:
    system = (
        Daemons.of()
        .add_daemon("db", exec=forever(), ready=Ready("Db", Switch()))
        .add_oneshot("migrate", exec=finishes(1), requires=["db"])
    )
    async with system.build() as running:
        await running.wait_ready(10)
        await running.restart("db")
        await running.wait_ready(100)
        assert len(spawn_times(running.history, "migrate")) == 2


# What the review found.


async def test_a_restart_reason_does_not_outlive_its_process() -> None:
    # The watchdog stops a process slow to stop; an operator's stop and start
    # come before its exit. The next process's crash is its own (restart "no":
    # it gives up), not the watchdog's restart of the one before.
    runs = [0]

    async def run(_: object) -> None:
        runs[0] += 1
        if runs[0] > 1:
            raise RuntimeError("boom")
        try:
            await anyio.sleep_forever()
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.sleep(3)

    system = Daemons.of().add_daemon(
        "app",
        exec=ExecFn(run, sigterm_timeout=10),
        ready=Ready("App", Switch(ok=False)),
        start_timeout=1,
        restart="no",
    )
    async with system.build() as running:
        await anyio.sleep(1.5)  # the watchdog has told it to stop
        await running.stop("app")
        await running.start("app")
        await running.wait_until(lambda: running.gave_up == ("app",), 10)
        assert len(spawn_times(running.history, "app")) == 2
        health = running.health("app")
        assert health is not None and health.message is not None
        assert health.message.startswith("app daemon crashed")


async def test_wait_ready_ends_when_a_daemon_ended_for_good() -> None:
    never = Ready("Job", Switch(ok=False))
    system = Daemons.of().add_daemon("job", exec=exits(1), ready=never, restart="no")
    async with system.build() as running:
        with pytest.raises(GaveUpError, match=r"^job ended, not to be restarted; not ready:"):
            await running.wait_ready(60)


async def test_exit_code_from_ends_the_run_when_what_it_requires_cannot_run() -> None:
    system = (
        Daemons.of()
        .add_daemon(
            "web", exec=exits(1, error=True), ready=Ready("Web", Switch(ok=False)), restart="no"
        )
        .add_oneshot("tests", exec=finishes(1), requires=["web"])
    )
    async with system.build(exit_code_from="tests") as running:
        await running.wait_stopped()
    assert running.ended_by is not None
    assert (running.ended_by.entry, running.ended_by.returncode) == ("web", 1)
    assert running.ended_by.reason == "tests cannot run: web gave up"
    assert spawn_times(running.history, "tests") == []
