"""A small TOML emitter for config files: tables as `[a.b]` sections (a
table whose key is in `sections`, or one too long to read inline), short
tables of plain values inline (`env = { A = "1" }`), strings escaped as TOML
reads them back. What it writes, `tomllib.loads` reads back as the same data.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping, Sequence

__all__ = ["toml_document", "toml_key", "toml_value"]

Value = str | int | float | bool | Sequence["Value"] | Mapping[str, "Value"]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_INLINE_WIDTH = 88
_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}
# A literal string reads more easily for a regular expression or a Windows path;
# it cannot hold a quote, a newline or a control character other than a tab.
_LITERAL_SAFE = re.compile(r"[^'\x00-\x08\x0a-\x1f\x7f]*")


def toml_document(data: Mapping[str, Value], *, sections: Collection[str] = ()) -> str:
    """`data` as a TOML document. A table whose key is in `sections`, or
    whose parent's key is, is always a `[section]`; another is inline when it
    holds no table and fits a line."""
    lines: list[str] = []
    _table(lines, (), data, sections)
    return "\n".join(lines).strip("\n") + "\n"


def _table(
    lines: list[str], path: tuple[str, ...], table: Mapping[str, Value], sections: Collection[str]
) -> None:
    plain: list[tuple[str, Value]] = []
    nested: list[tuple[str, Mapping[str, Value]]] = []
    for key, value in table.items():
        if isinstance(value, Mapping) and _is_section(path, key, value, sections):
            nested.append((key, value))
        else:
            plain.append((key, value))
    # A table of tables only needs no header of its own; an empty one does.
    if path and (plain or not nested):
        if lines:
            lines.append("")
        lines.append("[" + ".".join(toml_key(part) for part in path) + "]")
    lines.extend(f"{toml_key(key)} = {toml_value(value)}" for key, value in plain)
    for key, value in nested:
        _table(lines, (*path, key), value, sections)


def _is_section(
    path: tuple[str, ...], key: str, table: Mapping[str, Value], sections: Collection[str]
) -> bool:
    if (
        key in sections
        or (bool(path) and path[-1] in sections)
        or any(isinstance(value, Mapping) for value in table.values())
    ):
        return True
    return len(key) + 3 + len(toml_value(table)) > _INLINE_WIDTH


def toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _basic_string(key)


def toml_value(value: Value) -> str:
    """One value on one line: a string, number, boolean, array or inline table."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    return "[" + ", ".join(toml_value(item) for item in value) + "]"


def _float(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    text = repr(value)
    # Python writes 1e+16 where TOML needs a fraction or an exponent it reads as a float.
    return text if any(mark in text for mark in ".e") else text + ".0"


def _string(text: str) -> str:
    if "\\" in text and _LITERAL_SAFE.fullmatch(text):
        return f"'{text}'"
    return _basic_string(text)


def _basic_string(text: str) -> str:
    return '"' + "".join(_escaped(character) for character in text) + '"'


def _escaped(character: str) -> str:
    if character in _ESCAPES:
        return _ESCAPES[character]
    if character < " " or character == "\x7f":
        return f"\\u{ord(character):04x}"
    return character
