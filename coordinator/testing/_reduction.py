"""The bookkeeping of `explore`'s search: which states were seen, which paths
are left to run, and the partial-order reduction (sleep sets).

Why sleep sets, and what "independent" means here. The search is stateless
(every path is replayed from the start) with states matched by fingerprint;
sleep sets (Godefroid, 1996) fit that: they prune only orderings of choices
that commute, so every state the full search reaches is still reached (only
fewer transitions are run to reach them), which is also what a test can
check exactly. Persistent or stubborn sets would cut states too, but here
`term()`, an operator action and the passing of time are enabled almost
everywhere and interact with every entry, which leaves them little to cut.

Two choices are independent in a state only when both are *silent* there:
each concerns one entry (its spawn, process, check or cleanup; never
`term()`, an operator action or time), the two entries differ, and when
taken the coordinator's reaction changed nothing any other rule reads: no
entry's lifecycle state, hold, grace or restart count, no other entry's
processes, spawn, check or cleanup, neither `term()` nor the actions taken,
and it recorded no event but a health report of its own entry. What an
entry's rules read of the others is exactly that (dependencies ready, a
dependency lost, no dependent running, held, terminating), so a silent
choice of one entry leaves the other's enabled and its reaction unchanged:
both orders reach the same state. Silence is observed, not guessed: a
choice is judged in the run that takes it from that state, and anything not
observed silent counts as dependent on everything.

A state is matched by its fingerprint and stored with its sleep set; reached
again with a sleep set that lacks some of those, the choices missing from
the new one are explored from it then (and the stored set shrinks to what
both visits left asleep), which keeps every state reachable.

Subsumption by operator budget. The fingerprint counts the operator actions
the path has taken, but nothing in a run reads that count except the
explorer's own offer of more actions (`len(actions) < max_actions`): the
coordinator never sees it. What an action leaves behind beyond the
fingerprint is an operator call still waiting (a `stop` until its entry is
stopped, a `restart` until it launches again) and the entry's count of
actions, which only lets a later action supersede a waiting one. A waiting
call only decides when the call returns (or, for a `restart` overtaken by
`term()`, raises to its caller, which the explorer swallows); its return
changes nothing the rules read, and the calls run in a task group of their
own that the run cancels at its end. So two states that differ only in the
count have the same choices but operator actions, and each choice other than
an action leads both to states that again differ only in the count: the one
with more actions left (fewer taken) can do everything the other can, and
more. A state is therefore stored without the count (`state_key`), with the
most budget it was explored with; reached again with no more budget left
(and no later into the shutdown: see `into_term`), it is covered. With more
budget it is explored again, as new. Its sleep set is then kept as the
earlier visit left it when the budgets differ: choices taken from the
visit with less budget do not stand for the one with more. The full search
(`reduce=False`) matches whole fingerprints, and the tests hold the reduced
search to it: every state it reaches is reached with at least as much budget.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from .._events import Event, HealthReported

__all__ = ["Fingerprint", "Search", "Task", "silent", "state_key"]

Fingerprint = tuple[object, ...]
"""`(term() called, operator actions taken, one tuple per entry)`; each
entry's tuple begins with its lifecycle state; `LOCAL_PARTS` are the places
that a silent choice may change in its own entry's tuple."""

LOCAL_PARTS = (1, 2, 3)
"""The entry's processes and spawn, its check in flight, its cleanups."""


Sleep = frozenset[tuple[str, str]]
"""A sleep set: silent choices, `(label, entry)`, that another path already covers."""


@dataclass
class Expansion:
    """The choices explored from one state, in order, and which of them were
    observed silent there."""

    sleep: Sleep
    """The state's sleep set."""
    choices: tuple[tuple[str, str | None], ...]
    """`(label, entry)`; the entry is `None` for `term()`, an operator action, time."""
    silent: dict[str, bool] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class Task:
    """A path to replay; its last choice is `parent.labels[index]`."""

    path: tuple[str, ...]
    parent: Expansion | None = None
    index: int = 0


def state_key(state: Fingerprint) -> Fingerprint:
    """`state` without the count of operator actions taken (subsumption by
    operator budget: see the module's docstring)."""
    return (state[0], *state[2:])


@dataclass
class _Seen:
    state: Fingerprint
    """The fingerprint of the visit kept (the one with the most budget)."""
    into_term: float
    """The longest time into `term()` the state was explored at."""
    sleep: Sleep
    """The choices from it not yet explored (covered by others, so far)."""
    budget: int
    """The operator actions it had left (the most it was explored with)."""


