"""The services of a config file: each TOML table checked key by key, and
turned into options (the readiness and liveness tables in `_config_checks`).

Every mistake is a `Problem` (`_config_table`) whose message starts with
the TOML key path; `load_config` adds the file name and raises it as a
`ConfigError`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from statemachines import EntryKind

from ._command import Command
from ._config_checks import read_liveness, read_ready
from ._config_container import ServiceContainer, read_service_container
from ._config_hints import SERVICE_KEY_HINTS
from ._config_table import Problem, Table, key_path, type_name
from ._defaults import (
    SIGTERM_TIMEOUT,
)
from ._env_files import EnvFileProblem, env_file_values
from ._log_file import LOG_BACKUPS, LOG_MAX_BYTES, MAX_LOG_BACKUPS, LogFile, parse_size
from ._options import (
    RESTART_POLICIES,
    DaemonOptions,
    HealthCheckOptions,
    OneshotOptions,
    Options,
    RestartPolicy,
)
from ._stop_signal import DEFAULT_STOP_SIGNAL, resolve_stop_signal, stop_signal_problem
from ._validation import (
    closest,
    did_you_mean,
    entry_id_problem,
    env_name_problem,
    text_problem,
    user_problem,
)
from ._watch import Watch, pattern_problem

__all__ = ["Service", "read_service"]

_PROCESS_KEYS = (
    "command",
    "env",
    "env_file",
    "cwd",
    "user",
    "sigterm_timeout",
    "run_as_init",
    "max_restarts",
    "stop_signal",
    "log_file",
    "log_max_bytes",
    "log_backups",
    "exit_on_failure",
    "watch",
)
_DAEMON_KEYS = ("restart", "start_timeout", "liveness")
_ONESHOT_KEYS = ("once",)
_SERVICE_KEYS = (
    "kind",
    "requires",
    *_PROCESS_KEYS,
    *_DAEMON_KEYS,
    *_ONESHOT_KEYS,
    "ready",
    "profiles",
    "disabled",
    "container",
)
_KINDS = {kind.value: kind for kind in EntryKind}


@dataclass(frozen=True, slots=True)
class Service:
    """One service of the file, checked, with the options its `add_*` call takes."""

    id: str
    options: Options
    commands: tuple[tuple[str, Command], ...] = ()
    """What it runs, by key (`command`, `ready.script`), for checks of the host."""
    profiles: tuple[str, ...] = ()
    disabled: bool = False
    container: ServiceContainer | None = None
    """`[services.ID.container]`: for `healthdaemons export` only."""
    table: Mapping[str, object] | None = None
    """The service's table as read (variables substituted), for `export`."""

    @property
    def requires(self) -> Sequence[str]:
        return self.options.requires


def read_service(
    id: str,
    value: object,
    services: Mapping[str, object],
    base: Path,
    variables: Mapping[str, str],
) -> Service:
    """The service `[services.ID]`; `services` are all the file's (each id's
    table, as read), `base` its directory, `variables` those that its env
    files' values may use."""
    service = _read_service(id, value, services, base, variables)
    assert isinstance(value, dict)  # `_read_service` said so
    table = Table(("services", id), value, id)
    kind = _read_kind(table)
    container = read_service_container(table, kind)
    if container is not None and container.ready is not None:
        process = next((run for key, run in service.commands if key == "command"), None)
        read_ready(container.ready, kind, base, process)  # checked like `ready`
    return replace(service, container=container, table=value)


