"""A stateful test: Hypothesis builds a system step by step, runs it, flaps and
recovers checks, crashes daemons, lets time pass and terms at any point,
checking the invariants after every step.

The system runs on trio in a blocking portal, with a mock clock that only
moves while a rule lets time pass: between rules the system is frozen and
quiescent, so what the invariants see is a whole number of steps.
"""

from __future__ import annotations

import math

import anyio
import trio.testing
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from coordinator import Daemons, ExecFn, LifecycleState, Ready, RunningDaemons
from coordinator.triggers import cooldown_trigger
from statemachines import EntryKind

from .support import Switch, check_invariants

MAX_ENTRIES = 8


class Crasher:
    """A daemon's function that runs until the test tells it to crash."""

    def __init__(self) -> None:
        self.crash_now: anyio.Event | None = None

    async def run(self, _: object) -> None:
        self.crash_now = anyio.Event()
        await self.crash_now.wait()
        raise RuntimeError("crashed on purpose")

    def crash(self) -> None:
        if self.crash_now is not None:
            self.crash_now.set()


class SystemUnderTest(RuleBasedStateMachine):
    entries = Bundle("entries")

    def __init__(self) -> None:
        super().__init__()
        self.clock = trio.testing.MockClock(autojump_threshold=math.inf)
        self.portal_cm = start_blocking_portal("trio", {"clock": self.clock})
        self.portal: BlockingPortal = self.portal_cm.__enter__()
        self.system = Daemons.of()
        self.switches: dict[str, Switch] = {}
        self.crashers: dict[str, Crasher] = {}
        self.running: RunningDaemons | None = None
        self.running_cm: object = None
        self.terminated = False

    # Time moves only inside these calls.

    def call_with_time(self, seconds: float) -> None:
        async def let_time_pass() -> None:
            self.clock.autojump_threshold = 0
            try:
                await anyio.sleep(seconds)
            finally:
                self.clock.autojump_threshold = math.inf
            await anyio.wait_all_tasks_blocked()

        self.portal.call(let_time_pass)

    def quiesce(self) -> None:
        self.portal.call(anyio.wait_all_tasks_blocked)

    # Rules.

    @initialize(target=entries, kind=st.sampled_from(list(EntryKind)), data=st.data())
    def add_first_entry(self, kind: EntryKind, data: st.DataObject) -> str:
        return self.add(kind, data)

    @precondition(lambda self: self.running is None and len(self.switches) < MAX_ENTRIES)
    @rule(target=entries, kind=st.sampled_from(list(EntryKind)), data=st.data())
    def add_entry(self, kind: EntryKind, data: st.DataObject) -> str:
        return self.add(kind, data)

    def add(self, kind: EntryKind, data: st.DataObject) -> str:
        name = f"e{len(self.switches)}"
        known = sorted(self.switches)
        requires = sorted(data.draw(st.sets(st.sampled_from(known), max_size=3))) if known else []
        switch = self.switches[name] = Switch()
        ready = Ready(name.upper(), switch, grace_period=1.0, trigger=cooldown_trigger(0.5))
        if kind is EntryKind.DAEMON:
            crasher = self.crashers[name] = Crasher()
            self.system = self.system.add_daemon(
                name, exec=ExecFn(crasher.run), ready=ready, requires=requires
            )
        elif kind is EntryKind.ONESHOT:
            self.system = self.system.add_oneshot(
                name, exec=ExecFn(lambda _: anyio.sleep(0.2)), requires=requires
            )
        else:
            self.system = self.system.add_health_check(name, ready=ready, requires=requires)
        return name

    @precondition(lambda self: self.running is None and self.switches)
    @rule()
    def build(self) -> None:
        self.running = self.system.build()
        cm = self.portal.wrap_async_context_manager(self.running)
        cm.__enter__()
        self.running_cm = cm
        self.quiesce()

    @rule(name=entries, healthy=st.booleans())
    def set_health(self, name: str, healthy: bool) -> None:
        self.switches[name].ok = healthy

    @rule(name=entries)
    def crash(self, name: str) -> None:
        crasher = self.crashers.get(name)
        if crasher is not None and self.running is not None:
            self.portal.call(crasher.crash)
            self.quiesce()

    @rule(seconds=st.sampled_from([0.1, 0.5, 1.0, 2.0, 5.0, 30.0]))
    def let_time_pass(self, seconds: float) -> None:
        if self.running is not None:
            self.call_with_time(seconds)

    @precondition(lambda self: self.running is not None and not self.terminated)
    @rule()
    def term(self) -> None:
        running = self.running
        assert running is not None

        async def term_with_time() -> None:
            self.clock.autojump_threshold = 0
            try:
                await running.term()
            finally:
                self.clock.autojump_threshold = math.inf
            await anyio.wait_all_tasks_blocked()

        self.portal.call(term_with_time)
        self.terminated = True
        assert all(running.state(i) is LifecycleState.STOPPED for i in running.ids)

    @invariant()
    def invariants_hold(self) -> None:
        if self.running is not None:
            check_invariants(self.system.entries, self.running.history)

    def teardown(self) -> None:
        try:
            if self.running_cm is not None:

                def autojump() -> None:
                    self.clock.autojump_threshold = 0

                self.portal.call(autojump)
                self.running_cm.__exit__(None, None, None)  # type: ignore[attr-defined]
                assert self.running is not None
                check_invariants(self.system.entries, self.running.history)
        finally:
            self.portal_cm.__exit__(None, None, None)


SystemUnderTest.TestCase.settings = settings(stateful_step_count=30)
TestSystemUnderTest = SystemUnderTest.TestCase
