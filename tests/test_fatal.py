"""User code that raises what ends a program (`KeyboardInterrupt`, `SystemExit`,
any `BaseException` that is not a cancellation): the system stops in order,
dependents first, and then the same exception comes out of its block.

Before, such an exception escaped a task of the system: on asyncio that stops
the event loop at once (and `Runner.close` then waited for ever on the
shielded tasks), and on both backends the entries were cancelled out of order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import anyio
import anyio.lowlevel
import pytest

from coordinator import (
    Command,
    Daemons,
    ErrorReported,
    Event,
    ExecFn,
    HealthCheckResult,
    HealthReported,
    LifecycleState,
    ProcessSpawned,
    Ready,
    RunningDaemons,
    SubContainer,
    Transitioned,
)
from coordinator._fatal import is_fatal
from coordinator.testing import StartSystem
from coordinator.triggers import cooldown_trigger
from statemachines import LifecycleEvent

from .support import Switch, check_invariants, forever

S = LifecycleState


class Shutdown(BaseException):
    """A program's own `BaseException`."""


KINDS = [KeyboardInterrupt, SystemExit, Shutdown]


class Raiser:
    """Raises `error` on the call that `armed()` allows, once."""

    def __init__(self, error: BaseException) -> None:
        self.error = error
        self.armed = False
        self.raised = False

    def __call__(self) -> None:
        if self.armed and not self.raised:
            self.raised = True
            raise self.error


def chain(middle_exec: ExecFn | None = None, middle_ready: Ready | None = None) -> Daemons:
    """base <- mid <- top; each takes a while to stop, so an order shows."""
    system = Daemons.of().add_daemon("base", exec=forever(0.2), ready=Ready("Base", Switch()))
    if middle_exec is None:
        assert middle_ready is not None
        system = system.add_health_check("mid", ready=middle_ready, requires=["base"])
    else:
        system = system.add_daemon(
            "mid",
            exec=middle_exec,
            ready=middle_ready or Ready("Mid", Switch()),
            requires=["base"],
        )
    return system.add_daemon(
        "top", exec=forever(0.2), ready=Ready("Top", Switch()), requires=["mid"]
    )


def stopped_order(history: list[Event]) -> list[str]:
    return [e.entry for e in history if isinstance(e, Transitioned) and e.dest is S.STOPPED]


async def run_until_raised(system: Daemons, raiser: Raiser) -> list[Event]:
    """Run until ready, arm the raiser, and wait in the block for ever: only
    the system may end the block. Returns the history."""
    running = system.build()

    async def block() -> None:
        async with running:
            await running.wait_ready(timeout=10)
            raiser.armed = True
            await anyio.sleep_forever()

    with anyio.fail_after(30):  # mock clock on trio: a hang fails at once
        with pytest.raises(type(raiser.error)) as raised:
            await block()
    assert raised.value is raiser.error  # itself, not in an exception group
    assert all(running.state(i) is S.STOPPED for i in running.ids)
    history = list(running.history)
    check_invariants(system.entries, history)
    return history


def fatal_errors(history: list[Event]) -> list[tuple[str | None, str]]:
    return [
        (e.entry, e.message)
        for e in history
        if isinstance(e, ErrorReported) and "stopping the system" in e.message
    ]


@pytest.mark.parametrize("kind", KINDS)
async def test_an_exec_fn_raising_it_stops_the_system_in_order(kind: type[BaseException]) -> None:
    raiser = Raiser(kind("from exec"))

    async def mid(_: object) -> None:
        while True:
            await anyio.sleep(0.05)
            raiser()

    history = await run_until_raised(chain(ExecFn(mid)), raiser)
    assert fatal_errors(history) == [("mid", f"exec raised {raiser.error!r}; stopping the system")]
    assert stopped_order(history) == ["top", "mid", "base"]
    # Not restarted: the system was stopping by the time its exit was seen.
    spawns = [e for e in history if isinstance(e, ProcessSpawned) and e.entry == "mid"]
    assert len(spawns) == 1


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("style", ["sync", "async"])
async def test_a_check_raising_it_stops_the_system_in_order(
    kind: type[BaseException], style: str
) -> None:
    raiser = Raiser(kind("from check"))

    def sync_check() -> HealthCheckResult:
        raiser()
        return HealthCheckResult.success()

    async def async_check() -> HealthCheckResult:
        await anyio.lowlevel.checkpoint()
        return sync_check()

    check = sync_check if style == "sync" else async_check
    ready = Ready("Mid", check, trigger=cooldown_trigger(0.05))
    history = await run_until_raised(chain(middle_ready=ready), raiser)
    assert fatal_errors(history) == [("mid", f"check raised {raiser.error!r}; stopping the system")]
    assert stopped_order(history) == ["top", "mid", "base"]


