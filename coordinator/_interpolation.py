"""`${VAR}` in the values of a config file, by docker compose's rules.

A `$` followed by a name (`[A-Za-z_][A-Za-z0-9_]*`) or by `{` is a variable;
`$$` is a literal `$`; a `$` followed by anything else (`$1`, `$?`, `$(`,
a space, the end) is left as it is, as compose leaves it. Braced forms:

    ${VAR}               the value; an error if VAR is unset
    ${VAR:-default}      default if VAR is unset or empty   (${VAR-default}: if unset)
    ${VAR:?message}      an error saying message if VAR is unset or empty   (${VAR?message})
    ${VAR:+alternative}  alternative if VAR is set and not empty, else ""  (${VAR+alternative})

A default, message or alternative is itself interpolated (`${A:-${B:-x}}`),
only when it is used; it ends at the first `}` that closes no `${` of its own.
Unlike compose, an unset variable without a default is an error, not an
empty string: shell commands often mean `$i` for the shell, not for the file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

__all__ = ["InterpolationError", "Lookup", "Substituted", "interpolate", "interpolate_values"]

Lookup = Callable[[str], str | None]
"""A variable's value, or `None` when it is not set."""

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")
_SHOWN = 40  # characters of a bad `${...}` quoted in its message


class InterpolationError(Exception):
    """What is wrong in one string; `path` says where it is in the document
    (keys and array indexes)."""

    def __init__(self, problem: str, path: tuple[str | int, ...] = ()) -> None:
        super().__init__(problem)
        self.problem = problem
        self.path = path


@dataclass(frozen=True, slots=True)
class _Variable:
    name: str
    braced: bool
    operator: str | None = None
    word: tuple[_Part, ...] = ()


class Substituted(str):
    """A value that variables made (`"${PORT:-8080}"`). Where the file expects
    a number or a boolean, its text is read as TOML reads one: TOML puts
    variables only in strings, and compose converts interpolated values to
    the type their field expects in the same way."""

    __slots__ = ()


_Part = str | _Variable
_Items = Iterator[tuple[str | int, object]]


def interpolate(text: str, lookup: Lookup) -> str:
    """`text` with its variables replaced (a `Substituted` if it had any). The
    whole text is parsed first, so a syntax error is reported even inside a
    default that is not used."""
    try:
        parts = _Parser(text).parts(inside_braces=False)
        value = _evaluate(parts, lookup)
    except RecursionError:  # `${A:-${A:-...}}`, thousands deep
        raise InterpolationError("variables nested too deeply") from None
    return Substituted(value) if any(isinstance(p, _Variable) for p in parts) else value


