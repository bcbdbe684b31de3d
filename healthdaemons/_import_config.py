"""`healthdaemons import`: a docker compose file, a process-compose file or a
Procfile as a config file of this format (docs/import.md), with a report of
what was not carried over, and why, at its top.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from ._fidelity import Fidelity
from ._import_compose import read_compose
from ._import_model import (
    Draft,
    Imported,
    ImportNote,
    ImportProblem,
    ImportReport,
    Notes,
    read_text,
    read_yaml,
    valid_id,
)
from ._import_process_compose import read_process_compose
from ._import_procfile import read_procfile
from ._toml_writer import Value, toml_document

__all__ = ["Format", "ImportProblem", "ImportReport", "Imported", "import_config"]

Format = Literal["compose", "process-compose", "procfile"]
FORMAT_NAMES: dict[Format, str] = {
    "compose": "docker compose",
    "process-compose": "process-compose",
    "procfile": "Procfile",
}
_SECTIONS = ("services", "ready", "liveness", "container")
_FIRST_KEYS = ("kind", "command")


def import_config(source: Path, format: Format | None = None) -> Imported:
    """The config file that runs what `source` describes. `format` `None`:
    a file named `Procfile*` is a Procfile, a YAML file with `processes:` a
    process-compose file, one with `services:` a compose file.
    Raises `ImportProblem` for input that cannot be imported."""
    # Errors name the file as it was given, as a config file's do; the report its name.
    name = str(source)
    if format is None and source.name.startswith("Procfile"):
        format = "procfile"
    notes = Notes()
    if format is not None and format not in FORMAT_NAMES:
        raise ImportProblem(
            f"{name}: unknown format {format!r}: give compose, process-compose or procfile"
        )
    if format == "procfile":
        drafts = read_procfile(name, read_text(source), notes)
    else:
        data = read_yaml(source)
        format = format or _detected(name, data)
        if format == "compose":
            top = _top(name, data, "services", "a compose file")
            drafts = read_compose(name, top, notes, source.parent)
        else:
            top = _top(name, data, "processes", "a process-compose file")
            drafts = read_process_compose(name, top, notes, source.parent)
    return _written(name, source.name, FORMAT_NAMES[format], drafts, notes)


def _detected(name: str, data: object) -> Format:
    if isinstance(data, dict) and "processes" in data:
        return "process-compose"
    if isinstance(data, dict) and "services" in data:
        return "compose"
    raise ImportProblem(
        f"{name}: not a compose file (no top-level 'services:'), a process-compose "
        "file (no 'processes:') or a Procfile (not named Procfile): give the format"
    )


def _top(name: str, data: object, key: str, what: str) -> dict[str, object]:
    if not isinstance(data, dict) or key not in data:
        raise ImportProblem(f"{name}: not {what}: no top-level '{key}:'")
    return data


def _ids(drafts: list[Draft]) -> dict[str, str]:
    """Each service's id: its name when valid (reserved first, so that a
    renamed one cannot take it), else its name made valid."""
    ids = {draft.name: draft.name for draft in drafts if valid_id(draft.name) == draft.name}
    taken = set(ids.values())
    for draft in drafts:
        if draft.name in ids:
            continue
        base = valid_id(draft.name)
        id, number = base, 1
        while id in taken:
            number += 1
            id = f"{base}-{number}"
        ids[draft.name] = id
        taken.add(id)
    return ids


def _check_graph(name: str, drafts: list[Draft]) -> None:
    known = {draft.name for draft in drafts}
    requires = {draft.name: draft.requires for draft in drafts}
    for draft in drafts:
        for required in draft.requires:
            if required not in known:
                raise ImportProblem(f"{name}: {draft.where}: unknown service {required!r}")
            if required == draft.name:
                raise ImportProblem(f"{name}: {draft.where}: a service cannot depend on itself")
    _find_cycle(name, [draft.name for draft in drafts], requires)


def _find_cycle(name: str, services: list[str], requires: dict[str, list[str]]) -> None:
    """`ImportProblem` naming one cycle (from its first service in the file), if
    there is one; a walk with a stack of its own, so that a long chain is no
    recursion."""
    done: set[str] = set()
    for start in services:
        path = [start]
        stack = [iter(requires[start])]
        while stack:
            required = next(stack[-1], None)
            if required is None:
                done.add(path.pop())
                stack.pop()
            elif required in path:
                cycle = [*path[path.index(required) :], required]
                raise ImportProblem(f"{name}: services form a cycle: {' -> '.join(cycle)}")
            elif required not in done:
                path.append(required)
                stack.append(iter(requires[required]))


_VARIABLE = re.compile(r"\$\$|\$\{(?P<braced>[^}]*)\}|\$(?P<bare>[A-Za-z_]\w*)")
_NAME = re.compile(r"[A-Za-z_]\w*")


def _with_defaults(value: Value, names: set[str]) -> Value:
    """`value` with each variable used without a default (`$VAR`, `${VAR}`)
    written `${VAR:-}`: empty when unset, as compose and process-compose read
    it (here an unset variable is a mistake); `names` collects them."""
    if isinstance(value, str):
        return _VARIABLE.sub(lambda match: _defaulted(match, names), value)
    if isinstance(value, dict):
        return {key: _with_defaults(item, names) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_defaults(item, names) for item in value]
    return value


def _defaulted(match: re.Match[str], names: set[str]) -> str:
    name = match["bare"] or match["braced"]
    if not name or not _NAME.fullmatch(name):
        return match[0]
    names.add(name)
    return "${" + name + ":-}"


def _empty_when_unset(drafts: list[Draft], notes: Notes) -> None:
    names: set[str] = set()
    for draft in drafts:
        draft.table = {key: _with_defaults(value, names) for key, value in draft.table.items()}
    if names:
        listed = ", ".join(f"${name}" for name in sorted(names))
        notes.approximated(
            "",
            "variables",
            f"{listed} written ${{NAME:-}}: empty when unset, as there (here an unset "
            "variable is a mistake); if a shell was meant to read one, write $$NAME",
        )


def _disabled_requirements(drafts: list[Draft], notes: Notes) -> None:
    """A running service cannot require one that never runs (`check` says so):
    the requirement is left out, and the report says so."""
    disabled = {draft.name for draft in drafts if draft.table.get("disabled") is True}
    for draft in drafts:
        if draft.name in disabled:
            continue
        for required in [name for name in draft.requires if name in disabled]:
            draft.requires.remove(required)
            notes.lost(
                draft.name,
                f"{draft.where.rsplit('.', 1)[-1] or 'requires'}.{required}",
                f"{required} is disabled: left out of requires (enable it, then add it back)",
            )


def _written(name: str, source: str, format: str, drafts: list[Draft], notes: Notes) -> Imported:
    if not drafts:
        raise ImportProblem(f"{name}: no services to import")
    if all(draft.table.get("disabled") is True for draft in drafts):
        # `check` and `up` refuse a file with nothing to run.
        raise ImportProblem(f"{name}: every service is disabled: nothing to run")
    _check_graph(name, drafts)
    _empty_when_unset(drafts, notes)
    _disabled_requirements(drafts, notes)
    ids = _ids(drafts)
    renamed: list[ImportNote] = [
        ImportNote(
            ids[draft.name],
            "id",
            Fidelity.KEPT,
            f"renamed from {draft.name!r}: ids are lowercase words joined by dashes",
        )
        for draft in drafts
        if ids[draft.name] != draft.name
    ]
    services: dict[str, Value] = {}
    for draft in drafts:
        table = {key: draft.table[key] for key in _FIRST_KEYS if key in draft.table}
        if draft.requires:
            table["requires"] = list(dict.fromkeys(ids[required] for required in draft.requires))
        table.update((key, value) for key, value in draft.table.items() if key not in table)
        services[ids[draft.name]] = table
    report = ImportReport(
        source,
        format,
        len(drafts),
        tuple(renamed)
        + tuple(
            ImportNote(ids.get(note.service, note.service), note.key, note.fidelity, note.how)
            # the whole file's notes first
            for note in sorted(notes.taken, key=lambda note: note.service != "")
        ),
    )
    text = report.comment() + "\n" + toml_document({"services": services}, sections=_SECTIONS)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        # A key no value check saw (`deploy: {"\ud800": 1}`) is in the report.
        bad = error.object[error.start : error.end]
        raise ImportProblem(f"{name}: not UTF-8 text (a lone surrogate): {bad!r}") from None
    return Imported(text, report)
