"""Config files: a system described in TOML, checked whole before anything starts.

`load_config(path)` reads the file (see docs/config.md) and returns the
`Daemons` it describes; every mistake is a `ConfigError` whose message is
`FILE: KEY.PATH: problem`. `start_layers` and `describe_plan` show the order
in which a system starts and stops (`healthdaemons check FILE`).
"""

from __future__ import annotations

import ast
import heapq
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ._config_container import ContainerDefaults, read_container_defaults
from ._config_hints import TOP_KEY_HINTS
from ._config_logs import check_log_files, with_log_dir
from ._config_schema import Service, read_service
from ._config_table import Problem, Table, key_path
from ._config_variables import interpolated
from ._daemons import Daemons
from ._file_reading import UnreadableFile, read_regular_file
from ._log_file import LogDir
from ._options import DaemonOptions, OneshotOptions
from ._programs import command_problem
from ._selection import read_selection_keys, select_services
from .errors import ConfigError, ValidationError

__all__ = ["CheckedFile", "describe_plan", "load_config", "read_checked", "start_layers"]

MAX_CONFIG_BYTES = 16 * 1024 * 1024
"""A config file larger than this is refused (a system of 20,000 services
takes about 2 MB): a mistaken path must not fill the memory."""

_TOP_KEYS = ("orphan_guard", "container", "services")
_DECLARED_TWICE = re.compile(
    r"^Cannot (?:declare (?P<a>\(.*\)) twice|redefine namespace (?P<b>\(.*\))) "
    r"\(at line (?P<line>\d+), column \d+\)$"
)


def load_config(
    path: str | os.PathLike[str],
    *,
    check_programs: bool = False,
    log_dir: LogDir | None = None,
    services: Sequence[str] = (),
    profiles: Sequence[str] = (),
    dependencies: bool = True,
) -> Daemons:
    """The system that the TOML file at `path` describes.

    Services may come in any order: they are added in a stable dependency
    order (file order among services that could come in either order).
    Relative `cwd`s are relative to the file's directory, the default `cwd`.
    Raises `ConfigError` (a `ValidationError`) for any mistake, missing or
    unreadable files included, before anything runs.

    `check_programs=True` also checks this machine, as `healthdaemons check`
    and `up` do: every program a service runs is found (on its PATH, or
    from its `cwd`) and executable by its `user`, who exists, and each
    `cwd` is a directory. It is off by default, as for the builder: a
    system may be drawn, simulated or run on another machine.

    path: str | os.PathLike[str], *, check_programs: bool = False, log_dir: LogDir | None = None
    path: str | os.PathLike[str],
    *,
    check_programs: bool = False,
    services: Sequence[str] = (),
    profiles: Sequence[str] = (),
    dependencies: bool = True,
    """
    name = os.fspath(path)
    try:
        _, orphan_guard, _, read = _read_parts(name)
        read = with_log_dir(read, log_dir)
        ordered = _dependency_order(read)
        chosen = select_services(ordered, _ids(services), _ids(profiles), dependencies)
        daemons = _build(chosen, orphan_guard)
        if check_programs:
            running = set(daemons.ids)
            kept = [service for service in read if service.id in running]
            _check_programs(kept)
            check_log_files(kept, log_dir)
        return daemons
    except Problem as problem:
        raise ConfigError(f"{name}: {problem}", entry=problem.entry) from problem.__cause__


@dataclass(frozen=True, slots=True)
class CheckedFile:
    """A config file read whole and checked, as `load_config` checks it, with
    what a run does not need: each service's table as written (variables
    substituted) and the container tables. `read_config` makes it data."""

    path: str
    base: Path
    """The file's directory (symbolic links followed): relative paths start here."""
    orphan_guard: bool
    container: ContainerDefaults
    services: tuple[Service, ...]
    """Every service but the disabled ones (whatever its profiles), requirements first."""


