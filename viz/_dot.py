"""Writing DOT text by hand: quoting, attributes, one statement per line.

Hand-written (not through the `graphviz` package's builder) so that the text
is fully determined by the input: golden files compare it byte for byte.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["attributes", "quote"]


def quote(text: str) -> str:
    """A DOT double-quoted string; `\\n` in `text` stays a line break."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n") + '"'


def attributes(values: Mapping[str, str | int | float]) -> str:
    """`[a="1", b="x"]`, in the mapping's order; empty when there is nothing to say."""
    if not values:
        return ""
    inner = ", ".join(f"{key}={quote(str(value))}" for key, value in values.items())
    return f" [{inner}]"