def interpolate_values(document: dict[str, object], lookup: Lookup) -> None:
    """Interpolate every string value of `document` in place (keys stay as
    they are), in document order. Arrays and tables are walked without
    recursion: TOML may nest them as deep as its parser allows."""
    stack: list[tuple[tuple[str | int, ...], dict[str, object] | list[object], _Items]] = [
        ((), document, iter(list(document.items())))
    ]
    while stack:
        path, container, items = stack[-1]
        item = next(items, None)
        if item is None:
            stack.pop()
            continue
        key, value = item
        if isinstance(value, str):
            try:
                container[key] = interpolate(value, lookup)  # type: ignore[index]
            except InterpolationError as error:
                raise InterpolationError(error.problem, (*path, key)) from None
        elif isinstance(value, dict):
            stack.append(((*path, key), value, iter(list(value.items()))))
        elif isinstance(value, list):
            stack.append(((*path, key), value, iter(list(enumerate(value)))))


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0

    def parts(self, *, inside_braces: bool) -> tuple[_Part, ...]:
        """Literal text and variables up to the end, or up to the `}` that
        closes the enclosing `${` (left for the caller) when `inside_braces`."""
        text = self.text
        parts: list[_Part] = []
        literal: list[str] = []
        stops = "$}" if inside_braces else "$"
        while True:
            start = self.position
            end = _find_any(text, stops, start)
            literal.append(text[start:end])
            self.position = end
            if end == len(text) or text[end] == "}":
                break
            following = text[end + 1 : end + 2]
            if following == "$":
                literal.append("$")
                self.position = end + 2
                continue
            if following == "{":
                variable = self._braced()
            else:
                name = _NAME.match(text, end + 1)
                if name is None:  # `$1`, `$?`, `$(`: not compose's, left for the shell
                    literal.append("$")
                    self.position = end + 1
                    continue
                variable = _Variable(name[0], braced=False)
                self.position = name.end()
            _flush(literal, parts)
            parts.append(variable)
        _flush(literal, parts)
        return tuple(parts)

    def _braced(self) -> _Variable:
        text = self.text
        start = self.position
        name = _NAME.match(text, start + 2)
        if name is None:
            if start + 2 >= len(text):
                raise InterpolationError(f"'{self._shown(start)}' is not closed by '}}'")
            raise InterpolationError(
                f"invalid '{self._shown(start)}': a variable name is a letter or '_', "
                "then letters, digits or '_'"
            )
        position = name.end()
        if text.startswith("}", position):
            self.position = position + 1
            return _Variable(name[0], braced=True)
        operator = next((o for o in _OPERATORS if text.startswith(o, position)), None)
        if operator is None:
            if position >= len(text):
                raise InterpolationError(f"'{self._shown(start)}' is not closed by '}}'")
            raise InterpolationError(
                f"invalid '{self._shown(start)}': after the name, give '}}' or one of "
                + ", ".join(_OPERATORS)
                + " (${VAR:-default}, ${VAR:?message}, ${VAR:+alternative})"
            )
        self.position = position + len(operator)
        word = self.parts(inside_braces=True)
        if self.position >= len(text):
            raise InterpolationError(f"'{self._shown(start)}' is not closed by '}}'")
        self.position += 1  # the closing brace
        return _Variable(name[0], braced=True, operator=operator, word=word)

    def _shown(self, start: int) -> str:
        """The bad expression from its `${`, up to its first `}` or a few characters."""
        end = self.text.find("}", start)
        end = len(self.text) if end < 0 else end + 1
        shown = self.text[start:end]
        return shown if len(shown) <= _SHOWN else shown[: _SHOWN - 3] + "..."


def _flush(literal: list[str], parts: list[_Part]) -> None:
    """Move the literal text read so far into `parts`."""
    text = "".join(literal)
    literal.clear()
    if text:
        parts.append(text)


def _find_any(text: str, characters: str, start: int) -> int:
    """The first position from `start` of any of `characters`, or `len(text)`."""
    found = [i for i in (text.find(c, start) for c in characters) if i >= 0]
    return min(found, default=len(text))


def _evaluate(parts: tuple[_Part, ...], lookup: Lookup) -> str:
    return "".join(part if isinstance(part, str) else _value(part, lookup) for part in parts)


def _value(variable: _Variable, lookup: Lookup) -> str:
    name, operator = variable.name, variable.operator
    value = lookup(name)
    if operator is None:
        if value is None:
            raise InterpolationError(_unset(variable))
        return value
    # With a colon, an empty value counts as unset.
    given = value is not None and (value != "" or not operator.startswith(":"))
    if operator.endswith("-"):
        return value if given and value is not None else _evaluate(variable.word, lookup)
    if operator.endswith("+"):
        return _evaluate(variable.word, lookup) if given else ""
    if given and value is not None:  # `?`
        return value
    message = _evaluate(variable.word, lookup)
    state = "is not set" if value is None else "is empty"
    raise InterpolationError(f"variable '{name}' {state}" + (f": {message}" if message else ""))


def _unset(variable: _Variable) -> str:
    name = variable.name
    written = f"${{{name}}}" if variable.braced else f"${name}"
    return (
        f"variable '{name}' is not set: set it, give a default (${{{name}:-default}}), "
        f"or write ${written} for a literal {written}"
    )