@pytest.mark.parametrize("when", ["called", "iterated", "closed"])
async def test_a_trigger_raising_it_stops_the_system_in_order(when: str) -> None:
    raiser = Raiser(KeyboardInterrupt())

    def trigger(last: Callable[[], HealthCheckResult | None]) -> AsyncIterator[None]:
        if when == "called":
            raiser()

        async def steps() -> AsyncIterator[None]:
            try:
                while True:
                    yield
                    await anyio.sleep(0.05)
                    if when == "iterated":
                        raiser()
            finally:
                if when == "closed":
                    raiser()

        return steps()

    async def mid(_: object) -> None:
        # Exits now and then: each exit closes the trigger and calls it afresh.
        await anyio.sleep(0.5)

    history = await run_until_raised(
        chain(ExecFn(mid), Ready("Mid", Switch(), trigger=trigger)), raiser
    )
    assert fatal_errors(history) == [
        ("mid", f"trigger raised {raiser.error!r}; stopping the system")
    ]
    assert stopped_order(history) == ["top", "mid", "base"]


class RaisingHost:
    """Raises from one of its methods once `raiser` is armed."""

    def __init__(self, method: str, raiser: Raiser) -> None:
        self.method = method
        self.raiser = raiser
        self.events: list[Event] = []

    def set_health(self, report: HealthReported) -> None:
        if self.method == "set_health":
            self.raiser()

    def record(self, event: Event) -> None:
        if self.method == "record":
            self.raiser()
        self.events.append(event)


@pytest.mark.parametrize("method", ["record", "set_health"])
async def test_a_host_raising_it_stops_the_system_in_order(method: str) -> None:
    raiser = Raiser(SystemExit(3))
    host = RaisingHost(method, raiser)
    health = Switch()

    async def flip() -> None:
        # A report to raise on, once the block waits.
        await anyio.sleep(0.1)
        health.ok = False

    system = (
        Daemons.of(host=host)
        .add_daemon("base", exec=forever(0.2), ready=Ready("Base", Switch()))
        .add_health_check(
            "mid",
            ready=Ready("Mid", health, trigger=cooldown_trigger(0.05), grace_period=0),
            requires=["base"],
        )
        .add_daemon("top", exec=forever(0.2), ready=Ready("Top", Switch()), requires=["mid"])
    )
    running = system.build()

    async def block() -> None:
        async with running, anyio.create_task_group() as group:
            await running.wait_ready(timeout=10)
            raiser.armed = True
            group.start_soon(flip)
            await anyio.sleep_forever()

    with anyio.fail_after(30), pytest.raises(SystemExit) as raised:
        await block()
    assert raised.value is raiser.error
    assert all(running.state(i) is S.STOPPED for i in running.ids)
    history = list(running.history)
    check_invariants(system.entries, history)
    assert [m for _, m in fatal_errors(history)] == [
        f"host.{method} raised SystemExit(3); stopping the system"
    ]


async def test_a_subcontainer_raising_it_while_destroyed_still_stops_everything() -> None:
    class Broken(SubContainer):
        async def destroy(self) -> None:
            raise KeyboardInterrupt

    system = (
        Daemons.of()
        .add_daemon("base", exec=forever(), ready=Ready("Base", Switch()), subcontainer=Broken())
        .add_daemon("top", exec=forever(), ready=Ready("Top", Switch()), requires=["base"])
    )
    with anyio.fail_after(30), pytest.raises(KeyboardInterrupt):
        async with system.build() as running:
            await running.wait_ready(timeout=10)
    assert all(running.state(i) is S.STOPPED for i in running.ids)
    assert fatal_errors(list(running.history))[0][0] == "base"


async def test_run_until_success_lets_it_out_after_stopping_everything() -> None:
    raiser = Raiser(KeyboardInterrupt())
    raiser.armed = True

    async def mid(_: object) -> None:
        await anyio.sleep(0.05)
        raiser()

    never = Ready("Mid", lambda: HealthCheckResult.failure("never"))
    with anyio.fail_after(30), pytest.raises(KeyboardInterrupt) as raised:
        await chain(ExecFn(mid), never).run_until_success(timeout=60)
    assert raised.value is raiser.error


async def test_it_raised_while_stopping_comes_out_after_the_shutdown() -> None:
    error = Shutdown()

    async def mid(_: object) -> None:
        try:
            await anyio.sleep_forever()
        finally:
            raise error  # in its cleanup, once cancelled

    system = chain(ExecFn(mid))
    with anyio.fail_after(30), pytest.raises(Shutdown) as raised:
        async with system.build() as running:
            await running.wait_ready(timeout=10)
    assert raised.value is error
    assert stopped_order(list(running.history)) == ["top", "mid", "base"]
    check_invariants(system.entries, running.history)


async def test_a_cancellation_is_not_mistaken_for_it() -> None:
    # The block cancelled from outside: the usual ordered stop, and no error.
    system = chain(ExecFn(forever().fn))
    with anyio.CancelScope() as outside:
        async with system.build() as running:
            await running.wait_ready(timeout=30)
            outside.cancel()
            await anyio.sleep_forever()
    assert all(running.state(i) is S.STOPPED for i in running.ids)
    assert not [e for e in running.history if isinstance(e, ErrorReported)]
    assert [e.entry for e in running.history if getattr(e, "event", None) is LifecycleEvent.SIGNAL]


