"""The dependency graph of a system, optionally coloured by a running system's states.

Edges point from an entry to what it requires, and the graph is laid out
bottom to top, so what everything depends on sits at the top and shutdown
reads downwards. Shapes say what runs: a box for a daemon, a note-like
`cds` for a oneshot, an ellipse for a check that runs nothing.
"""

from __future__ import annotations

from coordinator import Daemons, EntryKind, EntrySpec, RunningDaemons

from ._diagram import Diagram
from ._dot import digraph, literal, source
from ._palette import STATE_COLOURS, STATE_TEXT

__all__ = ["system", "system_dot"]

SHAPES = {EntryKind.DAEMON: "box", EntryKind.ONESHOT: "cds", EntryKind.CHECK: "ellipse"}
MESSAGE_LIMIT = 40
"""Longer health messages are cut on the node; the tooltip keeps them whole."""


def system_dot(
    system: Daemons | RunningDaemons, *, title: str | None = None, states: bool = True
) -> str:
    """DOT source of a system's dependency graph.

    Each node is an entry (id and display name, shaped by kind); edges go
    from dependent to dependency. Given a running system, nodes are filled
    with the colour of their current state and carry their health message,
    unless `states` is false: then the drawing is the same for the whole run
    (the web console draws it once and colours the nodes itself).
    """
    running = system if isinstance(system, RunningDaemons) and states else None
    graph = {"rankdir": "BT", "fontname": "sans-serif", "nodesep": "0.4", "ranksep": "0.6"}
    if title:
        graph |= {"label": literal(title), "labelloc": "t"}
    drawing = digraph(
        "system",
        graph=graph,
        node={"fontname": "sans-serif", "style": "filled", "fillcolor": "#ffffff"},
        edge={"color": "#555555"},
    )
    # Entry ids are DOT identifiers as they are (lower-case letters, digits, dashes).
    for spec in system.entries:
        drawing.node(spec.id, **_node(spec, running))
    for spec in system.entries:
        for required in spec.requires:
            drawing.edge(spec.id, required)
    return source(drawing)


def _node(spec: EntrySpec, running: RunningDaemons | None) -> dict[str, str]:
    label = spec.id if spec.display in (None, spec.id) else f"{spec.id}\n{spec.display}"
    node = {"shape": SHAPES[spec.kind]}
    if spec.kind is EntryKind.DAEMON:
        node["style"] = "rounded,filled"
    tooltip = f"{spec.kind.value} {spec.id}"
    if running is not None:
        state = running.state(spec.id)
        health = running.health(spec.id)
        label += f"\n[{state.value}]"
        tooltip += f": {state.value}"
        if health is not None and health.message:
            message = health.message
            if len(message) > MESSAGE_LIMIT:
                message = message[: MESSAGE_LIMIT - 1] + "…"
            label += f"\n{message}"
            tooltip += f", {health.result.value}: {health.message}"
        node["fillcolor"] = STATE_COLOURS[state]
        node["fontcolor"] = STATE_TEXT[state]
    node["label"] = literal(label)
    node["tooltip"] = literal(tooltip)
    return node


def system(source: Daemons | RunningDaemons, *, title: str | None = None) -> Diagram:
    """`system_dot` as a `Diagram` (renders, saves, shows itself in Jupyter)."""
    return Diagram(system_dot(source, title=title))
