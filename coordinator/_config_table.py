"""A table of a config file at its TOML key path, with typed getters: every
mistake is a `Problem` whose message starts with the key path, to which
`load_config` adds the file name (a `ConfigError`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ._interpolation import Substituted
from ._validation import (
    argv_problem,
    closest,
    did_you_mean,
    option_problem,
    text_problem,
)

__all__ = ["Problem", "Table", "key_path", "scalar", "type_name"]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


class Problem(Exception):
    """A mistake in a config file; the message starts with the key path."""

    def __init__(self, message: str, entry: str | None = None) -> None:
        super().__init__(message)
        self.entry = entry


def key_path(*parts: str) -> str:
    """`services.db.ready`, quoting the keys that TOML would quote: `services."d b"`."""
    return ".".join(
        p if _BARE_KEY.fullmatch(p) else json.dumps(p, ensure_ascii=False) for p in parts
    )


def type_name(value: object) -> str:
    return type(value).__name__


_INTEGER = re.compile(r"[+-]?(0|[1-9](_?[0-9])*)")
_FLOAT = re.compile(r"[+-]?(0|[1-9](_?[0-9])*)(\.[0-9](_?[0-9])*)?([eE][+-]?[0-9](_?[0-9])*)?")


def scalar(value: object) -> object:
    """A value that variables made, as the number or boolean its text is in
    TOML (`"${PORT}"` with PORT=8080 is 8080); any other value as it is."""
    if not isinstance(value, Substituted):
        return value
    text = value.strip()
    if text in ("true", "false"):
        return text == "true"
    if _INTEGER.fullmatch(text):
        try:
            return int(text.replace("_", ""))
        except ValueError:  # more digits than Python converts
            return str(value)
    if _FLOAT.fullmatch(text):
        return float(text.replace("_", ""))
    return str(value)


@dataclass(frozen=True, slots=True)
class Table:
    """A TOML table at a key path, with typed getters that raise a `Problem`."""

    path: tuple[str, ...]
    values: Mapping[str, object]
    entry: str | None = None

    def problem(self, name: str, message: str, index: int | None = None) -> Problem:
        where = key_path(*self.path, name) + ("" if index is None else f"[{index}]")
        value = self.values.get(name) if index is None else None
        if isinstance(value, Substituted):
            shown = value if len(value) <= 40 else value[:37] + "..."
            message += f" (from variables: {str(shown)!r})"
        return Problem(f"{where}: {message}", self.entry)

    def only(self, allowed: Sequence[str], hints: Mapping[str, str] | None = None) -> None:
        """`Problem` for a key not `allowed`: with its hint (a key of another
        format) if `hints` has one, else with the closest allowed key."""
        for name in self.values:
            if name not in allowed:
                hint = None if hints is None else hints.get(name)
                if hint is not None:
                    raise self.problem(name, f"unknown key; {hint}")
                raise self.problem(name, "unknown key" + did_you_mean(closest(name, allowed)))

    def has(self, name: str) -> bool:
        return name in self.values

    def boolean(self, name: str, default: bool) -> bool:
        value = scalar(self.values.get(name, default))
        if not isinstance(value, bool):
            raise self.problem(name, f"must be a boolean, not {type_name(value)}")
        return value

    def option(self, name: str, default: float) -> float:
        """A duration, by the option's rule in `OPTION_RULES`, as the builder checks it."""
        value = scalar(self.values.get(name, default))
        problem = option_problem(name, value)
        if problem is not None:
            raise self.problem(name, problem)
        return float(value)  # type: ignore[arg-type]

    def integer(self, name: str) -> int | None:
        """A count or a port, by the option's rule in `OPTION_RULES`; `None` if not given."""
        if name not in self.values:
            return None
        value = scalar(self.values[name])
        problem = option_problem(name, value)
        if problem is not None:
            raise self.problem(name, problem)
        assert isinstance(value, int)
        return value

    def string(self, name: str) -> str | None:
        if name not in self.values:
            return None
        value = self.values[name]
        if not isinstance(value, str):
            raise self.problem(name, f"must be a string, not {type_name(value)}")
        if not value.strip():
            raise self.problem(name, "must not be empty")
        problem = text_problem(value)
        if problem is not None:
            raise self.problem(name, problem)
        return value

    def command(self, name: str) -> str | list[str] | None:
        """A string (run as `sh -c`) or a non-empty array of strings (an argv),
        by the rule of `Command`."""
        value = self.values.get(name)
        if value is None:
            return None
        found = argv_problem(value)
        if found is not None:
            index, problem = found
            raise self.problem(name, problem, index)
        assert isinstance(value, str | list)
        return value

    def strings(self, name: str, what: str) -> list[str]:
        value = self.values.get(name, [])
        if not isinstance(value, list):
            raise self.problem(name, f"must be an array of {what}, not {type_name(value)}")
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise self.problem(name, f"must be a string, not {type_name(item)}", i)
        return value

    def table(self, name: str) -> Table | None:
        if name not in self.values:
            return None
        value = self.values[name]
        if not isinstance(value, dict):
            raise self.problem(name, f"must be a table, not {type_name(value)}")
        return Table((*self.path, name), value, self.entry)
