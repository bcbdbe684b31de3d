"""The invariants of docs/spec.md section 8 with real processes, on random small systems.

Each entry is a real command with a random behaviour (runs until stopped,
ignores SIGTERM, forks a grandchild, crashes, a oneshot that fails at first),
dependency checks flip at random moments, and `term()` comes at a random
time. After every run the history must keep invariants 1, 2, 3, 5 and 6, and
no process the system started may be alive (invariant 4).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coordinator import Command, Daemons, HealthCheckResult, Ready
from coordinator.triggers import cooldown_trigger

from ..support import Switch, check_invariants
from . import leftovers

BEHAVIOURS = {
    "runs": "exec sleep 1000",
    "ignores-term": "trap '' TERM; sleep 1000 & wait; wait",
    "forks": "sleep 1000 & exec sleep 1000",
    "crashes": "sleep 0.05; exit 1",
    "exits-clean": "sleep 0.05; exit 0",
}
ONESHOTS = {
    "succeeds": "sleep 0.02",
    "fails-first": 'if [ -e "$MARK" ]; then exit 0; fi; touch "$MARK"; exit 2',
}


@dataclass(frozen=True)
class Plan:
    kind: str  # "daemon", "oneshot", "check"
    behaviour: str
    requires: tuple[int, ...]
    flip_at: float | None
    """When a check entry's answer turns to failure (and back 0.1 s later)."""


@st.composite
def systems(draw: st.DrawFn) -> tuple[tuple[Plan, ...], float]:
    count = draw(st.integers(1, 5))
    plans = []
    for index in range(count):
        kind = draw(st.sampled_from(["daemon", "daemon", "oneshot", "check"]))
        if kind == "daemon":
            behaviour = draw(st.sampled_from(sorted(BEHAVIOURS)))
        elif kind == "oneshot":
            behaviour = draw(st.sampled_from(sorted(ONESHOTS)))
        else:
            behaviour = "check"
        requires = tuple(
            sorted(draw(st.sets(st.integers(0, index - 1), max_size=2))) if index else ()
        )
        flip_at = draw(st.none() | st.floats(0.0, 0.3)) if kind == "check" else None
        plans.append(Plan(kind, behaviour, requires, flip_at))
    term_at = draw(st.floats(0.0, 0.6))
    return tuple(plans), term_at


def build(plans: tuple[Plan, ...], scratch: Path) -> tuple[Daemons, list[tuple[Switch, float]]]:
    system = Daemons.of()
    flips: list[tuple[Switch, float]] = []
    ok = Ready(None, lambda: HealthCheckResult.success(), grace_period=0.1)
    for index, plan in enumerate(plans):
        name = f"e{index}"
        requires = [f"e{i}" for i in plan.requires]
        if plan.kind == "daemon":
            command = Command(BEHAVIOURS[plan.behaviour], sigterm_timeout=0.2)
            system = system.add_daemon(name, exec=command, ready=ok, requires=requires)
        elif plan.kind == "oneshot":
            env = {"MARK": str(scratch / name)}
            command = Command(ONESHOTS[plan.behaviour], env=env, sigterm_timeout=0.2)
            system = system.add_oneshot(name, exec=command, requires=requires)
        else:
            switch = Switch()
            ready = Ready(None, switch, grace_period=0.0, trigger=cooldown_trigger(0.02))
            system = system.add_health_check(name, ready=ready, requires=requires)
            if plan.flip_at is not None:
                flips.append((switch, plan.flip_at))
    return system, flips


async def run(plans: tuple[Plan, ...], term_at: float) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        system, flips = build(plans, Path(scratch))
        async with system.build() as running, anyio.create_task_group() as flippers:
            for switch, at in flips:
                flippers.start_soon(_flip, switch, at)
            await anyio.sleep(term_at)
            with anyio.fail_after(10):  # 5 entries x 0.2 s at most along any path
                await running.term()
            flippers.cancel_scope.cancel()
        check_invariants(system.entries, running.history)


async def _flip(switch: Switch, at: float) -> None:
    await anyio.sleep(at)
    switch.ok = False
    await anyio.sleep(0.1)
    switch.ok = True


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@settings(max_examples=15, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(case=systems())
def test_invariants_hold_with_real_processes(
    backend: str, case: tuple[tuple[Plan, ...], float]
) -> None:
    plans, term_at = case
    before = {p.pid for p in leftovers.descendants()}
    anyio.run(run, plans, term_at, backend=backend)
    alive = leftovers.leftovers(before, timeout=1.0)
    leftovers.kill_all(alive)
    leftovers.reap_orphaned_zombies(before)
    assert not alive, f"invariant 4: left alive after term(): {[p.command for p in alive]}"
