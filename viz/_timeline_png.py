"""A timeline as PNG: its SVG redrawn as DOT with pinned positions, rendered by Graphviz.

Why this way: the Graphviz renderer that comes with the package cannot turn
SVG into PNG (it loads no SVG images), but it draws boxes, circles,
triangles, text and lines at given positions (`pos="x,y!"`).
The timeline's SVG is our own, from a handful of shapes, so each shape maps
to one DOT node or edge, and the picture is the SVG's, pixel for point.

The layout is `nop` (`neato -n`): the positions are used as they are, in
points. `neato` itself gives the same picture but still works on the pinned
nodes, in time quadratic in their number: a long run's 24,000 events took
it 52 s (its 60 s render timeout is near), `nop` 1 s.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ElementTree
from xml.sax.saxutils import escape

import graphviz

from ._dot import source
from ._render import render

__all__ = ["svg_to_dot", "timeline_png"]

_SVG = "{http://www.w3.org/2000/svg}"
_INCH = 72.0  # DOT sizes are in inches, positions (with inputscale=72) in points
_TEXT = {
    "shape": "plaintext",
    "style": "",
    "fixedsize": "false",
    "width": "0",
    "height": "0",
    "margin": "0",
    "fontname": "Helvetica",
}
_POINT = {"shape": "point", "style": "invis", "width": "0", "height": "0"}


def timeline_png(svg: str, *, executable: str | os.PathLike[str] | None = None) -> bytes:
    """The PNG of a timeline drawn by `timeline_svg`."""
    return render(svg_to_dot(svg), "png", executable=executable)


def svg_to_dot(svg: str) -> str:
    """DOT that draws what the timeline's SVG draws (its tooltips aside)."""
    root = ElementTree.fromstring(svg)
    height = float(root.attrib["height"])
    shapes = _Shapes(height)
    for element in root.iter():
        tag = element.tag.removeprefix(_SVG)
        attributes = element.attrib
        if tag == "rect" and attributes.get("class") != "background":
            shapes.rect(element)
        elif tag == "text":
            shapes.text(element)
        elif tag == "circle":
            shapes.circle(element)
        elif tag == "path":
            shapes.mark(element)
        elif tag == "line":
            shapes.line(element)
    width = float(root.attrib["width"])
    # Two invisible corners keep the picture the SVG's size.
    shapes.add(_POINT, 0, 0)
    shapes.add(_POINT, width, height)
    return source(shapes.drawing)


class _Shapes:
    """DOT nodes and edges, in the SVG's coordinates (y down) turned into DOT's (y up)."""

    def __init__(self, height: float) -> None:
        self.height = height
        self.count = 0
        self.drawing = graphviz.Graph(
            "timeline",
            graph_attr={
                "layout": "nop",
                "inputscale": "72",
                "splines": "line",
                "bgcolor": "#ffffff",
                "pad": "0",
                "dpi": "96",
            },
            node_attr={"label": "", "fixedsize": "true", "penwidth": "0", "style": "filled"},
        )

    def add(self, attributes: dict[str, str], x: float, y: float) -> str:
        name = f"n{self.count}"
        self.count += 1
        self.drawing.node(name, pos=f"{x:.1f},{self.height - y:.1f}!", **attributes)
        return name

    def rect(self, element: ElementTree.Element) -> None:
        x, y = _number(element, "x"), _number(element, "y")
        w, h = _number(element, "width"), _number(element, "height")
        if w <= 0:
            return  # an instant: nothing to see, as in the SVG
        size = {"width": f"{w / _INCH:.4f}", "height": f"{h / _INCH:.4f}"}
        fill = element.attrib.get("fill", "#000000")
        self.add({"shape": "box", **size, "fillcolor": fill}, x + w / 2, y + h / 2)

    def text(self, element: ElementTree.Element) -> None:
        content = "".join(element.itertext()).strip()
        if not content:
            return
        size = float(element.attrib.get("font-size", "11"))
        estimated = len(content) * size * 0.55
        x, baseline = _number(element, "x"), _number(element, "y")
        anchor = element.attrib.get("text-anchor", "start")
        centre = {"start": x + estimated / 2, "middle": x, "end": x - estimated / 2}[anchor]
        label = escape(content)
        if element.attrib.get("font-weight") == "bold":
            label = f"<B>{label}</B>"
        self.add(
            {**_TEXT, "fontsize": f"{size:g}", "label": f"<{label}>"},
            centre,
            baseline - size * 0.35,
        )

    def circle(self, element: ElementTree.Element) -> None:
        r = _number(element, "r")
        fill = element.attrib.get("fill", "#000000")
        stroke = element.attrib.get("stroke", fill)
        pen = element.attrib.get("stroke-width", "1")
        self.add(
            {
                "shape": "circle",
                "width": f"{2 * r / _INCH:.4f}",
                "fillcolor": fill,
                "color": stroke,
                "penwidth": pen,
            },
            _number(element, "cx"),
            _number(element, "cy"),
        )

    def mark(self, element: ElementTree.Element) -> None:
        """The timeline's paths are its marks: triangles (spawn points up, the
        requests to stop down) from their apex, and the SIGKILL cross."""
        kind = element.attrib.get("class", "").split()[-1]
        start = element.attrib["d"].removeprefix("M").split("l")[0].split()
        x, y = float(start[0]), float(start[1])
        fill = element.attrib.get("fill", "none")
        if kind == "sigkill":
            colour = element.attrib.get("stroke", "#b2182b")
            self.add(
                {**_TEXT, "fontsize": "13", "fontcolor": colour, "label": "<<B>x</B>>"},
                x + 4,
                y + 3.5,
            )
            return
        shape, centre = ("triangle", y + 4.5) if kind == "spawn" else ("invtriangle", y - 4.5)
        self.add(
            {
                "shape": shape,
                "width": f"{8 / _INCH:.4f}",
                "height": f"{9 / _INCH:.4f}",
                "fillcolor": fill,
                "color": "#1a1a1a",
                "penwidth": "1",
            },
            x,
            centre,
        )

    def line(self, element: ElementTree.Element) -> None:
        a = self.add(_POINT, _number(element, "x1"), _number(element, "y1"))
        b = self.add(_POINT, _number(element, "x2"), _number(element, "y2"))
        colour = element.attrib.get("stroke", "#000000")
        opacity = float(element.attrib.get("stroke-opacity", "1"))
        colour += f"{round(opacity * 255):02x}" if opacity < 1 else ""
        self.drawing.edge(a, b, color=colour)


def _number(element: ElementTree.Element, name: str) -> float:
    return float(element.attrib[name])
