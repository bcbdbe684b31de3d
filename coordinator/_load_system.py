"""One way to name a system: a `Daemons`, a config file, or `module:attribute`."""

from __future__ import annotations

import importlib
import inspect
import os
import sys

from ._config import load_config
from ._daemons import Daemons

__all__ = ["load_system"]


def load_system(system: Daemons | str | os.PathLike[str]) -> Daemons:
    """The system that `system` names, for `verify`, `explore` and the command line.

    * a `Daemons`: itself;
    * a path (`os.PathLike`), a string ending in `.toml`, or a string naming
      an existing file: the config file, read by `load_config` (its errors
      are `ConfigError`s);
    * `"module:attribute"`: that attribute of that module (dotted
      attributes too; the current directory is importable). It may be a
      plain function that returns a `Daemons`, and is then called.

    Raises `ValueError` naming the reference and the problem for anything else.
    """
    if isinstance(system, Daemons):
        return system
    if not isinstance(system, str) or system.endswith(".toml") or os.path.isfile(system):
        return load_config(system)
    module_name, _, attribute = system.partition(":")
    if not module_name or not attribute or os.path.exists(system):
        raise ValueError(
            f"{system!r}: name a system as a config file (.toml) or as module:attribute"
        )
    if "" not in sys.path:
        sys.path.insert(0, "")
    try:
        value: object = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"{system!r}: cannot import {module_name}: {error}") from error
    for name in attribute.split("."):
        if not hasattr(value, name):
            raise ValueError(f"{system!r}: {module_name} has no attribute {attribute!r}")
        value = getattr(value, name)
    if callable(value) and not isinstance(value, Daemons):
        value = value()
        if inspect.iscoroutine(value):
            value.close()
            raise ValueError(f"{system!r} is async; name a Daemons or a plain function")
    if not isinstance(value, Daemons):
        name = type(value).__name__
        article = "an" if name[0] in "aeiouAEIOU" else "a"
        raise ValueError(f"{system!r} is {article} {name}, not a Daemons")
    return value
