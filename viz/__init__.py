"""Diagrams of lifecycles, systems and runs, drawn from `statemachines` and `coordinator`.

- `lifecycle_dot()`: the lifecycle state machine, from the transition table and
  the state-triggered rules themselves;
- `lifecycle_table(kind)`: the same two tables as text (`healthdaemons table`);
- `system_dot(daemons_or_running)`: a system's dependency graph, coloured by
  state when given a running system;
- `timeline_svg(events)`: a recorded run, one lane per entry;
- `render(dot, "svg" | "png")`: DOT to pictures with a Graphviz renderer
  (`graphviz-pure` comes with the package).

`lifecycle()`, `system()` and `timeline()` return objects that render and
save themselves and show inline in Jupyter.
"""

from ._diagram import Diagram as Diagram
from ._diagram import save_drawing as save_drawing
from ._lifecycle import lifecycle as lifecycle
from ._lifecycle import lifecycle_dot as lifecycle_dot
from ._lifecycle_table import lifecycle_table as lifecycle_table
from ._palette import STATE_COLOURS as STATE_COLOURS
from ._palette import STATE_TEXT as STATE_TEXT
from ._render import ENVIRONMENT_VARIABLE as ENVIRONMENT_VARIABLE
from ._render import RendererNotFound as RendererNotFound
from ._render import RenderError as RenderError
from ._render import find_renderer as find_renderer
from ._render import render as render
from ._system import system as system
from ._system import system_dot as system_dot
from ._timeline import Timeline as Timeline
from ._timeline import timeline as timeline
from ._timeline import timeline_svg as timeline_svg

__all__ = (
    "ENVIRONMENT_VARIABLE",
    "STATE_COLOURS",
    "STATE_TEXT",
    "Diagram",
    "RenderError",
    "RendererNotFound",
    "Timeline",
    "find_renderer",
    "lifecycle",
    "lifecycle_dot",
    "lifecycle_table",
    "render",
    "save_drawing",
    "system",
    "system_dot",
    "timeline",
    "timeline_svg",
)
