"""A config file read as data: each service's command, readiness, stop and
restart settings and container, typed, with nothing of a local run (no
programs looked for, no checks built). `healthdaemons export` carries it to
docker compose and Kubernetes (docs/export.md).
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ._command import Command
from ._config import CheckedFile, read_checked
from ._config_container import ServiceContainer
from ._config_schema import Service
from ._config_table import scalar
from ._defaults import (
    CHECK_TIMEOUT,
    GRACE_PERIOD,
    LIVENESS_FAILURES,
    LIVENESS_INTERVAL,
    LIVENESS_TIMEOUT,
    SCRIPT_TIMEOUT,
    SIGTERM_TIMEOUT,
)
from ._options import DaemonOptions, HealthCheckOptions, OneshotOptions, Options
from ._stop_signal import DEFAULT_STOP_SIGNAL

__all__ = ["ConfigFile", "ConfigProbe", "ConfigService", "ContainerImage", "read_config"]

Kind = Literal["daemon", "oneshot", "check"]
ProbeKind = Literal["port", "url", "script", "log_line", "notify"]
_PROBE_KINDS: tuple[ProbeKind, ...] = ("port", "url", "script", "log_line", "notify")
Argv = str | tuple[str, ...]
"""A command: a string runs as `sh -c STRING`, a tuple is an argv."""


@dataclass(frozen=True, slots=True)
class ConfigProbe:
    """A readiness (`ready`) or liveness check, as written."""

    kind: ProbeKind
    port: int | None = None
    url: str | None = None
    script: Argv | None = None
    log_line: str | None = None
    stream: str = "both"
    timeout: float = CHECK_TIMEOUT
    interval: float | None = None
    """Seconds between checks once one has passed; `None`: the default
    trigger (every 30 s while passing, every 1 s while failing)."""
    grace_period: float = GRACE_PERIOD
    failures: int = 1
    """Liveness: failures in a row that restart the daemon (readiness: 1)."""
    owned: bool = True


@dataclass(frozen=True, slots=True)
class ContainerImage:
    """Where a service runs when exported: its image and the command there."""

    image: str
    command: Argv | None
    """The command in the container; `None`: the image's own entry point
    and command (a service whose `container.command` is `[]`)."""
    workdir: str | None
    """The service's working directory in the container; `None`: the image's
    own (an image of the service's own, with no `cwd` or `container.workdir`)."""
    ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    own_image: bool = False
    """`True` when the service names its image; `False` for the default image."""


@dataclass(frozen=True, slots=True)
class ConfigService:
    id: str
    kind: Kind
    requires: tuple[str, ...]
    command: Argv | None
    """The local command (`None` for a check)."""
    env: Mapping[str, str]
    """The `env` table as written (the env files are in `env_files`)."""
    env_files: tuple[Path, ...]
    """Absolute paths, in order (later ones win)."""
    user: str | int | None
    sigterm_timeout: float
    stop_signal: str
    """A signal name: `SIGTERM`, `SIGQUIT`, `SIGRTMIN+3`."""
    run_as_init: bool
    restart: Literal["always", "on-failure", "no"]
    max_restarts: int | None
    start_timeout: float | None
    ready: ConfigProbe | None
    """`None` only for a oneshot (ready once it exits 0)."""
    liveness: ConfigProbe | None
    once: bool
    exit_on_failure: bool
    watch: tuple[str, ...]
    log_file: str | None
    profiles: tuple[str, ...]
    image: ContainerImage | None
    """`None`: neither the service nor the file names an image."""
    container_ready: ConfigProbe | None
    """`[services.ID.container.ready]`: readiness inside a container, when
    the local one cannot be probed there (a `log_line`, say)."""

    @property
    def container_probe(self) -> ConfigProbe | None:
        """The readiness to probe in a container: `container.ready`, else `ready`."""
        return self.container_ready or self.ready


@dataclass(frozen=True, slots=True)
class ConfigFile:
    source: str
    """The config file, as named."""
    base: Path
    orphan_guard: bool
    services: tuple[ConfigService, ...]
    """Requirements first (the file's order among the others); disabled ones
    left out, those of every profile kept."""

    def service(self, id: str) -> ConfigService:
        return next(service for service in self.services if service.id == id)


def read_config(path: str | os.PathLike[str]) -> ConfigFile:
    """The config file at `path`, checked as `load_config(path)` checks it
    (programs not looked for: they may run elsewhere). Raises `ConfigError`."""
    config = read_checked(path)
    services = tuple(_service(config, service) for service in config.services)
    return ConfigFile(config.path, config.base, config.orphan_guard, services)


def _service(config: CheckedFile, service: Service) -> ConfigService:
    table = service.table or {}
    options = service.options
    command = options.exec if isinstance(options, DaemonOptions | OneshotOptions) else None
    assert command is None or isinstance(command, Command)
    argv = None if command is None else _argv(command.command)
    watch = None if isinstance(options, HealthCheckOptions) else options.watch
    daemon = options if isinstance(options, DaemonOptions) else None
    ready_table = table.get("ready")
    live_table = table.get("liveness")
    env_file = _value(table, "env_file", [])
    env_files = [env_file] if isinstance(env_file, str) else list(env_file)  # type: ignore[call-overload]
    container = service.container
    return ConfigService(
        id=service.id,
        kind=_kind(options),
        requires=tuple(service.requires),
        command=argv,
        env={name: str(value) for name, value in _table(table, "env").items()},
        env_files=tuple(config.base / str(name) for name in env_files),
        user=None if command is None else command.user,
        sigterm_timeout=SIGTERM_TIMEOUT if command is None else command.sigterm_timeout,
        stop_signal=DEFAULT_STOP_SIGNAL if command is None else str(command.stop_signal),
        run_as_init=command is not None and (command.run_as_init or config.orphan_guard),
        restart="always" if daemon is None else daemon.restart,
        max_restarts=None if isinstance(options, HealthCheckOptions) else options.max_restarts,
        start_timeout=None if daemon is None else daemon.start_timeout,
        ready=_probe(ready_table, liveness=False) if isinstance(ready_table, dict) else None,
        liveness=_probe(live_table, liveness=True) if isinstance(live_table, dict) else None,
        once=isinstance(options, OneshotOptions) and options.once,
        exit_on_failure=not isinstance(options, HealthCheckOptions) and options.exit_on_failure,
        watch=() if watch is None else tuple(watch.patterns),
        log_file=None if command is None or command.log is None else str(command.log.path),
        profiles=service.profiles,
        image=_image(config, table, container, argv),
        container_ready=(
            _probe(container.ready.values, liveness=False)
            if container is not None and container.ready is not None
            else None
        ),
    )


def _kind(options: Options) -> Kind:
    if isinstance(options, DaemonOptions):
        return "daemon"
    return "oneshot" if isinstance(options, OneshotOptions) else "check"


def _image(
    config: CheckedFile,
    table: Mapping[str, object],
    container: ServiceContainer | None,
    command: Argv | None,
) -> ContainerImage | None:
    own = container.image if container is not None else None
    image = own or config.container.image
    if image is None:
        return None
    in_container: Argv | None = command
    if container is not None and container.command is not None:
        in_container = container.command or None  # [] : the image's own command
    workdir = container.workdir if container is not None and container.workdir else None
    cwd = table.get("cwd")
    if workdir is None and (own is None or command is None or isinstance(cwd, str)):
        # The project's folder is in the default image; an image of the service's
        # own keeps its WORKDIR, unless the service names a `cwd` (a check's
        # script runs in the project's folder, as it does here).
        root = config.container.workdir
        workdir = posixpath.normpath(posixpath.join(root, cwd)) if isinstance(cwd, str) else root
    return ContainerImage(
        image=image,
        command=in_container,
        workdir=workdir,
        ports=container.ports if container is not None else (),
        volumes=container.volumes if container is not None else (),
        own_image=own is not None,
    )


def _probe(table: Mapping[str, object], *, liveness: bool) -> ConfigProbe:
    kind = next(k for k in _PROBE_KINDS if table.get(k) not in (None, False))
    default_timeout = (
        SCRIPT_TIMEOUT if kind == "script" else LIVENESS_TIMEOUT if liveness else CHECK_TIMEOUT
    )
    interval = _number(table, "interval")
    timeout = _number(table, "timeout")
    grace_period = _number(table, "grace_period")
    return ConfigProbe(
        kind=kind,
        port=int(_value(table, "port", 0)) if kind == "port" else None,  # type: ignore[call-overload]
        url=str(_value(table, "url", "")) if kind == "url" else None,
        script=_argv(table.get("script")) if kind == "script" else None,
        log_line=str(table.get("log_line")) if kind == "log_line" else None,
        stream=str(table.get("stream", "both")),
        timeout=default_timeout if timeout is None else timeout,
        interval=LIVENESS_INTERVAL if liveness and interval is None else interval,
        grace_period=GRACE_PERIOD if grace_period is None else grace_period,
        failures=int(_value(table, "failures", LIVENESS_FAILURES if liveness else 1)),  # type: ignore[call-overload]
        owned=bool(_value(table, "owned", True)),
    )


def _argv(value: object) -> Argv:
    if isinstance(value, str):
        return str(value)
    assert isinstance(value, Sequence)
    return tuple(str(item) for item in value)


def _value(table: Mapping[str, object], name: str, default: object) -> object:
    """A value as the config's checks read it (`"${PORT}"` is the number it names)."""
    return scalar(table.get(name, default))


def _table(table: Mapping[str, object], name: str) -> Mapping[str, object]:
    value = table.get(name, {})
    return value if isinstance(value, dict) else {}


def _number(table: Mapping[str, object], name: str) -> float | None:
    value = _value(table, name, None)
    return None if value is None else float(value)  # type: ignore[arg-type]
