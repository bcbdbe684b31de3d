"""Checks, grace periods, the host, hidden entries and triggers (docs/spec.md sections 1, 5, 7)."""

from __future__ import annotations

import inspect
import math
from collections.abc import AsyncGenerator, AsyncIterator

import anyio
import pytest

from coordinator import (
    Daemons,
    ErrorReported,
    Event,
    HealthCheckResult,
    HealthReported,
    HealthStatus,
    LifecycleState,
    Ready,
)
from coordinator._defaults import READY_TIMEOUT
from coordinator.checks import run_health_script
from coordinator.errors import InvalidEntryError
from coordinator.triggers import Trigger, cooldown_trigger

from .support import Switch, check_invariants, forever

S = LifecycleState


def test_health_results_compare_equal_to_their_strings() -> None:
    assert HealthCheckResult.success().result == "success"
    assert HealthCheckResult("failure", "down") == HealthCheckResult.failure("down")
    assert HealthCheckResult.loading("x").result is HealthStatus.LOADING
    assert HealthCheckResult.starting().result == "starting"
    assert HealthCheckResult.disabled().result == "disabled"
    assert HealthCheckResult.waiting().result == "waiting"
    with pytest.raises(ValueError, match="not-a-status"):
        HealthCheckResult("not-a-status")


async def test_a_failure_within_the_grace_period_is_reported_as_starting() -> None:
    check = Switch(ok=False, message="not listening yet")
    system = Daemons.of().add_daemon(
        "db",
        exec=forever(),
        ready=Ready("Database", check, grace_period=1.0, trigger=cooldown_trigger(0.02)),
    )
    async with system.build() as running:
        softened = HealthCheckResult.starting("not listening yet")
        assert await running.wait_until(lambda: running.health("db") == softened, timeout=5)
        assert running.state("db") is S.STARTING
        assert await running.wait_until(lambda: running.state("db") is S.FAILING, timeout=5)
        assert running.health("db") == HealthCheckResult.failure("not listening yet")
        check.ok = True
        assert await running.wait_until(lambda: running.state("db") is S.READY, timeout=5)


async def test_other_results_are_never_softened_within_grace() -> None:
    result = HealthCheckResult.loading("warming caches")
    system = Daemons.of().add_health_check(
        "cache", ready=Ready("Cache", lambda: result, grace_period=60)
    )
    async with system.build() as running:
        assert await running.wait_until(lambda: running.health("cache") == result, timeout=5)


@pytest.mark.parametrize("style", ["sync", "async"])
async def test_a_check_that_raises_is_a_failure_and_polling_goes_on(style: str) -> None:
    calls = [0]

    def sync_check() -> HealthCheckResult:
        calls[0] += 1
        if calls[0] < 3:
            raise ConnectionError("refused")
        return HealthCheckResult.success()

    async def async_check() -> HealthCheckResult:
        return sync_check()

    check = sync_check if style == "sync" else async_check
    system = Daemons.of().add_health_check(
        "db", ready=Ready("Database", check, grace_period=0, trigger=cooldown_trigger(0.02))
    )
    async with system.build() as running:
        assert await running.wait_until(
            lambda: running.health("db") == HealthCheckResult.failure("refused"), timeout=5
        )
        await running.wait_ready(timeout=5)


async def test_a_check_returning_the_wrong_type_is_a_failure() -> None:
    system = Daemons.of().add_health_check(
        "db",
        ready=Ready("Database", lambda: True, grace_period=0),  # type: ignore[arg-type,return-value]
    )
    async with system.build() as running:
        assert await running.wait_until(
            lambda: (
                running.health("db")
                == HealthCheckResult.failure("check returned bool, not a HealthCheckResult")
            ),
            timeout=5,
        )


class RaisingHost:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def set_health(self, report: HealthReported) -> None:
        raise RuntimeError("host is down")

    def record(self, event: Event) -> None:
        self.events.append(event)


async def test_a_host_that_raises_does_not_stop_the_system() -> None:
    host = RaisingHost()
    system = (
        Daemons.of(host=host)
        .add_daemon("db", exec=forever(), ready=Ready("Database", Switch()))
        .add_daemon("web", exec=forever(), ready=Ready("Web", Switch()), requires=["db"])
    )
    async with system.build() as running:
        await running.wait_ready(timeout=5)
    errors = [e for e in running.history if isinstance(e, ErrorReported)]
    assert errors
    assert "host is down" in errors[0].message
    assert host.events[: len(running.history)] == running.history[: len(host.events)]


