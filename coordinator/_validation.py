"""The rules every entry's options follow, shared by `add_*` and config files.

Each rule returns what is wrong as a phrase (`must be a finite number >= 0,
not inf`) or `None`; the caller says where: `exec.user` for the builder,
`services.db.user` for a config file. Whatever passes these rules can be
handed to the operating system without a later crash: no NUL characters
(C strings end there), no `=` in environment names, no endless waits.

Each numeric option has one rule, found by its name in `OPTION_RULES`, so
that `Ready(timeout=-1)`, `check_port_listening(80, timeout=-1)` and
`timeout = -1` in a config file are refused in the same words.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Callable, Sequence

__all__ = [
    "ID_PATTERN",
    "OPTION_RULES",
    "argv_problem",
    "callable_problem",
    "closest",
    "count_problem",
    "did_you_mean",
    "duration_problem",
    "entry_id_problem",
    "env_name_problem",
    "option_problem",
    "path_problem",
    "port_problem",
    "require_option",
    "text_problem",
    "user_problem",
    "wait_timeout_problem",
]


def duration_problem(value: object, *, positive: bool = False) -> str | None:
    """Seconds: a finite number >= 0 (> 0 if `positive`). Not a boolean, NaN,
    infinity or an integer too large for a float: an endless wait or grace is
    never meant, and would hide a hang."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"must be a number, not {type(value).__name__}"
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an int beyond the largest float
        if value > 0:
            return f"must be a finite number, not an integer of {_digits(int(value))} digits"
        finite = False
    if value == math.inf:
        return "must be a finite number, not inf"
    if not finite or value < 0 or (positive and value == 0):
        return f"must be a number {'>' if positive else '>='} 0, not {_shown(value)}"
    return None


def wait_timeout_problem(value: object) -> str | None:
    """How long a caller waits: seconds >= 0, where infinity, like `None`, waits
    for ever (unlike an option's duration, an endless wait is often meant)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        shown = _shown(value) if isinstance(value, int | float) else repr(value)
        return f"must be a number of seconds >= 0 or None, not {shown}"
    return None


def count_problem(value: object) -> str | None:
    """A limit on a count: an integer >= 0 (not a boolean), or `None` for no limit."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        return f"must be an integer, not {type(value).__name__}"
    if value < 0:
        return f"must be an integer >= 0, not {_shown(value)}"
    return None


def _shown(value: float) -> str:
    """The number as Python writes it, but for an integer too long to read."""
    if isinstance(value, int) and abs(value) >= 10**20:
        return f"an integer of {_digits(value)} digits"
    return repr(value)


def _digits(value: int) -> int:
    """How many digits `value` has, even beyond the digits `str()` converts."""
    try:
        return len(str(abs(value)))
    except ValueError:
        return math.floor(math.log10(abs(value))) + 1


def port_problem(value: object) -> str | None:
    """A TCP port: an integer from 1 to 65535 (not a boolean)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return f"must be an integer, not {type(value).__name__}"
    if not 1 <= value <= 65535:
        return f"must be an integer from 1 to 65535, not {_shown(value)}"
    return None


def _positive_duration(value: object) -> str | None:
    return duration_problem(value, positive=True)


def _optional_positive_duration(value: object) -> str | None:
    return None if value is None else duration_problem(value, positive=True)


def _positive_count(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return f"must be an integer, not {type(value).__name__}"
    if value < 1:
        return f"must be an integer >= 1, not {_shown(value)}"
    return None


OPTION_RULES: dict[str, Callable[[object], str | None]] = {
    "grace_period": duration_problem,
    "sigterm_timeout": duration_problem,
    "timeout": _positive_duration,
    "interval": _positive_duration,
    "start_timeout": _optional_positive_duration,
    "failures": _positive_count,
    "max_restarts": count_problem,
    "history_limit": count_problem,
    "output_lines": count_problem,
    "output_bytes": count_problem,
    "lines": count_problem,
    "port": port_problem,
}
"""The rule of each numeric option, whoever sets it: the builder, `Ready`,
`Command`, `ExecFn`, the checks, the triggers, or a config file."""


def option_problem(name: str, value: object) -> str | None:
    """What is wrong with `value` for the option `name` (a key of
    `OPTION_RULES`), as a phrase."""
    return OPTION_RULES[name](value)


def require_option(name: str, value: object) -> None:
    """`ValueError` (`timeout must be a number > 0, not 0`) unless `value`
    follows the rule of the option `name`: for the functions that take an
    option as an argument, not in an entry's options."""
    problem = option_problem(name, value)
    if problem is not None:
        raise ValueError(f"{name} {problem}")


# Always fullmatch: `$` alone would let a trailing newline through.
ID_PATTERN = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


def entry_id_problem(value: object) -> str | None:
    """What is wrong with an entry's id (a config file's service name): the rule
    of `ID_PATTERN` in words, for a message that names the id first."""
    if isinstance(value, str) and ID_PATTERN.fullmatch(value):
        return None
    return "use lowercase letters and digits, words joined by single dashes (like 'web' or 'db-1')"


def argv_problem(value: object) -> tuple[int | None, str] | None:
    """A command: a non-blank string (run as `sh -c STRING`) or a non-empty
    sequence of strings (an argv) whose program is not empty. What is wrong,
    with the index of the argument it is about (`None`: the command)."""
    if isinstance(value, str):
        problem = "must not be empty" if not value.strip() else text_problem(value)
        return None if problem is None else (None, problem)
    if not isinstance(value, Sequence) or isinstance(value, bytes):
        return None, f"must be a string or a list of strings, not {type(value).__name__}"
    if not value:
        return None, "must not be empty"
    for index, argument in enumerate(value):
        problem = text_problem(argument)
        if problem is not None:
            return index, problem
    if not value[0]:
        return 0, "must not be empty"
    return None


def closest(word: str, choices: Sequence[str]) -> str | None:
    """The choice most like `word` (a likely typo), if one is close enough."""
    close = difflib.get_close_matches(word, choices, n=1)
    return close[0] if close else None


def did_you_mean(suggestion: str | None) -> str:
    """What ends a message about an unknown name: `; did you mean 'db'?`, or nothing."""
    return "" if suggestion is None else f"; did you mean {suggestion!r}?"


def callable_problem(value: object) -> str | None:
    """A function (or any callable): what an entry calls, or calls back."""
    return None if callable(value) else f"must be callable, not {type(value).__name__}"


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
