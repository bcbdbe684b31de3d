"""The lifecycle diagram, drawn from `statemachines.TRANSITIONS` and `STATE_TRIGGERS` themselves.

Every line of an edge's label is a row of the table (rows between the same
two states share an edge), in the table's order, so the picture can never
drift from what the coordinator runs. Rows that only apply to some kinds of
entry say so; internal transitions (an event that keeps the state) are
dashed self-loops. Rows whose event is state-triggered (the coordinator
fires it at an entry merely for being in the row's source) are blue, with a
`*` after the event; the legend says so.
"""

from __future__ import annotations

from html import escape

from statemachines import STATE_TRIGGERS, TRANSITIONS, EntryKind, Guard, LifecycleState, Transition

from ._diagram import Diagram
from ._dot import digraph, literal, source
from ._palette import STATE_COLOURS, STATE_TEXT

__all__ = ["lifecycle", "lifecycle_dot"]

ALL_KINDS = frozenset(EntryKind)
TRIGGERED_MARK = "*"
TRIGGERED_COLOUR = "#2166ac"
LEGEND = (
    f'<<FONT COLOR="{TRIGGERED_COLOUR}">event{TRIGGERED_MARK}</FONT>: state-triggered, fired by'
    " the coordinator at every entry in the edge's source state, taken when the guards in"
    ' brackets hold<BR ALIGN="LEFT"/>dashed: the event keeps the state<BR ALIGN="LEFT"/>>'
)
"""An HTML-like label (`graphviz` passes `<...>` through)."""

Line = tuple[str, bool]
"""A line of an edge's label, and whether it is a state-triggered row's."""


def lifecycle_dot(
    kind: EntryKind | None = None,
    *,
    current: LifecycleState | None = None,
    internal: bool = True,
) -> str:
    """DOT source of the lifecycle state machine, with its guards on the edges.

    `kind` keeps the rows of one kind of entry (default: every row, each
    labelled with the kinds it applies to when not all). `current` highlights
    a state (say, one entry's state now). `internal=False` leaves out the
    transitions that keep the state. The rows of state-triggered events
    (`STATE_TRIGGERS`) are blue and marked `*`, as the legend says.
    """
    rows = [row for row in TRANSITIONS if kind is None or kind in row.kinds]
    if not internal:
        rows = [row for row in rows if row.dest not in (None, row.source)]
    triggered = {
        (rule.source, rule.event) for rule in STATE_TRIGGERS if kind is None or kind in rule.kinds
    }
    name = "lifecycle" if kind is None else f"lifecycle_{kind.value}"
    drawing = digraph(
        name,
        graph={
            "rankdir": "LR",
            "fontname": "sans-serif",
            "nodesep": "0.5",
            "ranksep": "0.7",
            "label": LEGEND,
            "labelloc": "b",
            "labeljust": "l",
            "fontsize": "10",
        },
        node={"shape": "box", "style": "rounded,filled", "fontname": "sans-serif"},
        edge={"fontname": "sans-serif", "fontsize": "10"},
    )
    drawing.node("start", label="", shape="point", width="0.15")
    for state in LifecycleState:
        node = {"fillcolor": STATE_COLOURS[state], "fontcolor": STATE_TEXT[state]}
        label = state.value
        if state is LifecycleState.STOPPED:
            node["peripheries"] = "2"
        if state is current:
            node["penwidth"] = "3"
            node["color"] = "#08306b"
            label = f"{state.value}\n(now)"
        drawing.node(state.name.lower(), label=literal(label), **node)
    drawing.edge("start", "waiting")
    edges: dict[tuple[LifecycleState, LifecycleState, bool], list[Line]] = {}
    for row in rows:
        by_state = (row.source, row.event) in triggered
        key = (row.source, row.dest or row.source, row.dest is None)
        label = _label(row, kind, loop=row.dest is None, mark=by_state)
        edges.setdefault(key, []).extend((line, by_state) for line in label.split("\n"))
    for (source_state, dest, keeps_state), lines in edges.items():
        edge = {}
        if (source_state, dest) == (LifecycleState.STOPPING, LifecycleState.STOPPED):
            # A rank further out: its label then clears stopping's self-loop.
            edge["minlen"] = "2"
        if keeps_state:
            edge["style"] = "dashed"
            edge["color"] = "#777777"
        drawing.edge(source_state.name.lower(), dest.name.lower(), label=_html(lines), **edge)
    return source(drawing)


def _html(lines: list[Line]) -> str:
    """The lines as an HTML-like label, state-triggered ones in their colour."""
    shown = [
        f'<FONT COLOR="{TRIGGERED_COLOUR}">{escape(text)}</FONT>' if by_state else escape(text)
        for text, by_state in lines
    ]
    return "<" + "<BR/>".join(shown) + ">"


def _label(row: Transition, kind: EntryKind | None, *, loop: bool, mark: bool) -> str:
    label = row.event.value + (TRIGGERED_MARK if mark else "")
    guards = [_guard(g) for g in row.conditions] + [f"not {_guard(g)}" for g in row.unless]
    if guards:
        # A self-loop's label sits beside its node, where a long line runs
        # into the labels of the node's other edges: the guards go below.
        label += ("\n[" + "\nand ".join(guards) if loop else " [" + " and ".join(guards)) + "]"
    if kind is None and row.kinds != ALL_KINDS:
        label += " (" + ", ".join(k.value for k in EntryKind if k in row.kinds) + ")"
    return label


def _guard(guard: Guard) -> str:
    return guard.value.replace("_", " ")


def lifecycle(
    kind: EntryKind | None = None,
    *,
    current: LifecycleState | None = None,
    internal: bool = True,
) -> Diagram:
    """`lifecycle_dot` as a `Diagram` (renders, saves, shows itself in Jupyter)."""
    return Diagram(lifecycle_dot(kind, current=current, internal=internal))