def read_checked(path: str | os.PathLike[str]) -> CheckedFile:
    """The file at `path`, checked as `load_config(path)` checks it (programs
    not looked for). Raises `ConfigError`."""
    name = os.fspath(path)
    try:
        base, orphan_guard, defaults, read = _read_parts(name)
        # Every profile active: an export carries the profiles (compose has them too).
        every_profile = list(dict.fromkeys(p for service in read for p in service.profiles))
        ordered = select_services(_dependency_order(read), [], every_profile, True)
        _build(ordered, orphan_guard)  # the builder's own checks
        return CheckedFile(name, base, orphan_guard, defaults, tuple(ordered))
    except Problem as problem:
        raise ConfigError(f"{name}: {problem}", entry=problem.entry) from problem.__cause__


def start_layers(daemons: Daemons) -> list[list[str]]:
    """The ids by start layer: layer 0 requires nothing, and layer k holds the
    entries whose deepest requirement is in layer k-1 (each in the system's order).

    Each entry starts as soon as its own requirements are ready, so the layers
    show the earliest order in which entries can start, not rounds.
    """
    depth: dict[str, int] = {}
    layers: list[list[str]] = []
    for spec in daemons.entries:  # requirements always come first
        layer = 1 + max((depth[required] for required in spec.requires), default=-1)
        depth[spec.id] = layer
        if layer == len(layers):
            layers.append([])
        layers[layer].append(spec.id)
    return layers


def describe_plan(daemons: Daemons, path: str | os.PathLike[str]) -> str:
    """What `healthdaemons check FILE` prints (without a final newline):

    app.toml: 4 services, valid
    start order (each starts as soon as its own requirements are ready):
      1. store
      2. migrate
      3. api, worker
    shutdown order (dependents first):
      1. api, worker
      2. migrate
      3. store
    """
    layers = start_layers(daemons)
    count = len(daemons)
    lines = [
        f"{os.fspath(path)}: {count} service{'' if count == 1 else 's'}, valid",
        "start order (each starts as soon as its own requirements are ready):",
        *_numbered(layers),
        "shutdown order (dependents first):",
        *_numbered(layers[::-1]),
    ]
    return "\n".join(lines)


def _numbered(layers: Sequence[Sequence[str]]) -> list[str]:
    return [f"  {number}. {', '.join(layer)}" for number, layer in enumerate(layers, 1)]


# Reading


def _read_parts(name: str) -> tuple[Path, bool, ContainerDefaults, list[Service]]:
    """The file's directory, `orphan_guard`, the container defaults and each
    service checked on its own (in file order)."""
    data = _read_toml(name)  # first: it tells a bad path (a NUL in it) as a mistake
    base = Path(name).resolve().parent
    data, variables = interpolated(data, base)
    orphan_guard, defaults, read = _read_services(data, base, variables)
    return base, orphan_guard, defaults, read


def _read_toml(name: str) -> dict[str, object]:
    data = _read_file(name)
    try:
        return tomllib.loads(data.decode())
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - data.rfind(b"\n", 0, error.start)
        where = f"at line {line}, column {column}"
        raise Problem(f"invalid TOML: not UTF-8 text: {error.reason} ({where})") from error
    except tomllib.TOMLDecodeError as error:
        raise _toml_problem(error) from error
    except RecursionError as error:
        raise Problem("invalid TOML: arrays or tables nested too deeply") from error
    except ValueError as error:  # an integer with more digits than Python converts
        # Without Python's advice to call sys.set_int_max_str_digits().
        raise Problem(f"invalid TOML: {str(error).partition(';')[0]}") from error


def _read_file(name: str) -> bytes:
    """The bytes of a regular file of at most `MAX_CONFIG_BYTES`."""
    try:
        data = read_regular_file(name, MAX_CONFIG_BYTES)
    except UnreadableFile as error:
        raise Problem(str(error)) from error.__cause__
    if len(data) > MAX_CONFIG_BYTES:
        raise Problem(f"too large: a config file may hold at most {MAX_CONFIG_BYTES:,} bytes")
    return data


def _toml_problem(error: tomllib.TOMLDecodeError) -> Problem:
    """`duplicate service 'db' (at line 7)` rather than tomllib's
    `Cannot declare ('services', 'db') twice (at line 7, column 13)`."""
    message = str(error)
    match = _DECLARED_TWICE.match(message)
    if match:
        try:
            keys = ast.literal_eval(match["a"] or match["b"])
        except (ValueError, SyntaxError):  # pragma: no cover (tomllib prints a tuple)
            keys = ()
        if isinstance(keys, tuple) and len(keys) == 2 and keys[0] == "services":
            id = str(keys[1])
            return Problem(f"duplicate service {id!r} (at line {match['line']})", id)
    return Problem(f"invalid TOML: {message}")


