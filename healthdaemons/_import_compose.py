"""A docker compose file as services of this format (docs/import.md).

A service's command runs on this machine; its image, ports and volumes go to
its `[services.ID.container]` table, so that an export gives them back. A
service that names only an image (no command: the image's own) runs with
`docker run`, as this machine has no other way to run it.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ._import_compose_probes import is_check_command, unwrapped_log_line
from ._import_compose_ready import Readiness, check_readiness, readiness
from ._import_compose_run import (
    docker_run,
    image_of,
    placeholder_command,
    restart_policy,
    stop_settings,
    user_of,
    working_folder,
)
from ._import_compose_values import (
    argv,
    env_files,
    environment,
    ports,
    volumes,
)
from ._import_dockerfile import built_command
from ._import_model import Draft, Notes, Place, valid_id
from ._toml_writer import Value

__all__ = ["read_compose"]

_HANDLED = frozenset(
    {
        "image", "build", "command", "entrypoint", "environment", "env_file",
        "working_dir", "user", "depends_on", "healthcheck", "restart", "stop_signal",
        "stop_grace_period", "init", "profiles", "ports", "expose", "volumes",
        "container_name", "deploy", "scale", "develop",
    }
)  # fmt: skip
_TOP_LOST = ("networks", "configs", "secrets")
_DEPLOY_READ = frozenset({"replicas", "restart_policy"})
_RESTART_POLICY_READ = frozenset({"condition", "max_attempts"})
_HEALTHCHECK_READ = frozenset({"test", "disable", "interval", "timeout", "start_period", "retries"})
_COMPLETED = "service_completed_successfully"


def read_compose(
    file: str, data: dict[str, object], notes: Notes, folder: Path = Path()
) -> list[Draft]:
    """The services of a compose file; `folder` is the file's."""
    top = Place(file, "", folder)
    if data.get("include"):
        # Its services would be missing, and a depends_on on one unknown.
        raise top.problem(
            "include", "not followed: import the included files too, and merge their services"
        )
    services = top.table(data.get("services"), "services")
    for key in _TOP_LOST:
        if data.get(key):
            notes.lost("", key, "no equivalent here: services run on this machine")
    tables = {name: top.at("services").table(raw, name) for name, raw in services.items()}
    project = valid_id(str(data.get("name") or folder.resolve().name))
    context = _Context(
        project,
        _oneshots(file, tables, notes),
        list(tables),
        # read twice: a note about a port is taken with its service, below
        {
            name: ports(top.at(f"services.{name}"), table.get("ports"), Notes(), name)
            for name, table in tables.items()
        },
    )
    drafts = [
        _service(top.at(f"services.{name}"), name, table, context, notes)
        for name, table in tables.items()
    ]
    oneshots = context.oneshots
    if any(name not in oneshots and not _restart_given(table) for name, table in tables.items()):
        notes.approximated(
            "",
            "restart",
            "a service without it is not restarted by compose (its default, no); here it "
            'is (restart = "always", this format\'s default, with backoff)',
        )
    return drafts


def _restart_given(table: dict[str, object]) -> bool:
    deploy = table.get("deploy")
    return "restart" in table or (isinstance(deploy, dict) and bool(deploy.get("restart_policy")))


def _oneshots(file: str, tables: dict[str, dict[str, object]], notes: Notes) -> set[str]:
    """The services that run once. A compose file has no kind: a service
    another waits for with `service_completed_successfully` is one, and so is
    one that says `restart: "no"` and has no healthcheck, unless another
    waits for it to start or to be healthy (as an export writes a oneshot)."""
    conditions: dict[str, set[str]] = {name: set() for name in tables}
    for name, table in tables.items():
        for required, (condition, _) in _depends_on(Place(file, f"services.{name}"), table).items():
            conditions.setdefault(required, set()).add(condition)
    oneshots = {name for name, waits in conditions.items() if _COMPLETED in waits}
    for name, table in tables.items():
        if (
            name not in oneshots
            and table.get("restart") == "no"
            and not table.get("healthcheck")
            and not conditions[name]
        ):
            oneshots.add(name)
            notes.approximated(
                name,
                "restart",
                'no, without a healthcheck: a oneshot (it runs once; write kind = "daemon" '
                "and a ready check if it runs on)",
            )
    return oneshots


def _depends_on(place: Place, table: dict[str, object]) -> dict[str, tuple[str, dict[str, object]]]:
    """Each dependency's condition and its other keys."""
    value = table.get("depends_on")
    if value is None:
        return {}
    if isinstance(value, list):
        return {
            place.string(item, f"depends_on[{index}]"): ("service_started", {})
            for index, item in enumerate(value)
        }
    result: dict[str, tuple[str, dict[str, object]]] = {}
    for name, entry in place.table(value, "depends_on").items():
        options = place.table(entry, f"depends_on.{name}")
        condition = place.string(options.get("condition", "service_started"), f"depends_on.{name}")
        if condition not in (
            "service_started",
            "service_healthy",
            "service_completed_successfully",
        ):
            raise place.problem(f"depends_on.{name}.condition", f"unknown condition {condition!r}")
        result[name] = (condition, options)
    return result


