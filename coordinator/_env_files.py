"""Environment files: a service's `env_file`, and the project's `.env` beside
the config file, in the dotenv format (read by python-dotenv's parser).

As in docker compose, an unquoted or double-quoted value is interpolated
(`${VAR}`, see `_interpolation`) and a single-quoted one is taken as it is.
A variable in a value is looked up first among the lines above it (and in
the service's earlier env files), then in the process environment (and the
project's `.env`). A line with a name alone (`DEBUG`) passes that variable
on from the environment, and is left out if it is not set there.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path

from dotenv.parser import parse_stream

from ._file_reading import UnreadableFile, read_regular_file
from ._interpolation import InterpolationError, interpolate
from ._validation import env_name_problem, text_problem

__all__ = ["MAX_ENV_FILE_BYTES", "EnvFileProblem", "env_file_values", "read_env_file"]

MAX_ENV_FILE_BYTES = 1024 * 1024
"""An env file larger than this is refused: a mistaken path must not fill the memory."""


class EnvFileProblem(Exception):
    """What is wrong with an env file; `index` is its place in a list of them."""

    def __init__(self, problem: str, index: int | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.index = index


def env_file_values(
    value: object, base: Path, variables: Mapping[str, str]
) -> dict[str, str] | None:
    """The variables of a service's `env_file` (one path or a list of them,
    relative to `base`), later files overriding earlier ones; `None` when
    there are none to read. `variables` are those a value may refer to."""
    if value is None:
        return None
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list):
        raise EnvFileProblem(f"must be a string or an array of strings, not {_type(value)}")
    merged: dict[str, str] = {}
    for index, name in enumerate(names):
        where = None if isinstance(value, str) else index
        if not isinstance(name, str):
            raise EnvFileProblem(f"must be a string, not {_type(name)}", where)
        if not name.strip():
            raise EnvFileProblem("must not be empty", where)
        problem = text_problem(name)
        if problem is not None:
            raise EnvFileProblem(problem, where)
        # normpath, not resolve(): symbolic links in the path are kept, as for cwd.
        path = Path(os.path.normpath(base / name))
        try:
            merged.update(read_env_file(path, {**variables, **merged}))
        except EnvFileProblem as error:
            raise EnvFileProblem(f"{name}: {error.problem}", where) from error.__cause__
    return merged


def read_env_file(path: Path, variables: Mapping[str, str]) -> dict[str, str]:
    """The variables a dotenv file sets, in its order. `EnvFileProblem` (without
    the file's name) when it cannot be read or a line is not `NAME=value`."""
    try:
        data = read_regular_file(path, MAX_ENV_FILE_BYTES)
    except UnreadableFile as error:
        raise EnvFileProblem(str(error)) from error.__cause__
    if len(data) > MAX_ENV_FILE_BYTES:
        raise EnvFileProblem(
            f"too large: an env file may hold at most {MAX_ENV_FILE_BYTES:,} bytes"
        )
    try:
        text = data.decode()
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise EnvFileProblem(f"line {line}: not UTF-8 text: {error.reason}") from None
    values: dict[str, str] = {}
    for binding in parse_stream(io.StringIO(text)):
        original = binding.original.string
        # The parser counts blank lines before a binding as its own.
        line = binding.original.line + original[: len(original) - len(original.lstrip())].count(
            "\n"
        )
        if binding.error:
            raise EnvFileProblem(f"line {line}: not a NAME=value line")
        name = binding.key
        if name is None:  # a blank line or a comment
            continue
        problem = env_name_problem(name)
        if problem is not None:
            raise EnvFileProblem(f"line {line}: {problem}")
        if binding.value is None:  # `NAME` alone: passed on from the environment
            inherited = variables.get(name)
            if inherited is not None:
                values[name] = inherited
            continue
        value = binding.value
        if not _single_quoted(original):
            try:
                value = interpolate(value, lambda known: values.get(known, variables.get(known)))
            except InterpolationError as error:
                raise EnvFileProblem(f"line {line}: {error.problem}") from None
        problem = text_problem(value)
        if problem is not None:
            raise EnvFileProblem(f"line {line}: {name}: {problem}")
        values[name] = value
    return values


def _single_quoted(original: str) -> bool:
    """Whether the value of a dotenv line (`export 'KEY' = 'value' # note`) is in single quotes."""
    text = original.lstrip()
    if text.startswith("export") and text[6:7].isspace():
        text = text[6:].lstrip()
    if text.startswith("'"):  # a quoted name: skip to its closing quote
        text = text[text.find("'", 1) + 1 :]
    _, _, value = text.partition("=")
    return value.lstrip(" \t").startswith("'")


def _type(value: object) -> str:
    return type(value).__name__
