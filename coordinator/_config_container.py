"""The container tables of a config file: what `healthdaemons export` needs to
run a service in an image (docs/export.md). A local run ignores them, but
`check` and `up` still check them, so that a mistake shows before an export.

`[container]` at the top level gives the default image (and where the
config file's directory is inside it); `[services.ID.container]` gives a
service its own image, command, ports, volumes or container readiness.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from statemachines import EntryKind

from ._config_table import Problem, Table, key_path

__all__ = [
    "ContainerDefaults",
    "ServiceContainer",
    "read_container_defaults",
    "read_service_container",
]

DEFAULT_WORKDIR = "/app"

_DEFAULT_KEYS = ("image", "workdir")
_SERVICE_KEYS = ("image", "command", "workdir", "ports", "volumes", "ready")
_CONTAINER_READY_SOURCES = ("port", "url", "script")
# compose's short syntax, without ranges: [[HOST_IP:]HOST_PORT:]CONTAINER_PORT[/PROTOCOL]
_PORT = re.compile(
    r"(?:(?:(?P<ip>\[[0-9a-fA-F:.]+\]|[0-9.]+):)?(?P<host>\d+):)?(?P<container>\d+)(?:/(?:tcp|udp))?"
)
# SOURCE:TARGET[:MODE] or a lone TARGET (an anonymous volume)
# compose's rule for a named volume; a source with a `/` is a path.
_VOLUME_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")
_VOLUME_MODES = frozenset({"ro", "rw", "z", "Z", "cached", "delegated", "consistent", "nocopy"})


@dataclass(frozen=True, slots=True)
class ContainerDefaults:
    """The top-level `[container]` table."""

    image: str | None = None
    workdir: str = DEFAULT_WORKDIR


@dataclass(frozen=True, slots=True)
class ServiceContainer:
    """A service's `[services.ID.container]` table, as written (checked)."""

    image: str | None = None
    command: str | tuple[str, ...] | None = None
    workdir: str | None = None
    ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    ready: Table | None = None
    """Readiness inside a container (port, url or script), instead of `ready`."""


def read_container_defaults(top: Table) -> ContainerDefaults:
    table = top.table("container")
    if table is None:
        return ContainerDefaults()
    table.only(_DEFAULT_KEYS)
    return ContainerDefaults(_image(table), _workdir(table) or DEFAULT_WORKDIR)


def read_service_container(service: Table, kind: EntryKind) -> ServiceContainer | None:
    table = service.table("container")
    if table is None:
        return None
    table.only(_SERVICE_KEYS)
    # `[]`: the image's own entry point and command (an official image's server).
    if kind is EntryKind.CHECK:
        for name in ("command", "workdir", "ports", "volumes"):
            if table.has(name):
                raise table.problem(name, "not allowed for a check (it runs no process)")
    command = () if table.values.get("command") == [] else table.command("command")
    ready = table.table("ready")
    if ready is not None:
        if kind is EntryKind.ONESHOT:
            raise table.problem("ready", "not allowed for a oneshot (it is ready once it exits 0)")
        given = [source for source in _CONTAINER_READY_SOURCES if ready.has(source)]
        if not given:
            raise Problem(
                f"{key_path(*ready.path)}: give one of port, url or script "
                "(a container's readiness is polled: log_line and notify have no equivalent)",
                service.entry,
            )
    return ServiceContainer(
        image=_image(table),
        command=tuple(command) if isinstance(command, list) else command,
        workdir=_workdir(table),
        ports=_ports(table),
        volumes=_volumes(table),
        ready=ready,
    )


def _image(table: Table) -> str | None:
    image = table.string("image")
    if image is not None and any(character.isspace() for character in image):
        raise table.problem("image", f"must be an image reference without spaces, not {image!r}")
    return image


def _workdir(table: Table) -> str | None:
    workdir = table.string("workdir")
    if workdir is not None and not posixpath.isabs(workdir):
        raise table.problem("workdir", f"must be an absolute path, not {workdir!r}")
    return workdir


def _ports(table: Table) -> tuple[str, ...]:
    value = table.values.get("ports", [])
    if not isinstance(value, list):
        raise table.problem("ports", f"must be an array, not {type(value).__name__}")
    ports: list[str] = []
    for index, item in enumerate(value):
        text = str(item) if isinstance(item, int) and not isinstance(item, bool) else item
        match = _PORT.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise table.problem(
                "ports",
                f"must be a port or 'HOST:CONTAINER' (as in compose: 8080, \"8080:80\", "
                f'"127.0.0.1:8080:80/tcp"), not {item!r}',
                index,
            )
        for side in ("host", "container"):
            if match[side] is not None and not 1 <= int(match[side]) <= 65535:
                raise table.problem("ports", f"port {match[side]} is not from 1 to 65535", index)
        ports.append(text)
    return tuple(ports)


def _volumes(table: Table) -> tuple[str, ...]:
    volumes = table.strings("volumes", "volumes ('SOURCE:TARGET[:ro]')")
    for index, volume in enumerate(volumes):
        parts = volume.split(":")
        target = parts[0] if len(parts) == 1 else parts[1]
        modes = parts[2].split(",") if len(parts) == 3 else []
        if len(parts) > 3 or not posixpath.isabs(target) or not set(modes) <= _VOLUME_MODES:
            raise table.problem(
                "volumes",
                "must be 'SOURCE:TARGET[:MODE]' with an absolute TARGET (as in compose: "
                f'"pgdata:/var/lib/postgresql/data", "./conf:/etc/app:ro"), not {volume!r}',
                index,
            )
        source = parts[0] if len(parts) > 1 else "/"
        named = not source.startswith((".", "/", "~")) and "/" not in source
        if named and not _VOLUME_NAME.fullmatch(source):
            raise table.problem(
                "volumes",
                f"invalid volume name {source!r}: use letters, digits, '_', '.' and '-', "
                "starting with a letter or digit (or './' before a folder beside the config "
                "file)",
                index,
            )
    return tuple(volumes)
