"""The variables of a config file: `${VAR}` in its values, from the process
environment and the project's `.env` beside the file (see `_interpolation`).

As compose's project `.env`, that file only feeds interpolation (and the
values of env files): the process environment wins over it, and it is not
passed on to the services (that is what `env_file` is for).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ._config_table import Problem, key_path
from ._env_files import EnvFileProblem, read_env_file
from ._interpolation import InterpolationError, interpolate_values

__all__ = ["PROJECT_ENV", "interpolated"]

PROJECT_ENV = ".env"


def interpolated(
    document: dict[str, object], base: Path
) -> tuple[dict[str, object], Mapping[str, str]]:
    """`document` with its values interpolated (in place), and the variables
    it could use. `Problem` with the key path for an unset variable or a bad
    `${`, or naming `.env` for a problem there."""
    variables = {**project_variables(base), **os.environ}
    try:
        interpolate_values(document, variables.get)
    except InterpolationError as error:
        path = error.path
        in_service = len(path) > 1 and path[0] == "services" and isinstance(path[1], str)
        entry = str(path[1]) if in_service else None
        raise Problem(f"{where(path)}: {error.problem}", entry) from None
    return document, variables


def project_variables(base: Path) -> dict[str, str]:
    """The variables of the `.env` file in `base`, if there is one."""
    try:
        return read_env_file(base / PROJECT_ENV, os.environ)
    except EnvFileProblem as problem:
        if isinstance(problem.__cause__, FileNotFoundError):
            return {}
        raise Problem(f"{PROJECT_ENV}: {problem.problem}") from problem.__cause__


def where(path: tuple[str | int, ...]) -> str:
    """`services.web.command[1]` for ("services", "web", "command", 1)."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + key_path(part)
    return text
