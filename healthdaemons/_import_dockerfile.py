"""The command of an image compose builds: its Dockerfile's `ENTRYPOINT` and
`CMD`, for a service that names no command of its own. Run here from the
build context, it is an approximation (the image had its own files,
packages and `WORKDIR`), and the report says so."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["BuiltCommand", "built_command"]

_INSTRUCTION = re.compile(r"(?P<word>[A-Za-z]+)\s+(?P<rest>.*)", re.S)
_STAGE = re.compile(r"\S+(?:\s+AS\s+(?P<name>\S+))?\s*$", re.I)
_MAX_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class BuiltCommand:
    command: str | list[str]
    """An argv (the exec form), or a shell command line (the shell form)."""
    dockerfile: str
    """The Dockerfile, as the compose file's folder sees it."""
    context: str
    """The build context, where the command runs here."""


@dataclass(slots=True)
class _Stage:
    name: str | None
    entrypoint: str | list[str] | None = None
    cmd: str | list[str] | None = None
    words: list[str] = field(default_factory=list)


def built_command(folder: Path, build: object) -> BuiltCommand | None:
    """The command of the image `build` (compose's `build:`) makes, from its
    Dockerfile in `folder`, or `None` when it cannot be read or names none
    (the base image's own command, which this machine cannot see)."""
    context, dockerfile, target = _build(build)
    if context is None or "://" in context or context.startswith("git@"):
        return None
    path = Path(context) / (dockerfile or "Dockerfile")
    try:
        with open(folder / path, "rb") as file:
            text = file.read(_MAX_BYTES).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    stages = _stages(text)
    chosen = next((stage for stage in stages if stage.name == target), None) if target else None
    stage = chosen or (stages[-1] if stages else None)
    if stage is None:
        return None
    command = _combined(stage.entrypoint, stage.cmd)
    return None if command is None else BuiltCommand(command, path.as_posix(), context)


def _build(build: object) -> tuple[str | None, str | None, str | None]:
    if isinstance(build, str):
        return build, None, None
    if not isinstance(build, dict):
        return None, None, None
    context, dockerfile, target = (build.get(key) for key in ("context", "dockerfile", "target"))
    return (
        context if isinstance(context, str) else ".",
        dockerfile if isinstance(dockerfile, str) else None,
        target if isinstance(target, str) else None,
    )


def _stages(text: str) -> list[_Stage]:
    stages: list[_Stage] = []
    for line in _instructions(text):
        match = _INSTRUCTION.fullmatch(line)
        if match is None:
            continue
        word, rest = match["word"].upper(), match["rest"].strip()
        if word == "FROM":
            stage = _STAGE.match(rest)
            stages.append(_Stage(None if stage is None else stage["name"]))
        elif stages and word == "ENTRYPOINT":
            # A new entry point drops the command an earlier line or the base image gave.
            stages[-1].entrypoint, stages[-1].cmd = _form(rest), None
        elif stages and word == "CMD":
            stages[-1].cmd = _form(rest)
    return stages


def _instructions(text: str) -> list[str]:
    """The Dockerfile's instructions, each on one line (continuations joined,
    comments left out)."""
    lines: list[str] = []
    current = ""
    for line in text.splitlines():
        if not current and line.lstrip().startswith("#"):
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        lines.append(current + line)
        current = ""
    if current:
        lines.append(current)
    return lines


def _form(rest: str) -> str | list[str]:
    """The exec form (a JSON array of strings) as an argv, else the shell form."""
    if rest.startswith("["):
        try:
            words = json.loads(rest)
        except ValueError:
            return rest
        if isinstance(words, list) and all(isinstance(word, str) for word in words):
            return words
    return rest


def _combined(
    entrypoint: str | list[str] | None, cmd: str | list[str] | None
) -> str | list[str] | None:
    """What the container runs: a shell-form entry point alone, else the entry
    point's argv followed by the command's (a shell-form command runs as
    `/bin/sh -c`)."""
    if isinstance(entrypoint, str):
        return entrypoint or None
    if entrypoint is None:
        return cmd or None
    arguments = ["/bin/sh", "-c", cmd] if isinstance(cmd, str) else (cmd or [])
    return [*entrypoint, *arguments] or None