def _read_service(
    id: str,
    value: object,
    services: Mapping[str, object],
    base: Path,
    variables: Mapping[str, str],
) -> Service:
    where = key_path("services", id)
    problem = entry_id_problem(id)
    if problem is not None:
        raise Problem(f"{where}: invalid service id {id!r}: {problem}", id)
    if not isinstance(value, dict):
        raise Problem(f"{where}: must be a table, not {type_name(value)}", id)
    table = Table(("services", id), value, id)
    table.only(_SERVICE_KEYS, SERVICE_KEY_HINTS)
    kind = _read_kind(table)
    requires = _read_requires(table, services)
    ready = table.table("ready")
    if kind is EntryKind.CHECK:
        for name in (*_PROCESS_KEYS, *_DAEMON_KEYS, *_ONESHOT_KEYS):
            if table.has(name):
                raise table.problem(name, "not allowed for a check (it runs no process)")
        if ready is None:
            raise table.problem("ready", "required for a check")
        check, script = read_ready(ready, kind, base, None)
        return Service(id, HealthCheckOptions(check, requires), _commands(None, script))
    for name in _ONESHOT_KEYS if kind is EntryKind.DAEMON else _DAEMON_KEYS:
        if table.has(name):
            raise table.problem(name, f"not allowed for a {kind.value}" + _ONLY_FOR[name])
    command = _read_command(table, kind, base, variables)
    max_restarts = table.integer("max_restarts")
    watch = _read_watch(table, base)
    exit_on_failure = table.boolean("exit_on_failure", False)
    options: Options
    if kind is EntryKind.ONESHOT:
        if ready is not None:
            reason = "it is ready once its command exits with code 0"
            raise table.problem("ready", f"not allowed for a oneshot ({reason})")
        once = table.boolean("once", False)
        options = OneshotOptions(
            command, requires, max_restarts, once=once, exit_on_failure=exit_on_failure, watch=watch
        )
        return Service(id, options, _commands(command, None))
    if ready is None:
        raise table.problem("ready", "required for a daemon")
    ready_options, script = read_ready(ready, kind, base, command)
    liveness_table = table.table("liveness")
    liveness, liveness_script = (None, None)
    if liveness_table is not None:
        liveness, liveness_script = read_liveness(liveness_table, base, command)
    restart = _read_restart(table)
    if exit_on_failure and max_restarts is None and restart != "no":
        raise table.problem(
            "exit_on_failure",
            'needs max_restarts or restart = "no" (restarted for ever, it never fails for good)',
        )
    options = DaemonOptions(
        command,
        ready_options,
        requires,
        max_restarts,
        restart=restart,
        start_timeout=_read_start_timeout(table),
        liveness=liveness,
        exit_on_failure=exit_on_failure,
        watch=watch,
    )
    return Service(id, options, _commands(command, script, liveness_script))


_ONLY_FOR = {
    "restart": " (a oneshot is retried when it fails, under max_restarts)",
    "start_timeout": " (only a daemon waits to be ready)",
    "liveness": " (only a daemon runs long enough to hang)",
    "once": " (only a oneshot runs once)",
}


def _commands(
    command: Command | None, script: Command | None, liveness: Command | None = None
) -> tuple[tuple[str, Command], ...]:
    keyed = (("command", command), ("ready.script", script), ("liveness.script", liveness))
    return tuple((key, run) for key, run in keyed if run is not None)


def _read_restart(table: Table) -> RestartPolicy:
    name = table.string("restart") or "always"
    if name not in RESTART_POLICIES:
        allowed = ", ".join(f'"{policy}"' for policy in RESTART_POLICIES)
        raise table.problem("restart", f"must be one of {allowed}, not {name!r}")
    return name


def _read_start_timeout(table: Table) -> float | None:
    return table.option("start_timeout", 0.0) if table.has("start_timeout") else None


def _read_kind(table: Table) -> EntryKind:
    name = table.string("kind") or EntryKind.DAEMON.value
    if name not in _KINDS:
        raise table.problem("kind", f"must be daemon, oneshot or check, not {name!r}")
    return _KINDS[name]


def _read_requires(table: Table, services: Mapping[str, object]) -> tuple[str, ...]:
    requires = table.strings("requires", "service ids")
    seen: set[str] = set()
    for required in requires:
        if required in seen:
            raise table.problem("requires", f"{required!r} is listed twice")
        seen.add(required)
        if required == table.entry:
            raise table.problem("requires", "a service cannot require itself")
        if required not in services:
            assert table.entry is not None
            targets = _requirable(table.entry, services)
            raise table.problem(
                "requires",
                f"unknown service {required!r}" + did_you_mean(closest(required, targets)),
            )
    return tuple(requires)


