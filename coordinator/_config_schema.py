"""The services of a config file: each TOML table checked key by key, and turned into options.

Every mistake is a `Problem` whose message starts with the TOML key path;
`load_config` adds the file name and raises it as a `ConfigError`.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from statemachines import EntryKind

from ._announced import Stream, stream_problem
from ._command import Command
from ._config_hints import SERVICE_KEY_HINTS
from ._defaults import (
    CHECK_TIMEOUT,
    GRACE_PERIOD,
    LIVENESS_FAILURES,
    LIVENESS_INTERVAL,
    LIVENESS_TIMEOUT,
    READY_TIMEOUT,
    READY_TIMEOUT_MARGIN,
    SCRIPT_TIMEOUT,
    SIGTERM_TIMEOUT,
)
from ._env_files import EnvFileProblem, env_file_values
from ._interpolation import Substituted
from ._log_file import LOG_BACKUPS, LOG_MAX_BYTES, LogFile, parse_size
from ._options import (
    RESTART_POLICIES,
    DaemonOptions,
    HealthCheckOptions,
    OneshotOptions,
    Options,
    RestartPolicy,
)
from ._ready import CheckFn, Liveness, Ready
from ._stop_signal import DEFAULT_STOP_SIGNAL, resolve_stop_signal, stop_signal_problem
from ._trigger_steps import ResultGetter, Trigger, advance_steps, close_steps
from ._urls import url_problem
from ._validation import (
    argv_problem,
    closest,
    did_you_mean,
    entry_id_problem,
    env_name_problem,
    option_problem,
    text_problem,
    user_problem,
)
from ._watch import Watch, pattern_problem
from .checks import check_port_listening, check_web_url, log_line, run_health_script, sd_notify
from .triggers import change_on_first_success, cooldown_trigger, default_trigger

__all__ = ["Problem", "Service", "Table", "key_path", "read_service"]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
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
)
_SOURCES = ("port", "url", "script", "log_line", "notify")
_POLLED = ("port", "url", "script")
_READY_KEYS = ("display", *_SOURCES, "grace_period", "timeout", "interval", "stream", "owned")
_LIVENESS_KEYS = (*_POLLED, "interval", "timeout", "failures", "owned")
_KINDS = {kind.value: kind for kind in EntryKind}


class Problem(Exception):
    """A mistake in a config file; the message starts with the key path."""

    def __init__(self, message: str, entry: str | None = None) -> None:
        super().__init__(message)
        self.entry = entry


def key_path(*parts: str) -> str:
    """`services.db.ready`, quoting the keys that TOML would quote: `services."d b"`."""
    return ".".join(
        p if _BARE_KEY.fullmatch(p) else json.dumps(p, ensure_ascii=False) for p in parts
    )


def _type(value: object) -> str:
    return type(value).__name__


_INTEGER = re.compile(r"[+-]?(0|[1-9](_?[0-9])*)")
_FLOAT = re.compile(r"[+-]?(0|[1-9](_?[0-9])*)(\.[0-9](_?[0-9])*)?([eE][+-]?[0-9](_?[0-9])*)?")


def _scalar(value: object) -> object:
    """A value that variables made, as the number or boolean its text is in
    TOML (`"${PORT}"` with PORT=8080 is 8080); any other value as it is."""
    if not isinstance(value, Substituted):
        return value
    text = value.strip()
    if text in ("true", "false"):
        return text == "true"
    if _INTEGER.fullmatch(text):
        return int(text.replace("_", ""))
    if _FLOAT.fullmatch(text):
        return float(text.replace("_", ""))
    return str(value)


@dataclass(frozen=True, slots=True)
class Table:
    """A TOML table at a key path, with typed getters that raise a `Problem`."""

    path: tuple[str, ...]
    values: Mapping[str, object]
    entry: str | None = None

    def problem(self, name: str, message: str, index: int | None = None) -> Problem:
        where = key_path(*self.path, name) + ("" if index is None else f"[{index}]")
        value = self.values.get(name) if index is None else None
        if isinstance(value, Substituted):
            message += f" (from variables: {str(value)!r})"
        return Problem(f"{where}: {message}", self.entry)

    def only(self, allowed: Sequence[str], hints: Mapping[str, str] | None = None) -> None:
        """`Problem` for a key not `allowed`: with its hint (a key of another
        format) if `hints` has one, else with the closest allowed key."""
        for name in self.values:
            if name not in allowed:
                hint = None if hints is None else hints.get(name)
                if hint is not None:
                    raise self.problem(name, f"unknown key; {hint}")
                raise self.problem(name, "unknown key" + did_you_mean(closest(name, allowed)))

    def has(self, name: str) -> bool:
        return name in self.values

    def boolean(self, name: str, default: bool) -> bool:
        value = _scalar(self.values.get(name, default))
        if not isinstance(value, bool):
            raise self.problem(name, f"must be a boolean, not {_type(value)}")
        return value

    def option(self, name: str, default: float) -> float:
        """A duration, by the option's rule in `OPTION_RULES`, as the builder checks it."""
        value = _scalar(self.values.get(name, default))
        problem = option_problem(name, value)
        if problem is not None:
            raise self.problem(name, problem)
        return float(value)  # type: ignore[arg-type]

    def integer(self, name: str) -> int | None:
        """A count or a port, by the option's rule in `OPTION_RULES`; `None` if not given."""
        if name not in self.values:
            return None
        value = _scalar(self.values[name])
        problem = option_problem(name, value)
        if problem is not None:
            raise self.problem(name, problem)
        assert isinstance(value, int)
        return value

    def string(self, name: str) -> str | None:
        if name not in self.values:
            return None
        value = self.values[name]
        if not isinstance(value, str):
            raise self.problem(name, f"must be a string, not {_type(value)}")
        if not value.strip():
            raise self.problem(name, "must not be empty")
        problem = text_problem(value)
        if problem is not None:
            raise self.problem(name, problem)
        return value

    def command(self, name: str) -> str | list[str] | None:
        """A string (run as `sh -c`) or a non-empty array of strings (an argv),
        by the rule of `Command`."""
        value = self.values.get(name)
        if value is None:
            return None
        found = argv_problem(value)
        if found is not None:
            index, problem = found
            raise self.problem(name, problem, index)
        assert isinstance(value, str | list)
        return value

    def strings(self, name: str, what: str) -> list[str]:
        value = self.values.get(name, [])
        if not isinstance(value, list):
            raise self.problem(name, f"must be an array of {what}, not {_type(value)}")
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise self.problem(name, f"must be a string, not {_type(item)}", i)
        return value

    def table(self, name: str) -> Table | None:
        if name not in self.values:
            return None
        value = self.values[name]
        if not isinstance(value, dict):
            raise self.problem(name, f"must be a table, not {_type(value)}")
        return Table((*self.path, name), value, self.entry)


