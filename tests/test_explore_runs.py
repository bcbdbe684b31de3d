"""How explore runs its paths: all of them in one trio run loop on a clock
of its own that starts each run at 0, each run ending with no task left,
and the garbage collector left as it was found."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import anyio
import pytest
import trio
import trio.testing

from coordinator.testing import ExplorationError, explore
from coordinator.testing._explore import search_states
from coordinator.testing._virtual_clock import VirtualClock, pass_time_when_idle

from . import broken_rules
from .test_verification_teeth import pair


def test_one_event_loop_runs_every_path(monkeypatch: pytest.MonkeyPatch) -> None:
    loops = []
    run = anyio.run

    def counted(*args: object, **kwargs: object) -> object:
        loops.append(args[0])
        return run(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(anyio, "run", counted)
    report = explore(pair(), operator_actions=0)
    assert report.runs > 20
    assert len(loops) == 1


def test_the_same_search_gives_the_same_states_every_time() -> None:
    first, visited = search_states(pair(), operator_actions=1)
    again, visited_again = search_states(pair(), operator_actions=1)
    assert first == again
    assert visited == visited_again


@pytest.fixture
def collections_counted() -> Iterator[list[int]]:
    """The generation of each collection while the test runs."""
    generations: list[int] = []

    def note(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            generations.append(info["generation"])

    gc.callbacks.append(note)
    yield generations
    gc.callbacks.remove(note)


def test_runs_leave_their_cycles_to_young_collections(collections_counted: list[int]) -> None:
    """Each run's cycles are collected young, after it; the search's own
    objects, which only grow, are not scanned again in full collections."""
    report = explore(pair(), operator_actions=1)
    assert collections_counted.count(1) >= report.runs
    assert 2 not in collections_counted


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_left_as_it_was_found(enabled: bool) -> None:
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        explore(pair(), operator_actions=0)
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_the_collector_is_left_as_it_was_found_after_a_violation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken_rules.skip_the_wait_for_dependents(monkeypatch)
    assert gc.isenabled()
    with pytest.raises(ExplorationError, match=r"^invariant 1:") as caught:
        explore(pair())
    assert gc.isenabled()
    # The timeline of the run that broke the rule starts at 0.
    assert caught.value.history[0].at == 0


def test_the_virtual_clock_moves_only_when_told_and_starts_again_at_0() -> None:
    clock = VirtualClock()
    woke: list[float] = []

    async def main() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(sleeper)
            await trio.testing.wait_all_tasks_blocked()
            assert anyio.current_time() == 0
            clock.jump(2.5)
        clock.rewind()
        assert anyio.current_time() == 0

    async def sleeper() -> None:
        await anyio.sleep(2.5)
        woke.append(anyio.current_time())

    anyio.run(main, backend="trio", backend_options={"clock": clock})
    assert woke == [2.5]


def test_time_passes_to_each_timer_while_every_task_waits() -> None:
    clock = VirtualClock()
    woke: list[float] = []

    async def main() -> None:
        async with anyio.create_task_group() as ending:
            ending.start_soon(pass_time_when_idle, clock)
            for delay in (1, 0.5, 30):
                await anyio.sleep(delay)
                woke.append(anyio.current_time())
            ending.cancel_scope.cancel()

    trio.run(main, clock=clock)
    assert woke == [1, 1.5, 31.5]
