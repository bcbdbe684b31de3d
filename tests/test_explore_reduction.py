"""explore's reduction (sleep sets, coordinator/testing/_reduction.py) loses
nothing: on small systems the reduced search visits exactly the states the
full search visits, and finds the same broken rules."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from coordinator import Command, Daemons, HealthCheckResult, Ready
from coordinator.testing import ExplorationError, systems
from coordinator.testing._explore import search_states
from coordinator.testing._reduction import Fingerprint, state_key

from . import broken_rules

# Each case runs two exhaustive searches, seconds each.
pytestmark = pytest.mark.slow


def ok() -> HealthCheckResult:
    return HealthCheckResult.success()


def daemon(system: Daemons, entry_id: str, *requires: str) -> Daemons:
    return system.add_daemon(
        entry_id,
        exec=Command([entry_id], sigterm_timeout=2),
        ready=Ready(entry_id.upper(), ok),
        requires=list(requires),
    )


def side_by_side() -> Daemons:
    """Two daemons that know nothing of each other: their checks commute."""
    return daemon(daemon(Daemons.of(), "a"), "b")


def pair() -> Daemons:
    return daemon(daemon(Daemons.of(), "db"), "web", "db")


def diamond() -> Daemons:
    system = daemon(daemon(daemon(Daemons.of(), "base"), "left", "base"), "right", "base")
    return system.add_health_check("top", ready=Ready("Top", ok), requires=["left", "right"])


@pytest.mark.parametrize(
    ("system", "operator_actions"),
    [(side_by_side(), 0), (side_by_side(), 1), (pair(), 1), (pair(), 2), (diamond(), 0)],
    ids=[
        "side-by-side",
        "side-by-side-with-an-action",
        "pair-with-an-action",
        "pair-with-two-actions",
        "diamond",
    ],
)
def test_the_reduced_search_visits_every_state_of_the_full_search(
    system: Daemons, operator_actions: int
) -> None:
    full, every = search_states(system, operator_actions=operator_actions, reduce=False)
    reduced, visited = search_states(system, operator_actions=operator_actions)
    assert full.complete and reduced.complete
    assert visited <= every
    assert all(_covered(state, visited) for state in every)
    if operator_actions == 0:
        assert visited == every
    assert reduced.runs <= full.runs and reduced.transitions <= full.transitions


def _covered(state: Fingerprint, visited: frozenset[Fingerprint]) -> bool:
    """Whether a state of the full search was visited with at least as many
    operator actions left (fewer taken: a fingerprint's second part)."""
    return any(
        state_key(seen) == state_key(state) and _taken(seen) <= _taken(state) for seen in visited
    )


def _taken(state: Fingerprint) -> int:
    taken = state[1]
    assert isinstance(taken, int)
    return taken


def test_a_state_with_more_operator_budget_covers_the_same_state_with_less() -> None:
    """The subsumption cuts states that the full search explores: after an
    action, a state reached before without one (a pair whose web is
    restarted returns to where it was) is not explored again."""
    full, every = search_states(pair(), operator_actions=1, reduce=False)
    reduced, visited = search_states(pair(), operator_actions=1)
    assert reduced.states < full.states
    assert len(visited) < len(every)
    assert any(state not in visited for state in every if _taken(state) == 1)


def test_the_reduction_cuts_independent_orders() -> None:
    """On the diamond: two daemons side by side no longer offer two silent
    choices at once (a daemon is checked only while its process runs)."""
    full, _ = search_states(diamond(), operator_actions=0, reduce=False)
    reduced, _ = search_states(diamond(), operator_actions=0)
    assert reduced.transitions < full.transitions


@pytest.mark.parametrize(
    "breaking",
    [
        broken_rules.skip_the_wait_for_dependents,
        broken_rules.skip_the_dependency_guard,
        broken_rules.drop_the_dependency_lost_rule,
        broken_rules.add_a_row_to_the_table,
    ],
)
def test_the_reduced_search_finds_what_the_full_search_finds(
    breaking: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert callable(breaking)
    breaking(monkeypatch)
    full, reduced = violations_found(diamond(), operator_actions=0)
    assert full == reduced


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(systems(max_entries=3))
def test_random_small_systems_reach_the_same_states(system: Daemons) -> None:
    full, every = search_states(system, operator_actions=0, max_states=400, reduce=False)
    reduced, visited = search_states(system, operator_actions=0, max_states=400)
    if full.complete:
        assert reduced.complete
        assert visited == every


@pytest.mark.parametrize(
    ("breaking", "operator_actions"),
    [
        (broken_rules.forget_the_hold, 1),
        (broken_rules.signal_a_restarting_entry_at_once, 1),
        (broken_rules.let_a_start_through_term, 2),
    ],
)
def test_with_operator_actions_the_reduced_search_finds_what_the_full_search_finds(
    breaking: object, operator_actions: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert callable(breaking)
    breaking(monkeypatch)
    full, reduced = violations_found(pair(), operator_actions=operator_actions)
    assert full == reduced


def violations_found(system: Daemons, operator_actions: int) -> list[tuple[str, int]]:
    """What the full search and then the reduced one report (the broken
    invariant), and at what depth: each must find a violation."""
    found = []
    for reduce in (False, True):
        with pytest.raises(ExplorationError) as caught:
            search_states(system, operator_actions=operator_actions, reduce=reduce)
        found.append((str(caught.value).split(":")[0], len(caught.value.path)))
    return found
