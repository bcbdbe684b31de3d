"""Turning DOT into SVG or PNG with a Graphviz renderer found on this machine.

The renderer is an executable, looked for in this order: the `executable`
argument, `$HEALTHDAEMONS_DOT`, `dot` on the PATH, and `graphviz-pure`
(a pip-installed static build, a dependency of this package) on the PATH or
next to the running Python, since a virtual environment's `bin` is often not
on the PATH of the program using it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Literal

from coordinator.errors import HealthDaemonsError

__all__ = [
    "ENVIRONMENT_VARIABLE",
    "Format",
    "RenderError",
    "RendererNotFound",
    "find_renderer",
    "render",
]

ENVIRONMENT_VARIABLE = "HEALTHDAEMONS_DOT"
RENDER_TIMEOUT = 60.0
Format = Literal["svg", "png"]


class RendererNotFound(HealthDaemonsError):
    """Raised by `render` when no Graphviz executable can be found."""


class RenderError(HealthDaemonsError):
    """Raised by `render` when the renderer rejects the source or fails."""


def find_renderer(executable: str | os.PathLike[str] | None = None) -> str:
    """The renderer `render` would use; raises `RendererNotFound` with how to get one."""
    if executable is not None:
        return _existing(os.fspath(executable), "the executable argument")
    configured = os.environ.get(ENVIRONMENT_VARIABLE)
    if configured:
        return _existing(configured, f"${ENVIRONMENT_VARIABLE}")
    for name in ("dot", "graphviz-pure"):
        found = shutil.which(name)
        if found is not None:
            return found
    beside_python = Path(sys.executable).with_name("graphviz-pure")
    if os.access(beside_python, os.X_OK):
        return str(beside_python)
    raise RendererNotFound(
        "No Graphviz renderer found: `pip install graphviz-pure` (a dependency of "
        "healthdaemons; reinstall it), or install Graphviz (`apt install graphviz`, "
        f"`brew install graphviz`), or set ${ENVIRONMENT_VARIABLE} to a `dot` executable."
    )


def render(
    dot_source: str,
    format: Format = "svg",
    *,
    executable: str | os.PathLike[str] | None = None,
) -> bytes:
    """Render DOT source to `svg` or `png` bytes."""
    if format not in ("svg", "png"):
        raise ValueError(f"format must be 'svg' or 'png', not {format!r}")
    renderer = find_renderer(executable)
    try:
        done = subprocess.run(
            [renderer, f"-T{format}"],
            input=dot_source.encode(),
            capture_output=True,
            timeout=RENDER_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise RenderError(f"{renderer} failed: {error}") from error
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip() or f"exit code {done.returncode}"
        raise RenderError(f"{renderer} could not render the diagram: {reason}")
    return done.stdout


def _existing(path: str, where: str) -> str:
    found = shutil.which(path)
    if found is None:
        raise RendererNotFound(f"The renderer given by {where} ({path!r}) is not an executable")
    return found
