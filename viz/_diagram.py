"""A drawing as an object: its DOT text, rendered on demand, shown inline in Jupyter."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ._render import render

__all__ = ["Diagram", "save_drawing"]


@dataclass(frozen=True)
class Diagram:
    """DOT source that can render and save itself (`.dot`, `.gv`, `.svg`, `.png`)."""

    dot: str

    def svg(self) -> str:
        return render(self.dot, "svg").decode()

    def png(self) -> bytes:
        return render(self.dot, "png")

    def _repr_svg_(self) -> str:
        return self.svg()

    def save(self, path: str | os.PathLike[str]) -> Path:
        return save_drawing(self.dot, path)


def save_drawing(dot: str, path: str | os.PathLike[str]) -> Path:
    """Write `dot` to `path`, rendered as its extension says."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix in (".dot", ".gv"):
        target.write_text(dot, encoding="utf-8")
    elif suffix in (".svg", ".png"):
        target.write_bytes(render(dot, "svg" if suffix == ".svg" else "png"))
    else:
        raise ValueError(f"{target}: the extension must be .svg, .png, .dot or .gv")
    return target