@dataclass(frozen=True, slots=True)
class Service:
    """One service of the file, checked, with the options its `add_*` call takes."""

    id: str
    options: Options
    commands: tuple[tuple[str, Command], ...] = ()
    """What it runs, by key (`command`, `ready.script`), for checks of the host."""
    profiles: tuple[str, ...] = ()
    disabled: bool = False

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
    where = key_path("services", id)
    problem = entry_id_problem(id)
    if problem is not None:
        raise Problem(f"{where}: invalid service id {id!r}: {problem}", id)
    if not isinstance(value, dict):
        raise Problem(f"{where}: must be a table, not {_type(value)}", id)
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
        check, script = _read_ready(ready, kind, base, None)
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
    ready_options, script = _read_ready(ready, kind, base, command)
    liveness_table = table.table("liveness")
    liveness, liveness_script = (None, None)
    if liveness_table is not None:
        liveness, liveness_script = _read_liveness(liveness_table, base, command)
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


def _read_liveness(table: Table, base: Path, process: Command) -> tuple[Liveness, Command | None]:
    """`[services.ID.liveness]`: a polled check, as in `ready`, and when to act on it."""
    table.only(_LIVENESS_KEYS)
    given = [s for s in _POLLED if table.has(s)]
    if len(given) != 1:
        raise Problem(
            f"{key_path(*table.path)}: give exactly one of {', '.join(_POLLED)} "
            f"(got {', '.join(given) or 'none'})",
            table.entry,
        )
    default_timeout = SCRIPT_TIMEOUT if given[0] == "script" else LIVENESS_TIMEOUT
    timeout = table.option("timeout", default_timeout)
    fn, script = _read_source(table, given[0], timeout, base, process)
    failures = table.integer("failures")
    liveness = Liveness(
        fn,
        interval=table.option("interval", LIVENESS_INTERVAL),
        # The check's own timeout ends it first, with its own message.
        timeout=timeout + READY_TIMEOUT_MARGIN,
        failures=LIVENESS_FAILURES if failures is None else failures,
    )
    return liveness, script


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


