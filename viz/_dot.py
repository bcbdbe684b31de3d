"""DOT built with `graphviz.Digraph`: literal text, and the source as a string.

`graphviz` writes one statement per line, a label first and the other
attributes in sorted order, and quotes only where DOT needs it, so the same
input always gives the same text (the golden files in tests/golden rely on it).
"""

from __future__ import annotations

from collections.abc import Mapping

import graphviz

__all__ = ["digraph", "literal", "source"]

Attributes = Mapping[str, str]


def literal(text: str) -> str:
    """`text` as DOT shows it: its backslashes and `<...>` mean nothing, a line break stays one.

    `graphviz` quotes strings but leaves backslashes alone (`\\N` would be
    the node's name) and takes `<...>` for an HTML label.
    """
    return graphviz.nohtml(text.replace("\\", "\\\\").replace("\n", "\\n"))


def digraph(
    name: str, *, graph: Attributes, node: Attributes, edge: Attributes
) -> graphviz.Digraph:
    """An empty directed graph with these default attributes."""
    drawing: graphviz.Digraph = graphviz.Digraph(
        name, graph_attr=dict(graph), node_attr=dict(node), edge_attr=dict(edge)
    )
    return drawing


def source(drawing: graphviz.Graph | graphviz.Digraph) -> str:
    """The DOT text of `drawing`."""
    return str(drawing.source)
