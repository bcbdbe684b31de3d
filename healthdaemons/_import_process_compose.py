"""A process-compose file as services of this format (docs/import.md), from
process-compose's own schema (src/types/process.go, src/health/probe.go)."""

from __future__ import annotations

import posixpath
from pathlib import Path

from ._import_model import Draft, Notes, Place
from ._import_process_compose_probes import probe, readiness
from ._import_ready import NOT_A_STOP_SIGNAL, stop_signal_named
from ._toml_writer import Value

__all__ = ["read_process_compose"]

_CONDITIONS = (
    "process_started",
    "process_healthy",
    "process_completed",
    "process_completed_successfully",
    "process_log_ready",
)
_COMPLETED = ("process_completed", "process_completed_successfully")
_RESTARTS = ("no", "always", "on_failure", "exit_on_failure")
_HANDLED = frozenset(
    {
        "command", "entrypoint", "working_dir", "environment", "env_file", "depends_on",
        "readiness_probe", "liveness_probe", "ready_log_line", "availability", "shutdown",
        "disabled", "is_daemon", "replicas", "log_location", "description", "name",
        "is_dotenv_disabled",
    }
)  # fmt: skip
_TOP_HANDLED = frozenset({"version", "name", "processes", "environment", "is_strict"})


def read_process_compose(
    file: str, data: dict[str, object], notes: Notes, folder: Path = Path()
) -> list[Draft]:
    """The processes of a process-compose file; `folder` is the file's."""
    top = Place(file, "", folder)
    processes = top.table(data.get("processes"), "processes")
    tables = {name: top.at("processes").table(raw, name) for name, raw in processes.items()}
    shared = _environment(top, data.get("environment"), "environment")
    if shared:
        notes.kept("", "environment", "given to every service's env (theirs win)")
    literal = data.get("disable_env_expansion") is True
    for key in sorted(set(data) - _TOP_HANDLED - {"disable_env_expansion"}):
        if key == "log_location":
            notes.approximated("", key, "one log file per service here: `up --log-dir DIR`")
        else:
            notes.lost("", key, "no equivalent here")
    if (folder / ".env").is_file():
        notes.approximated(
            "",
            ".env",
            "given to every service as its first env_file (process-compose passes it on); "
            "there the environment wins over it, here it wins over the environment",
        )
    waited = _waited_to_complete(file, tables)
    drafts = [
        _process(top.at(f"processes.{name}"), name, table, waited, shared, notes, literal)
        for name, table in tables.items()
    ]
    _own_log_files(drafts, notes)
    if any(name not in waited and _no_restart_given(table) for name, table in tables.items()):
        notes.approximated(
            "",
            "availability.restart",
            "a process without it is not restarted by process-compose (its default, no); "
            'here it is (restart = "always", this format\'s default, with backoff)',
        )
    if literal:
        for draft in drafts:
            draft.table = {key: _dollars_kept(value) for key, value in draft.table.items()}
        notes.kept("", "disable_env_expansion", "every $ written $$, so none is read as a variable")
    return drafts


def _own_log_files(drafts: list[Draft], notes: Notes) -> None:
    """Each service rotates its own log file here: a file shared stays with the first."""
    owners: dict[Value, str] = {}
    for draft in drafts:
        log_file = draft.table.get("log_file")
        if log_file is None:
            continue
        if log_file in owners:
            del draft.table["log_file"]
            notes.lost(
                draft.name,
                "log_location",
                f"{log_file} is {owners[log_file]}'s too: each service needs its own file here",
            )
        else:
            owners[log_file] = draft.name


def _no_restart_given(table: dict[str, object]) -> bool:
    availability = table.get("availability")
    return not isinstance(availability, dict) or availability.get("restart") is None