async def test_start_system_lets_it_out_when_its_block_is_left() -> None:
    raiser = Raiser(KeyboardInterrupt())
    raiser.armed = True

    async def mid(_: object) -> None:
        await anyio.sleep(0.05)
        raiser()

    async def block() -> RunningDaemons:
        async with StartSystem() as start_system:
            running = await start_system(chain(ExecFn(mid)))
            await running.wait_stopped()  # the system stops itself
        return running

    with anyio.fail_after(30), pytest.raises(KeyboardInterrupt) as raised:
        await block()
    assert raised.value is raiser.error


async def test_what_counts_as_ending_the_system() -> None:
    cancelled = anyio.get_cancelled_exc_class()

    async def a_cancellation() -> BaseException:
        caught: list[BaseException] = []
        async with anyio.create_task_group() as group:

            async def wait() -> None:
                try:
                    await anyio.sleep_forever()
                except cancelled as error:
                    caught.append(error)
                    raise

            group.start_soon(wait)
            await anyio.lowlevel.checkpoint()
            group.cancel_scope.cancel()
        return caught[0]

    cancellation = await a_cancellation()
    assert is_fatal(KeyboardInterrupt())
    assert is_fatal(SystemExit(0))
    assert is_fatal(Shutdown())
    assert not is_fatal(ValueError())
    assert not is_fatal(cancellation)
    assert not is_fatal(BaseExceptionGroup("", [ValueError(), cancellation]))
    assert is_fatal(BaseExceptionGroup("", [ValueError(), KeyboardInterrupt()]))
    nested = BaseExceptionGroup("", [cancellation, BaseExceptionGroup("", [SystemExit()])])
    assert is_fatal(nested)


def base_and_app_in(subcontainer: SubContainer) -> Daemons:
    """`base`, and `app` requiring it, whose command runs in `subcontainer`
    (never spawned when its wrap fails)."""
    return (
        Daemons.of()
        .add_daemon("base", exec=forever(0.2), ready=Ready("Base", Switch()))
        .add_daemon(
            "app",
            exec=Command(["true"]),
            ready=Ready("App", Switch()),
            requires=["base"],
            subcontainer=subcontainer,
        )
    )


async def test_a_subcontainer_raising_it_from_wrap_stops_the_system_before_anything_runs() -> None:
    class Broken(SubContainer):
        def wrap(self, argv: list[str]) -> list[str]:
            raise KeyboardInterrupt

    system = base_and_app_in(Broken())
    running = system.build()

    async def block() -> None:
        async with running:
            await anyio.sleep_forever()

    with anyio.fail_after(30), pytest.raises(KeyboardInterrupt):
        await block()
    assert all(running.state(i) is S.STOPPED for i in running.ids)
    history = list(running.history)
    assert fatal_errors(history) == [
        ("app", "spawning raised KeyboardInterrupt(); stopping the system")
    ]
    assert not [e for e in history if isinstance(e, ProcessSpawned) and e.entry == "app"]
    check_invariants(system.entries, history)


async def test_a_host_raising_it_while_the_block_is_entered_still_ends_the_block() -> None:
    """Raised by the first events, recorded before `__aenter__` returns: the
    block that follows is ended all the same, not left to run for ever."""
    raiser = Raiser(SystemExit(4))
    raiser.armed = True
    system = Daemons.of(host=RaisingHost("record", raiser)).add_daemon(
        "base", exec=forever(0.2), ready=Ready("Base", Switch())
    )
    running = system.build()

    async def block() -> None:
        async with running:
            await anyio.sleep_forever()

    with anyio.fail_after(30), pytest.raises(SystemExit) as raised:
        await block()
    assert raised.value is raiser.error
    assert running.state("base") is S.STOPPED


@pytest.mark.parametrize(
    ("wrapped", "message"),
    [
        (ValueError("no such image"), "ValueError('no such image')"),
        (None, "subcontainer.wrap returned None, not a list of strings"),
        ([], "subcontainer.wrap returned [], not a list of strings"),
    ],
)
async def test_a_subcontainer_whose_wrap_fails_fails_its_entry_only(
    wrapped: BaseException | list[str] | None, message: str
) -> None:
    """An ordinary exception from user code, or a wrong result, is that
    entry's failure to start, reported and retried, never a crash of the
    supervisor."""

    class Broken(SubContainer):
        def wrap(self, argv: list[str]) -> list[str]:
            if isinstance(wrapped, BaseException):
                raise wrapped
            return wrapped  # type: ignore[return-value]

    system = base_and_app_in(Broken())
    async with system.build() as running:
        assert await running.wait_until(
            lambda: "could not start" in str(running.health("app")), timeout=10
        )
        assert running.state("base") is S.READY
        health = running.health("app")
        assert health is not None
        assert health.message == f"app daemon could not start: {message}"
    assert all(running.state(i) is S.STOPPED for i in running.ids)
    check_invariants(system.entries, list(running.history))