def _requirable(id: str, services: Mapping[str, object]) -> list[str]:
    """The ids that service `id` could require: valid ids of other services that
    do not require it, directly or not (that would be a cycle), as far as the
    file can be read."""
    required_by: dict[str, list[str]] = {}
    for other, value in services.items():
        requires = value.get("requires") if isinstance(value, dict) else None
        for required in requires if isinstance(requires, list) else ():
            if isinstance(required, str):
                required_by.setdefault(required, []).append(other)
    dependents = {id}
    pending = [id]
    while pending:
        for dependent in required_by.get(pending.pop(), ()):
            if dependent not in dependents:
                dependents.add(dependent)
                pending.append(dependent)
    return [i for i in services if i not in dependents and entry_id_problem(i) is None]


def _read_command(
    table: Table, kind: EntryKind, base: Path, variables: Mapping[str, str]
) -> Command:
    command = table.command("command")
    if command is None:
        raise table.problem("command", f"required for a {kind.value}")
    env = _read_env_files(table, base, variables)
    env_table = table.table("env")
    if env_table is not None:
        env = env or {}  # `env` overrides the env files, as in compose
        for name, value in env_table.values.items():
            problem = env_name_problem(name) or text_problem(value)
            if problem is not None:
                raise env_table.problem(name, problem)
            env[name] = str(value)
    cwd = table.string("cwd")
    return Command(
        command,
        sigterm_timeout=table.option("sigterm_timeout", SIGTERM_TIMEOUT),
        run_as_init=table.boolean("run_as_init", False),
        env=env,
        # normpath, not resolve(): symbolic links in the path are kept.
        cwd=base if cwd is None else Path(os.path.normpath(base / cwd)),
        user=_read_user(table),
        stop_signal=_read_stop_signal(table),
        log=_read_log(table, base),
    )


def _read_log(table: Table, base: Path) -> LogFile | None:
    """`log_file` (relative to the file's directory), `log_max_bytes`, `log_backups`."""
    path = table.string("log_file")
    if path is None:
        for name in ("log_max_bytes", "log_backups"):
            if table.has(name):
                raise table.problem(name, "only with log_file (up --log-dir has its own options)")
        return None
    try:
        max_bytes = parse_size(table.values.get("log_max_bytes", LOG_MAX_BYTES))
    except ValueError as error:
        raise table.problem("log_max_bytes", str(error)) from None
    backups = table.values.get("log_backups", LOG_BACKUPS)
    if isinstance(backups, bool) or not isinstance(backups, int) or backups < 0:
        raise table.problem("log_backups", f"must be an integer >= 0, not {backups!r}")
    if backups > MAX_LOG_BACKUPS:
        raise table.problem("log_backups", f"must be at most {MAX_LOG_BACKUPS}, not {backups}")
    return LogFile(Path(os.path.normpath(base / path)), max_bytes, backups)


def _read_stop_signal(table: Table) -> str:
    value = table.values.get("stop_signal", DEFAULT_STOP_SIGNAL)
    problem = stop_signal_problem(value)
    if problem is not None:
        raise table.problem("stop_signal", problem)
    assert isinstance(value, str | int)
    return resolve_stop_signal(value).name


def _read_env_files(
    table: Table, base: Path, variables: Mapping[str, str]
) -> dict[str, str] | None:
    try:
        return env_file_values(table.values.get("env_file"), base, variables)
    except EnvFileProblem as problem:
        raise table.problem("env_file", problem.problem, problem.index) from problem.__cause__


def _read_watch(table: Table, base: Path) -> Watch | None:
    """`watch = ["src/**/*.py"]`: globs within the file's directory `base`."""
    if not table.has("watch"):
        return None
    patterns = table.strings("watch", "globs")
    if not patterns:
        raise table.problem("watch", "must not be empty")
    for index, pattern in enumerate(patterns):
        problem = pattern_problem(pattern, base, f"the config file's directory ({base})")
        if problem is not None:
            raise table.problem("watch", problem, index)
    return Watch(tuple(patterns), base)


def _read_user(table: Table) -> str | int | None:
    user = table.values.get("user")
    if user is None:
        return None
    problem = user_problem(user)
    if problem is not None:
        raise table.problem("user", problem)
    assert isinstance(user, str | int)
    return user
