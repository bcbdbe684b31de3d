"""Polled readiness keeps up with the start-ups it polls (issue 17, item 4): under
the default trigger a chain of daemons ready by checks is ready about as soon
as each link can be, whatever its start-up time (docs/spec.md section 5)."""

from __future__ import annotations

import anyio

from coordinator import Daemons, ExecFn, HealthCheckResult, Ready
from coordinator.triggers import RETRY_FRACTION
from statemachines import LifecycleEvent

from .support import first_time, spawn_times

START_UP = 0.1
"""How long after it runs each daemon of the chain takes to be ready."""
LINKS = 5


class Link:
    """A daemon that is ready `START_UP` seconds after it starts, and its check."""

    def __init__(self) -> None:
        self.started: float | None = None
        self.checks = 0

    async def run(self, _: object) -> None:
        self.started = anyio.current_time()
        await anyio.sleep_forever()

    def check(self) -> HealthCheckResult:
        self.checks += 1
        started = self.started
        if started is None or anyio.current_time() - started < START_UP:
            return HealthCheckResult.failure("starting up")
        return HealthCheckResult.success()


async def test_a_chain_ready_by_checks_is_seen_ready_soon_after_each_start_up(
    anyio_backend_name: str,
) -> None:
    links = [Link() for _ in range(LINKS)]
    system = Daemons.of()
    for i, link in enumerate(links):
        system = system.add_daemon(
            f"d{i}",
            exec=ExecFn(link.run),
            ready=Ready(f"Link {i}", link.check),
            requires=[f"d{i - 1}"] if i else [],
        )
    async with system.build() as running:
        await running.wait_ready(timeout=30)
        history = running.history
        await running.term()
    for i, link in enumerate(links):
        # 13 checks by the schedule (3 under the one before); on a real
        # clock fewer when the machine is slow, and a check or two more if
        # the checks began a little before the daemon's function ran.
        assert 2 <= link.checks <= 15, f"d{i}: {link.checks} checks"
        if anyio_backend_name == "trio":  # the mock clock: exact times
            (spawned,) = spawn_times(history, f"d{i}")
            ready = first_time(history, f"d{i}", LifecycleEvent.HEALTHY)
            assert link.started == spawned
            assert START_UP <= ready - spawned <= START_UP * (1 + RETRY_FRACTION)
            assert link.checks == 13
