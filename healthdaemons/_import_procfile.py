"""A Procfile as services of this format (docs/import.md): each `name:
command` line a daemon, run by a shell as foreman and honcho run it, with
`PORT` set as they set it (5000, then 5100, ... in the file's order).

A Procfile says nothing about readiness: a daemon whose command uses
`$PORT` (or names its port plainly: `--port 8000`, `-b 0.0.0.0:8000`) is
ready once that port listens; any other is ready once it has started. A
`release` line (Heroku's release phase) becomes a oneshot every other
service requires.
"""

from __future__ import annotations

import re

from ._import_model import Draft, ImportProblem, Notes
from ._import_ready import STARTED, STARTED_HOW
from ._toml_writer import Value

__all__ = ["read_procfile"]

_LINE = re.compile(r"(?P<name>[A-Za-z0-9_-]+)\s*:\s*(?P<command>.*\S)\s*")
_FIRST_PORT = 5000
_PORT_STEP = 100
_USES_PORT = re.compile(r"\$(?:PORT\b|\{PORT\})")
_NAMED_PORT = re.compile(
    r"(?:--port[= ]|-p\s*|--bind[= ]\S*:|-b\s*\S*:|--listen[= ]\S*:)(?P<port>\d{2,5})\b"
)


def read_procfile(file: str, text: str, notes: Notes) -> list[Draft]:
    drafts: list[Draft] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.fullmatch(line.strip())
        if match is None:
            raise _problem(file, number, line)
        name = match["name"]
        if name in seen:
            raise _line_problem(file, number, f"{name!r} is already on line {seen[name]}")
        seen[name] = number
        if name == "release":
            drafts.append(Draft(name, {"kind": "oneshot", "command": _shell(match["command"])}))
            continue
        # foreman numbers every line, a release line too
        port = _FIRST_PORT + _PORT_STEP * len(drafts)
        drafts.append(_service(name, match["command"], port, notes))
    if not drafts:
        raise _line_problem(file, 0, "no 'name: command' line")
    release = next((draft for draft in drafts if draft.name == "release"), None)
    if release is not None:
        for draft in drafts:
            if draft is not release:
                draft.requires.append("release")
        notes.approximated(
            "release",
            "",
            "Heroku's release phase: a oneshot every other service requires",
        )
    return drafts


def _service(name: str, command: str, port: int, notes: Notes) -> Draft:
    table: dict[str, Value] = {"command": _shell(command), "env": {"PORT": str(port)}}
    named = _NAMED_PORT.search(command)
    if named is not None and not 1 <= int(named["port"]) <= 65535:
        named = None
    if _USES_PORT.search(command):
        table["ready"] = {"port": port}
        notes.approximated(name, "", f"ready once $PORT ({port}) listens")
    elif named is not None:
        table["ready"] = {"port": int(named["port"])}
        notes.approximated(name, "", f"ready once port {named['port']} listens (from its command)")
    else:
        table["ready"] = dict(STARTED)
        notes.approximated(name, "", STARTED_HOW)
    return Draft(name, table, [], "")


def _shell(command: str) -> str:
    """The command's `$` are the shell's, not the config file's variables."""
    return command.replace("$", "$$")


def _problem(file: str, number: int, line: str) -> ImportProblem:
    return _line_problem(file, number, f"not a 'name: command' line: {line.strip()[:60]!r}")


def _line_problem(file: str, number: int, message: str) -> ImportProblem:
    where = f" line {number}:" if number else ""
    return ImportProblem(f"{file}:{where} {message}")