@dataclass(frozen=True, slots=True)
class _Context:
    project: str
    """Compose's project name (`name:`, else the file's folder): containers are named after it."""
    oneshots: set[str]
    """The services another waits for to complete."""
    names: list[str]
    ports: dict[str, list[str]]
    """Each service's `ports`."""


def _service(
    place: Place, name: str, table: dict[str, object], context: _Context, notes: Notes
) -> Draft:
    oneshots = context.oneshots
    kind = "oneshot" if name in oneshots else "daemon"
    if table.get("extends") is not None:
        raise place.problem(
            "extends", "not followed: write the service out in full (with what it extends)"
        )
    out: dict[str, Value] = {"kind": "oneshot"} if kind == "oneshot" else {}
    image = image_of(place, table.get("image"))
    entrypoint = argv(place, table.get("entrypoint"), "entrypoint")
    command = argv(place, table.get("command"), "command")
    env, passed = environment(place, table.get("environment"))
    files = env_files(place, table.get("env_file"), notes, name)
    published = ports(place, table.get("ports"), notes, name)
    mounts = volumes(place, table.get("volumes"), notes, name)
    workdir = place.path_or_none(table.get("working_dir"), "working_dir")
    local = (entrypoint or []) + (command or [])
    if local and not local[0]:
        raise place.problem("entrypoint[0]" if entrypoint else "command[0]", "must not be empty")
    if is_check_command(local):
        return _check(place, name, table, context, notes)
    user = user_of(place, table.get("user"), notes, name, docker=not local and image is not None)
    unwrapped = unwrapped_log_line(local)
    run: str | list[str] = local if unwrapped is None else unwrapped[0]
    if isinstance(run, list) and len(run) == 3 and run[:2] == ["sh", "-c"]:
        run = run[2]  # a shell string (as an export writes one): sh -c here too
    shell_entrypoint = entrypoint is not None and entrypoint[:2] == ["sh", "-c"]
    container: dict[str, Value] = {} if image is None else {"image": image}
    docker_name = None
    if not local and image is not None:
        docker_name = str(table.get("container_name") or f"{context.project}-{valid_id(name)}")
        run = docker_run(
            docker_name, image, table, env, passed, files, published, mounts, workdir, user
        )
        container["command"] = []
        notes.approximated(
            name,
            "image",
            f"no command: runs the image with `docker run --name {docker_name}` (docker "
            "needed here); if `docker run` is SIGKILLed after sigterm_timeout, the "
            f"container lives on (`docker rm -f {docker_name}`)",
        )
    docker = docker_name is not None
    if passed and not docker:
        notes.approximated(
            name,
            "environment",
            f"{', '.join(passed)} without a value: not written, as the services get the "
            "supervisor's environment anyway (an export does not pass them on)",
        )
    built = built_command(place.folder, table["build"]) if not run and "build" in table else None
    if built is not None:
        run = built.command
        notes.approximated(
            name,
            "build",
            f"no command: the ENTRYPOINT and CMD of {built.dockerfile}, run here from its "
            "build context (the image had its own files, packages and WORKDIR)",
        )
    placeholder = not run
    if placeholder and image is None and "build" not in table:
        raise place.problem("", "give a command, an image or a build (compose needs one of them)")
    if placeholder:
        run = placeholder_command(name, notes)
    if entrypoint is not None and image is not None and not shell_entrypoint:
        notes.approximated(
            name,
            "entrypoint",
            "runs as the command, followed by compose's command; an export writes "
            "them as the container's command (the image's own entry point would wrap it)",
        )
    if "build" in table and not docker and not placeholder and built is None:
        notes.approximated(
            name,
            "build",
            "compose builds an image from it; here the command runs on this machine"
            + ("" if image else "; give container.image to export it again"),
        )
    out["command"] = run
    if env:
        out["env"] = env
    if files:
        out["env_file"] = files[0] if len(files) == 1 else list(files)
    built_in = None if built is None else posixpath.normpath(built.context)
    if workdir is not None:
        working_folder(workdir, mounts, docker, built_in, out, container, notes, name)
    elif built_in is not None and built_in != ".":
        out["cwd"] = built_in
    if user is not None and not docker:
        out["user"] = user
    stop_settings(place, table, out, notes, name)
    if table.get("init") is True:
        out["run_as_init"] = True
    restart_policy(place, table, kind, out, notes, name)
    profiles = table.get("profiles")
    if profiles is not None:
        out["profiles"] = list(dict.fromkeys(place.strings(profiles, "profiles")))
    watch = _unsupported(place, table, notes, name)
    _hostnames(name, context.names, [run] if isinstance(run, str) else run, env, notes)
    exposed = [str(port) for port in place.items(table.get("expose"), "expose")]
    if kind == "daemon":
        given = Readiness(
            published,
            exposed,
            docker_name,
            None if unwrapped is None else unwrapped[1],
            context.ports,
        )
        readiness(place, name, table, given, out, container, notes)
    elif table.get("healthcheck"):
        notes.lost(name, "healthcheck", "a oneshot is ready once it exits with code 0")
    if watch:
        out["watch"] = watch
    if published:
        container["ports"] = list(published)
    if mounts:
        container["volumes"] = list(mounts)
    if container:
        out["container"] = container
    dependencies = _depends_on(place, table)
    _dependency_notes(name, dependencies, oneshots, notes)
    return Draft(name, out, list(dependencies), place.key("depends_on"))