def _read_ready(
    table: Table, kind: EntryKind, base: Path, process: Command | None
) -> tuple[Ready, Command | None]:
    """`[services.ID.ready]`. A `script` runs with the cwd, env and user of the
    service's `process`; for a check (no process), in the file's directory `base`."""
    table.only(_READY_KEYS)
    given = [s for s in _SOURCES if table.has(s) and table.values[s] is not False]
    if len(given) != 1:
        raise Problem(
            f"{key_path(*table.path)}: give exactly one of {', '.join(_SOURCES)} "
            f"(got {', '.join(given) or 'none'})",
            table.entry,
        )
    source = given[0]
    if kind is EntryKind.CHECK and source not in _POLLED:
        raise table.problem(source, "not allowed for a check (it runs no process to announce it)")
    for name in ("timeout", "interval"):
        if table.has(name) and source not in _POLLED:
            raise table.problem(name, "only with port, url or script")
    if table.has("stream") and source != "log_line":
        raise table.problem("stream", "only with log_line")
    display = table.string("display") or table.entry
    grace_period = table.option("grace_period", GRACE_PERIOD)
    timeout = table.option("timeout", SCRIPT_TIMEOUT if source == "script" else CHECK_TIMEOUT)
    fn, script = _read_source(table, source, timeout, base, process)
    trigger = None
    if table.has("interval"):
        interval = table.option("interval", 0.0)
        # As by default until the first success, then every `interval` seconds.
        trigger = change_on_first_success(_later_steps(default_trigger), cooldown_trigger(interval))
    # The check's own timeout ends it first, with its own message; Ready's
    # bound stays a backstop above it, as for the library's built-in checks.
    backstop = max(READY_TIMEOUT, timeout + READY_TIMEOUT_MARGIN)
    return Ready(display, fn, grace_period, trigger, timeout=backstop), script


def _later_steps(trigger: Trigger) -> Trigger:
    """`trigger` without its first step, which comes at once: `change_on_first_success`
    has just checked at once itself, so a second check at once would be wasted."""

    async def steps(last_result: ResultGetter) -> AsyncGenerator[None]:
        inner = trigger(last_result)
        try:
            if await advance_steps(inner):
                while await advance_steps(inner):
                    yield
        finally:
            await close_steps(inner)

    return steps


def _read_source(
    table: Table, source: str, timeout: float, base: Path, process: Command | None
) -> tuple[CheckFn, Command | None]:
    """The check, and the command it runs (for a `script`)."""
    # A port or a local URL must be answered by the service's own processes.
    if table.has("owned") and process is None:
        raise table.problem("owned", "not allowed for a check (it runs no process)")
    if table.has("owned") and source not in ("port", "url"):
        raise table.problem("owned", "only with port or url")
    owned = table.boolean("owned", True) and process is not None
    if source == "port":
        port = table.integer("port")
        assert port is not None
        return functools.partial(check_port_listening, port, timeout=timeout, owned=owned), None
    if source == "url":
        url = table.string("url")
        assert url is not None
        _check_url(table, url)
        return functools.partial(check_web_url, url, timeout=timeout, owned=owned), None
    if source == "script":
        script = table.command("script")
        assert script is not None
        if process is None:
            runner = Command(script, cwd=base)
        else:
            runner = Command(script, env=process.env, cwd=process.cwd, user=process.user)
        return functools.partial(run_health_script, runner, timeout), runner
    if source == "log_line":
        pattern = table.string("log_line")
        assert pattern is not None
        try:
            re.compile(pattern)
        except re.error as error:
            raise table.problem("log_line", f"invalid regular expression: {error}") from None
        return log_line(pattern, stream=_read_stream(table)), None
    table.boolean("notify", True)  # counted as given unless false: only its type is left
    return sd_notify(), None


def _read_stream(table: Table) -> Stream:
    stream = table.string("stream") or "both"
    problem = stream_problem(stream)
    if problem is not None:
        raise table.problem("stream", problem)
    return cast(Stream, stream)


def _check_url(table: Table, url: str) -> None:
    problem = url_problem(url)
    if problem is not None:
        raise table.problem("url", problem)
