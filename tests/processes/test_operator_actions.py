"""Operator actions on real processes (docs/spec.md section 10): a `sh` chain."""

from __future__ import annotations

from coordinator import Command, Daemons, HealthCheckResult, LifecycleState, ProcessSignalled
from coordinator.testing import check_invariants

from .helpers import alive, always_ready, last_pid, pids, poll_until, quick

S = LifecycleState


def shell_daemon() -> Command:
    # `exec sleep` would do; a shell that waits on its child is the usual service script.
    return Command(["sh", "-c", "sleep 1000 & wait"], sigterm_timeout=5)


async def test_stop_start_restart_on_a_real_sh_chain() -> None:
    system = (
        Daemons.of()
        .add_daemon("db", exec=shell_daemon(), ready=always_ready("Database", grace_period=0))
        .add_daemon(
            "web",
            exec=shell_daemon(),
            ready=quick(HealthCheckResult.success, "Web"),
            requires=["db"],
        )
    )
    async with system.build() as running:
        await running.wait_ready(timeout=20)
        db_pid, web_pid = last_pid(running, "db"), last_pid(running, "web")

        await running.stop("db")
        signalled = [e.entry for e in running.history if isinstance(e, ProcessSignalled)]
        assert signalled == ["web", "db"]  # web first, then db
        assert running.state("db") is S.STOPPED and running.state("web") is S.WAITING
        health = running.health("web")
        assert health is not None and health.message == "Database (stopped)"
        await poll_until(lambda: not alive(db_pid) and not alive(web_pid))

        await running.start("db")
        await running.wait_ready(timeout=20)
        assert len(pids(running.history, "db")) == len(pids(running.history, "web")) == 2

        web_pid = last_pid(running, "web")
        await running.restart("web")
        await poll_until(lambda: len(pids(running.history, "web")) == 3, timeout=20)
        assert last_pid(running, "web") != web_pid
        await poll_until(lambda: not alive(web_pid))
        await running.wait_ready(timeout=20)
        assert len(pids(running.history, "db")) == 2
    check_invariants(system.entries, running.history)