def _read_services(
    data: dict[str, object], base: Path, variables: Mapping[str, str]
) -> tuple[bool, ContainerDefaults, list[Service]]:
    top = Table((), data)
    top.only(_TOP_KEYS, TOP_KEY_HINTS)
    orphan_guard = top.boolean("orphan_guard", False)
    defaults = read_container_defaults(top)
    services = top.table("services")
    if services is None or not services.values:
        raise Problem("no services: add a [services.NAME] table")
    tables = services.values
    return (
        orphan_guard,
        defaults,
        [
            read_selection_keys(read_service(id, tables[id], tables, base, variables), tables[id])
            for id in tables
        ],
    )


def _ids(names: Sequence[str]) -> list[str]:
    """A list of names given as a list (a lone string is a mistake, not its letters)."""
    if isinstance(names, str):
        raise TypeError(f"give a list of names, not the string {names!r}")
    return list(names)


# Ordering and building


def _dependency_order(services: list[Service]) -> list[Service]:
    """A topological order: at each step, the first service in file order
    whose requirements are all placed. `Problem` for a cycle.

    O(n log n + requirements), whatever the file's order: each service
    counts its unplaced requirements, and a heap of file positions holds the
    services whose count is zero.
    """
    position = {service.id: index for index, service in enumerate(services)}
    waiting = [len(service.requires) for service in services]
    dependents: list[list[int]] = [[] for _ in services]
    for index, service in enumerate(services):
        for required in service.requires:
            dependents[position[required]].append(index)
    startable = [index for index, count in enumerate(waiting) if count == 0]
    heapq.heapify(startable)
    ordered: list[Service] = []
    while startable:
        index = heapq.heappop(startable)
        ordered.append(services[index])
        for dependent in dependents[index]:
            waiting[dependent] -= 1
            if waiting[dependent] == 0:
                heapq.heappush(startable, dependent)
    if len(ordered) < len(services):
        cycle = _find_cycle([s for i, s in enumerate(services) if waiting[i] > 0])
        raise Problem(f"services form a cycle: {' -> '.join(cycle)}", cycle[0])
    return ordered


def _find_cycle(blocked: list[Service]) -> list[str]:
    """One cycle among services that each wait for another of them, from its
    earliest service in file order, which it ends with again."""
    requires = {service.id: service.requires for service in blocked}
    position = {service.id: index for index, service in enumerate(blocked)}
    walk: dict[str, int] = {}  # each id's step in the walk
    current = blocked[0].id
    while current not in walk:
        walk[current] = len(walk)
        current = next(required for required in requires[current] if required in requires)
    cycle = list(walk)[walk[current] :]
    start = min(range(len(cycle)), key=lambda index: position[cycle[index]])
    cycle = cycle[start:] + cycle[:start]
    return [*cycle, cycle[0]]


def _build(services: list[Service], orphan_guard: bool) -> Daemons:
    daemons = Daemons.of(orphan_guard=orphan_guard)
    for service in services:
        options = service.options
        try:
            if isinstance(options, DaemonOptions):
                daemons = daemons.add_daemon(service.id, options)
            elif isinstance(options, OneshotOptions):
                daemons = daemons.add_oneshot(service.id, options)
            else:
                daemons = daemons.add_health_check(service.id, options)
        except ValidationError as error:
            # What the file's checks let through (a NUL in a command, say).
            where = key_path("services", service.id)
            raise Problem(f"{where}: {error}", service.id) from error
    return daemons


def _check_programs(services: list[Service]) -> None:
    """`Problem` for the first service, in file order, that could not start here."""
    for service in services:
        for key, command in service.commands:
            found = command_problem(command)
            if found is not None:
                option, problem = found
                where = key if option == "command" else option
                raise Problem(
                    f"{key_path('services', service.id, *where.split('.'))}: {problem}", service.id
                )