def _dollars_kept(value: Value) -> Value:
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, dict):
        return {key: _dollars_kept(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_dollars_kept(item) for item in value]
    return value


def _environment(place: Place, value: object, key: str) -> dict[str, Value]:
    if value is None:
        return {}
    env: dict[str, Value] = {}
    for index, item in enumerate(place.strings(value, key)):
        name, equals, rest = item.partition("=")
        if not equals:
            raise place.problem(f"{key}[{index}]", f"must be NAME=value, not {item!r}")
        env[place.env_name(name, f"{key}[{index}]")] = rest
    return env


def _env_files(place: Place, table: dict[str, object], cwd: str | None) -> list[Value]:
    """The `.env` beside the file (process-compose gives it to every process),
    then the process's `env_file` (relative to its `working_dir` there)."""
    files: list[Value] = []
    if (place.folder / ".env").is_file() and table.get("is_dotenv_disabled") is not True:
        files.append(".env")
    env_file = place.path_or_none(table.get("env_file"), "env_file")
    if env_file is not None:
        files.append(env_file if cwd is None else posixpath.join(cwd, env_file))
    return files


def _dependencies(place: Place, table: dict[str, object]) -> dict[str, str]:
    result: dict[str, str] = {}
    for name, entry in place.table(table.get("depends_on"), "depends_on").items():
        options = place.table(entry, f"depends_on.{name}")
        condition = place.string(
            options.get("condition", "process_started"), f"depends_on.{name}.condition"
        )
        if condition not in _CONDITIONS:
            raise place.problem(f"depends_on.{name}.condition", f"unknown condition {condition!r}")
        result[name] = condition
    return result


def _waited_to_complete(file: str, tables: dict[str, dict[str, object]]) -> set[str]:
    """The processes another waits for to complete: each becomes a oneshot."""
    return {
        required
        for name, table in tables.items()
        for required, condition in _dependencies(Place(file, f"processes.{name}"), table).items()
        if condition in _COMPLETED
    }


def _process(
    place: Place,
    name: str,
    table: dict[str, object],
    waited: set[str],
    shared: dict[str, Value],
    notes: Notes,
    literal: bool,
) -> Draft:
    oneshot = name in waited
    out: dict[str, Value] = {"kind": "oneshot"} if oneshot else {}
    command = table.get("command")
    if command is not None:
        out["command"] = place.command(place.string(command, "command"), "command")
    elif table.get("entrypoint") is not None:
        out["command"] = place.command(table["entrypoint"], "entrypoint")
    elif table.get("extends") is not None:
        raise place.problem("extends", "not followed here: give the process its own command")
    else:
        raise place.problem("command", "missing: a process needs a command or an entrypoint")
    env = {**shared, **_environment(place, table.get("environment"), "environment")}
    if env:
        out["env"] = env
    cwd = place.path_or_none(table.get("working_dir"), "working_dir")
    env_files = _env_files(place, table, cwd)
    if env_files:
        out["env_file"] = env_files[0] if len(env_files) == 1 else env_files
    if cwd is not None:
        out["cwd"] = cwd
    _shutdown(place, table, out, notes, name)
    _availability(place, table, oneshot, out, notes, name)
    log_file = place.path_or_none(table.get("log_location"), "log_location")
    if log_file is not None:
        out["log_file"] = log_file
    if table.get("disabled") is True:
        out["disabled"] = True
    if table.get("is_daemon") is True:
        notes.lost(
            name,
            "is_daemon",
            "the command forks and exits; here a daemon stays in the foreground: "
            "give it its foreground option (nginx -g 'daemon off;')",
        )
    replicas = table.get("replicas")
    if isinstance(replicas, int) and replicas > 1:
        notes.lost(name, "replicas", f"{replicas}: declare each instance as a service")
    other = sorted(key for key in table if key not in _HANDLED)
    if other:
        notes.lost(name, ", ".join(other), "no equivalent here")
    if oneshot:
        for key in ("readiness_probe", "liveness_probe", "ready_log_line"):
            if table.get(key) is not None:
                notes.lost(name, key, "a oneshot is ready once it exits with code 0")
    else:
        out["ready"] = readiness(place, name, table, notes, literal=literal)
        if table.get("liveness_probe") is not None:
            out["liveness"] = probe(place, name, table["liveness_probe"], "liveness_probe", notes)
    dependencies = _dependencies(place, table)
    _dependency_notes(name, dependencies, notes)
    return Draft(name, out, list(dependencies), place.key("depends_on"))


def _shutdown(
    place: Place, table: dict[str, object], out: dict[str, Value], notes: Notes, name: str
) -> None:
    shutdown = place.table(table.get("shutdown"), "shutdown")
    timeout = place.count(shutdown.get("timeout_seconds", 0), "shutdown.timeout_seconds")
    if timeout is not None:
        out["sigterm_timeout"] = timeout
    number = shutdown.get("signal")
    if number is not None:
        stop_signal = stop_signal_named(
            place, int(place.number(number, "shutdown.signal")), "shutdown.signal"
        )
        if stop_signal is None:
            notes.lost(name, "shutdown.signal", f"{number}: {NOT_A_STOP_SIGNAL}")
        else:
            out["stop_signal"] = stop_signal
    if shutdown.get("command") is not None:
        notes.lost(
            name,
            "shutdown.command",
            "not run: its stop signal goes to its process group (give the service a "
            "stop_signal it honours)",
        )
    if shutdown.get("parent_only") is True:
        notes.lost(name, "shutdown.parent_only", "the stop signal goes to the whole process group")


def _availability(
    place: Place,
    table: dict[str, object],
    oneshot: bool,
    out: dict[str, Value],
    notes: Notes,
    name: str,
) -> None:
    availability = place.table(table.get("availability"), "availability")
    restart = availability.get("restart")
    if restart is not None and restart not in _RESTARTS:
        raise place.problem(
            "availability.restart",
            f"must be always, on_failure, exit_on_failure or no, not {restart!r}",
        )
    restarts = place.count(availability.get("max_restarts", 0), "availability.max_restarts")
    if restarts is not None:
        out["max_restarts"] = int(restarts)
    if restart == "exit_on_failure":
        out["exit_on_failure"] = True
    if oneshot:
        if restart in ("no", "exit_on_failure"):
            out["max_restarts"] = 0
        elif restart == "always":
            notes.approximated(
                name, "availability.restart", "always: a oneshot runs again only after a failure"
            )
    elif restart in ("no", "exit_on_failure"):
        out["restart"] = "no"
    elif restart == "on_failure":
        out["restart"] = "on-failure"
    if availability.get("backoff_seconds"):
        notes.approximated(
            name, "availability.backoff_seconds", "restarts wait 0, 1, 2, 4 ... 30 s here"
        )
    if availability.get("exit_on_end") is True:
        notes.approximated(
            name,
            "availability.exit_on_end",
            f"run `healthdaemons up FILE --exit-code-from {name}` to end the run when it ends",
        )
    if availability.get("exit_on_skipped") is True:
        notes.lost(name, "availability.exit_on_skipped", "a service is never skipped here")


def _dependency_notes(name: str, dependencies: dict[str, str], notes: Notes) -> None:
    started = [dep for dep, condition in dependencies.items() if condition == "process_started"]
    if started:
        notes.approximated(
            name,
            "depends_on",
            f"process_started for {', '.join(started)}: here {name} starts once "
            f"{'it is' if len(started) == 1 else 'they are'} ready",
        )
    completed = [dep for dep, condition in dependencies.items() if condition == "process_completed"]
    if completed:
        notes.approximated(
            name,
            "depends_on",
            f"process_completed for {', '.join(completed)}: here "
            f"{'it' if len(completed) == 1 else 'each'} must exit with code 0",
        )