def _check(
    place: Place, name: str, table: dict[str, object], context: _Context, notes: Notes
) -> Draft:
    """The service an export gives a check (it sleeps; its healthcheck is the
    check): a check again."""
    out: dict[str, Value] = {"kind": "check"}
    profiles = table.get("profiles")
    if profiles is not None:
        out["profiles"] = list(dict.fromkeys(place.strings(profiles, "profiles")))
    out["ready"] = check_readiness(place, name, table, context.ports, notes)
    notes.kept(name, "command", "the sleeping service of an exported check: a check again")
    dependencies = _depends_on(place, table)
    return Draft(name, out, list(dependencies), place.key("depends_on"))


def _dependency_notes(
    name: str,
    dependencies: dict[str, tuple[str, dict[str, object]]],
    oneshots: set[str],
    notes: Notes,
) -> None:
    started = [
        dep for dep, (condition, _) in dependencies.items() if condition == "service_started"
    ]
    if started:
        notes.approximated(
            name,
            "depends_on",
            f"service_started for {', '.join(started)}: here it starts once "
            f"{'it is' if len(started) == 1 else 'they are'} ready"
            + (" (a oneshot: exited with code 0)" if set(started) & oneshots else ""),
        )
    for dep, (_, options) in dependencies.items():
        if options.get("required") is False:
            notes.lost(
                name, f"depends_on.{dep}.required", "false: here every requirement is required"
            )


def _unsupported(place: Place, table: dict[str, object], notes: Notes, service: str) -> list[str]:
    """Notes for what has no equivalent; the `watch` globs of `develop.watch`."""
    replicas = place.table(table.get("deploy"), "deploy").get("replicas", table.get("scale"))
    if isinstance(replicas, int) and replicas > 1:
        notes.lost(service, "deploy.replicas", f"{replicas}: declare each instance as a service")
    develop = place.table(table.get("develop"), "develop")
    watch: list[str] = []
    for index, rule in enumerate(place.items(develop.get("watch"), "develop.watch")):
        entry = place.table(rule, f"develop.watch[{index}]")
        path = place.string(entry.get("path"), f"develop.watch[{index}].path")
        if entry.get("action") in ("restart", "sync+restart"):
            # A file has a suffix, as a rule (package.json); a folder's files are watched.
            glob = posixpath.normpath(path)
            watch.append(glob if PurePosixPath(glob).suffix else glob.rstrip("/") + "/**")
        else:
            notes.lost(
                service, f"develop.watch[{index}]", f"action {entry.get('action')}: only restart"
            )
    if watch:
        notes.approximated(service, "develop.watch", "as watch globs (a change restarts it)")
    _unread(place, table, notes, service)
    other = sorted(key for key in table if key not in _HANDLED and not key.startswith("x-"))
    if other:
        notes.lost(service, ", ".join(other), "no equivalent here")
    return watch


def _unread(place: Place, table: dict[str, object], notes: Notes, service: str) -> None:
    """Notes for the keys of `deploy` and `healthcheck` that are not read."""
    deploy = place.table(table.get("deploy"), "deploy")
    policy = place.table(deploy.get("restart_policy"), "deploy.restart_policy")
    for key in sorted(set(policy) - _RESTART_POLICY_READ):
        how = "here restarts back off on their own" if key == "delay" else "no equivalent here"
        notes.lost(service, f"deploy.restart_policy.{key}", how)
    for key in sorted(key for key in set(deploy) - _DEPLOY_READ if not key.startswith("x-")):
        notes.lost(service, f"deploy.{key}", "no equivalent here")
    check = place.table(table.get("healthcheck"), "healthcheck")
    if check.get("disable") is not True:
        for key in sorted(set(check) - _HEALTHCHECK_READ):
            notes.lost(service, f"healthcheck.{key}", "no equivalent here")


# A word that stands as a host: before `:PORT` (not `://`), a `/`, or at the end.
_HOST = re.compile(r"(?<![\w.-])([A-Za-z0-9][\w.-]*)(?=:(?!//)|/|$)")


def _hostnames(
    name: str, names: list[str], command: list[str], env: dict[str, Value] | None, notes: Notes
) -> None:
    """Compose services reach each other by name; here on 127.0.0.1."""
    others = set(names) - {name}
    texts = [*command, *(str(value) for value in (env or {}).values())]
    found = sorted({word for text in texts for word in _HOST.findall(text)} & others)
    if found:
        notes.approximated(
            name,
            "environment" if env else "command",
            f"names {', '.join(found)} as a host: here services meet on 127.0.0.1 "
            "(change the address, or keep it for an export)",
        )