def silent(
    entry: str | None,
    before: Fingerprint,
    after: Fingerprint,
    events: Sequence[Event],
    ids: Sequence[str],
) -> bool:
    """Whether a choice concerning `entry` changed only its own entry's
    processes, check or cleanups (see the module's docstring)."""
    if entry is None or before[:2] != after[:2]:
        return False
    if any(not (isinstance(e, HealthReported) and e.entry == entry) for e in events):
        return False
    for entry_id, was, now in zip(ids, before[2:], after[2:], strict=True):
        if entry_id != entry:
            if was != now:
                return False
        else:
            assert isinstance(was, tuple) and isinstance(now, tuple)
            kept = [i for i in range(len(was)) if i not in LOCAL_PARTS]
            if any(was[i] != now[i] for i in kept):
                return False
    return True


@dataclass
class Search:
    """Which states were seen, and which paths are left to run: breadth
    first (a frontier per depth), so that a violation comes with a short path."""

    max_states: int
    max_depth: int
    max_actions: int
    reduce: bool = True
    """`False`: the full search, every choice from every state (for tests)."""
    seen: dict[Fingerprint, _Seen] = dataclasses.field(default_factory=dict)
    states: int = 0
    transitions: int = 0
    runs: int = 0
    cut: bool = False
    frontier: list[deque[Task]] = dataclasses.field(default_factory=lambda: [deque([Task(())])])
    depth: int = 0

    def next_task(self) -> Task | None:
        while self.depth < len(self.frontier):
            layer = self.frontier[self.depth]
            if layer:
                return layer.popleft()
            self.depth += 1
        return None

    @property
    def pending(self) -> bool:
        return any(self.frontier[self.depth :])

    def sleep_after(self, task: Task, last_silent: bool) -> Sleep:
        """The sleep set of the state `task` reaches: the silent choices of
        other entries that its parent explored before this one (or had
        asleep), when this one is silent too."""
        parent = task.parent
        if parent is None or not self.reduce:
            return frozenset()
        label, entry = parent.choices[task.index]
        parent.silent[label] = last_silent
        if not last_silent:
            return frozenset()
        # (A choice asleep in the parent was silent there, and stays so
        # after a silent choice of another entry.)
        earlier = [
            (label, other)
            for label, other in parent.choices[: task.index]
            if other is not None and parent.silent.get(label, False)
        ]
        return frozenset(c for c in (*parent.sleep, *earlier) if c[1] != entry)

    def explore_from(
        self,
        state: Fingerprint,
        into_term: float,
        sleep: Sleep,
        options: Sequence[tuple[str, str | None]],
    ) -> Expansion | None:
        """The choices to explore from `state`, reached with `sleep`; `None`
        if there are none (seen before and covered, or a limit reached)."""
        key, budget = state, 0
        if self.reduce:
            key, budget = state_key(state), self.max_actions - _actions_taken(state)
        known = self.seen.get(key)
        if known is None or known.into_term < into_term or known.budget < budget:
            # New, reached later into the shutdown than before (invariant 4
            # bounds how long `term()` takes, and a later visit can only take
            # longer), or with more operator actions left.
            if self.states >= self.max_states:
                self.cut = True
                return None
            self.states += 1
            self.seen[key] = _Seen(state, into_term, sleep, budget)
            chosen = tuple(c for c in options if c not in sleep)
        else:
            # Seen: only what its earlier visits left asleep and this one
            # does not. With less budget than the visit kept, the stored
            # sleep set is not shrunk: what this visit explores does not
            # stand for the visit with more (see the module's docstring).
            missing = known.sleep - sleep
            if known.budget == budget:
                known.sleep &= sleep
            chosen = tuple(c for c in options if c in missing)
        if not chosen:
            return None
        return Expansion(sleep, chosen)

    def visited(self) -> frozenset[Fingerprint]:
        """The fingerprints of the states explored (with the most budget)."""
        return frozenset(known.state for known in self.seen.values())

    def enqueue(self, path: tuple[str, ...], expansion: Expansion, start: int) -> None:
        """Put the choices of `expansion` from `start` on from `path` on the frontier."""
        if len(path) >= self.max_depth:
            self.cut = True
            return
        self.transitions += len(expansion.choices) - start
        depth = len(path) + 1
        while len(self.frontier) <= depth:
            self.frontier.append(deque())
        self.frontier[depth].extend(
            Task((*path, label), expansion, index)
            for index, (label, _) in enumerate(expansion.choices)
            if index >= start
        )


def _actions_taken(state: Fingerprint) -> int:
    taken = state[1]
    assert isinstance(taken, int)
    return taken
