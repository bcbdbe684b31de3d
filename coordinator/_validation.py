"""The rules every entry's options follow, shared by `add_*` and config files.

Each rule returns what is wrong as a phrase (`must be a finite number >= 0,
not inf`) or `None`; the caller says where: `exec.user` for the builder,
`services.db.user` for a config file. Whatever passes these rules can be
handed to the operating system without a later crash: no NUL characters
(C strings end there), no `=` in environment names, no endless waits.
"""

from __future__ import annotations

import math
import os

__all__ = [
    "count_problem",
    "duration_problem",
    "env_name_problem",
    "is_duration",
    "path_problem",
    "text_problem",
    "user_problem",
]


def is_duration(value: object) -> bool:
    """A finite real number >= 0 (booleans, NaN, infinity and integers too
    large for a float are not): an endless wait or grace is never meant, and
    would hide a hang."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value) and value >= 0
    except OverflowError:  # an int beyond the largest float
        return False


def duration_problem(value: object, *, positive: bool = False) -> str | None:
    """Seconds: a finite number >= 0 (> 0 if `positive`)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"must be a number, not {type(value).__name__}"
    if is_duration(value):
        return f"must be a number > 0, not {value!r}" if positive and value == 0 else None
    if value == math.inf:
        return "must be a finite number, not inf"
    if isinstance(value, int) and value > 0:  # beyond the largest float
        return f"must be a finite number, not an integer of {len(str(value))} digits"
    return f"must be a number {'>' if positive else '>='} 0, not {value!r}"


def count_problem(value: object) -> str | None:
    """A limit on a count: an int >= 0 (not a boolean), or `None` for no limit."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        return None
    return f"must be an int >= 0 or None, not {value!r}"


def text_problem(value: object) -> str | None:
    """A string the operating system can take: no NUL character."""
    if not isinstance(value, str):
        return f"must be a string, not {type(value).__name__}"
    if "\0" in value:
        return "must not contain a NUL character"
    return None


def env_name_problem(name: object) -> str | None:
    """An environment variable's name: a non-empty string without `=` or NUL."""
    if not isinstance(name, str):
        return f"bad variable name {name!r}: it must be a string, not {type(name).__name__}"
    if not name or "=" in name or "\0" in name:
        return f"bad variable name {name!r}: it must not be empty or contain '=' or NUL"
    return None


def path_problem(value: object) -> str | None:
    """A path: a non-empty string or path-like without NUL."""
    if not isinstance(value, str | os.PathLike):
        return f"must be a path (a string), not {type(value).__name__}"
    text = os.fspath(value)
    if not isinstance(text, str):
        return f"must be a path (a string), not {type(text).__name__}"
    if not text:
        return "must not be empty"
    if "\0" in text:
        return "must not contain a NUL character"
    return None


def user_problem(value: object) -> str | None:
    """A user name (a non-blank string without NUL) or a uid (an int >= 0)."""
    if isinstance(value, str):
        if not value.strip():
            return "must not be empty"
        return text_problem(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return f"must be a user name or a uid, not {type(value).__name__}"
    if value < 0:
        return f"must be a user name or a uid, not {value}"
    return None
