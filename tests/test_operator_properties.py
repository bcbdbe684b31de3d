"""Hypothesis: operator actions at random moments keep the invariants (docs/spec.md section 10).

Random systems under the faults of `tests/scenarios.py` (flaps, crashes,
failing oneshots, slow and stubborn stops), with `stop`, `start` and
`restart` of random entries at random moments, and `term()` at a random
moment among them, on both backends. Invariants 1, 2, 3, 5 and 6 are
checked on the history (a held entry launched, or `stopped` left after
`term()`, is a violation of 5), and every entry ends `stopped`.
"""

from __future__ import annotations

import anyio
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from coordinator import Transitioned
from coordinator.errors import SystemTerminatingError
from statemachines import LifecycleEvent

from .scenarios import UNITS, Scenario, build_system, run_and_check, scenarios

BACKENDS = ["asyncio", "trio"]
ACTIONS = ("stop", "start", "restart")

Action = tuple[int, str, int]
"""(moment in units, action, entry index)."""


@st.composite
def with_actions(draw: st.DrawFn) -> tuple[Scenario, list[Action]]:
    scenario = draw(scenarios(max_entries=8))
    count = len(scenario.entries)
    actions = draw(
        st.lists(
            st.tuples(st.integers(0, 30), st.sampled_from(ACTIONS), st.integers(0, count - 1)),
            min_size=1,
            max_size=8,
        )
    )
    return scenario, sorted(actions, key=lambda a: a[0])


def run_with_actions(scenario: Scenario, actions: list[Action], backend: str) -> list[object]:
    unit = UNITS[backend]
    system = build_system(scenario, unit)
    running = system.build()
    ids = scenario.ids
    overridden: list[str] = []

    async def act(name: str, entry: str) -> None:
        called_after_term = running.is_terminating
        try:
            await getattr(running, name)(entry)
        except SystemTerminatingError:
            if not called_after_term:
                overridden.append(name)
        else:
            assert not called_after_term, f"{name}({entry!r}) after term() did not raise"

    async def main() -> None:
        with anyio.fail_after(10_000 * unit if backend == "trio" else 30):
            async with running, anyio.create_task_group() as group:
                start = anyio.current_time()
                termed = False
                for at, name, index in actions:
                    if not termed and at >= scenario.term_at:
                        group.start_soon(running.term)
                        termed = True
                    await anyio.sleep_until(start + at * unit)
                    if running.is_terminating:
                        with pytest.raises(SystemTerminatingError):
                            await getattr(running, name)(ids[index])
                    else:
                        group.start_soon(act, name, ids[index])
                    await anyio.lowlevel.checkpoint()
                await anyio.sleep_until(start + scenario.term_at * unit)
                await running.term()

    run_and_check(main, backend, system, running)
    assert set(overridden) <= {"restart"}  # only a restart waits for what term() prevents
    return list(running.history)


@pytest.mark.parametrize("backend", BACKENDS)
@given(plan=with_actions())
def test_invariants_hold_with_operator_actions(
    backend: str, plan: tuple[Scenario, list[Action]]
) -> None:
    scenario, actions = plan
    history = run_with_actions(scenario, actions, backend)
    seen = {e.event for e in history if isinstance(e, Transitioned)}
    for label in (LifecycleEvent.HOLD, LifecycleEvent.RELEASE, LifecycleEvent.DEPENDENCY_LOST):
        event(f"{label.value}: {label in seen}")