async def test_hidden_entries_are_not_reported_but_still_gate_dependents() -> None:
    hidden = Switch(ok=False)
    system = (
        Daemons.of()
        .add_health_check("secret", ready=Ready(None, hidden, trigger=cooldown_trigger(0.02)))
        .add_health_check("web", ready=Ready("Web", Switch()), requires=["secret"])
    )
    async with system.build() as running:
        await anyio.sleep(0.1)
        assert running.state("web") is S.WAITING
        hidden.ok = True
        await running.wait_ready(timeout=5)
        assert set(running.host.health) == {"web"}  # type: ignore[attr-defined]


def _trigger_raising_when_iterated(last: object) -> AsyncIterator[None]:
    async def steps() -> AsyncGenerator[None]:
        yield
        raise RuntimeError("trigger bug")

    return steps()


def _trigger_raising_when_called(last: object) -> AsyncIterator[None]:
    raise RuntimeError("trigger bug")


def _trigger_returning_no_iterator(last: object) -> AsyncIterator[None]:
    return None  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("trigger", "error"),
    [
        (_trigger_raising_when_iterated, "RuntimeError('trigger bug')"),
        (_trigger_raising_when_called, "RuntimeError('trigger bug')"),
        (
            _trigger_returning_no_iterator,
            "TypeError(\"'NoneType' object is not an async iterator\")",
        ),
    ],
    ids=["when-iterated", "when-called", "no-iterator"],
)
async def test_a_trigger_that_raises_is_reported_and_replaced_by_the_default(
    trigger: Trigger, error: str
) -> None:
    switch = Switch(ok=False)
    system = (
        Daemons.of()
        .add_daemon("base", exec=forever(), ready=Ready("Base", Switch()))
        .add_daemon(
            "db",
            exec=forever(),
            ready=Ready("Database", switch, trigger=trigger),
            requires=["base"],
        )
        .add_daemon("web", exec=forever(), ready=Ready("Web", Switch()), requires=["db"])
    )
    async with system.build() as running:
        assert await running.wait_until(
            lambda: any(isinstance(e, ErrorReported) for e in running.history), timeout=5
        )
        switch.ok = True
        await running.wait_ready(timeout=5)
    errors = [(e.entry, e.message) for e in running.history if isinstance(e, ErrorReported)]
    assert errors == [("db", f"trigger failed: {error}; using the default trigger")]
    assert all(running.state(i) is S.STOPPED for i in running.ids)
    check_invariants(system.entries, running.history)


def test_a_check_call_is_bounded_by_default_above_the_built_in_checks_own_timeouts() -> None:
    ready = Ready("Database", Switch())
    assert ready.timeout == READY_TIMEOUT == 60
    script_default = inspect.signature(run_health_script).parameters["timeout"].default
    assert ready.timeout > script_default


@pytest.mark.parametrize("cancellation", ["kept", "made-an-error"])
async def test_a_check_that_hangs_fails_with_a_timeout_and_checks_go_on(cancellation: str) -> None:
    calls = [0]

    async def check() -> HealthCheckResult:
        calls[0] += 1
        if calls[0] > 2:
            return HealthCheckResult.success()
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            if cancellation == "kept":
                raise
            raise RuntimeError("interrupted") from None
        raise AssertionError("not reached")

    system = Daemons.of().add_health_check(
        "db",
        ready=Ready("Database", check, grace_period=0, timeout=0.5, trigger=cooldown_trigger(0.1)),
    )
    timed_out = HealthCheckResult.failure("health check timed out after 0.5 s")
    async with system.build() as running:
        started = anyio.current_time()
        assert await running.wait_until(lambda: running.health("db") == timed_out, timeout=10)
        assert anyio.current_time() - started >= 0.5
        assert running.state("db") is S.FAILING
        await running.wait_ready(timeout=10)


@pytest.mark.parametrize("timeout", [0, -1, math.inf, math.nan, "1", True, None])
def test_a_bad_check_timeout_is_refused_naming_the_entry(timeout: object) -> None:
    with pytest.raises(InvalidEntryError, match=r"ready\.timeout must be a (finite )?number") as e:
        Daemons.of().add_health_check(
            "db",
            ready=Ready("Database", Switch(), timeout=timeout),  # type: ignore[arg-type]
        )
    assert e.value.entry == "db"
    assert "'db'" in str(e.value)
