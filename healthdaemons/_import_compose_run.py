"""How a compose service runs here: its command (with `docker run` for an
image's own, or one that says to give it), its user and folder, how it
stops and when it restarts."""

from __future__ import annotations

import posixpath

from ._import_compose_values import duration
from ._import_model import Notes, Place, valid_id
from ._import_ready import NOT_A_STOP_SIGNAL, stop_signal_named
from ._toml_writer import Value

__all__ = [
    "docker_run",
    "image_of",
    "placeholder_command",
    "restart_policy",
    "stop_settings",
    "user_of",
    "working_folder",
]

_RESTARTS = ("no", "always", "on-failure", "unless-stopped")


def docker_run(
    docker_name: str,
    image: str,
    table: dict[str, object],
    env: dict[str, Value] | None,
    passed: list[str],
    files: list[str],
    published: list[str],
    mounts: list[str],
    workdir: str | None,
    user: str | int | None,
) -> list[str]:
    command = ["docker", "run", "--rm", "--name", docker_name]
    if table.get("init") is True:
        command.append("--init")
    for port in published:
        command += ["-p", port]
    for mount in mounts:
        command += ["-v", mount]
    # `-e NAME` passes the value `env` gives `docker run` itself, or, for a
    # name compose passes on, the supervisor's own.
    for name in [*(env or {}), *passed]:
        command += ["-e", name]
    for file in files:
        command += ["--env-file", file]
    if workdir is not None:
        command += ["-w", workdir]
    if user is not None:
        command += ["-u", str(user)]
    return [*command, image]


def placeholder_command(name: str, notes: Notes) -> str:
    """The command of a service compose builds and runs with the built image's
    own command, which this file cannot see: one that fails saying so."""
    notes.lost(
        name,
        "command",
        "none (compose runs the command of the image it builds): written as a "
        "command that fails saying so; give its command",
    )
    return f"echo 'services.{valid_id(name)}: give its command' >&2; exit 1"


def image_of(place: Place, value: object) -> str | None:
    if value is None:
        return None
    image = place.string(value, "image")
    if not image or any(character.isspace() for character in image):
        raise place.problem("image", f"must be an image reference, not {image!r}")
    return image


def user_of(
    place: Place, value: object, notes: Notes, service: str, *, docker: bool
) -> str | int | None:
    """The user a service runs as; with `docker run`, `-u` takes `uid:gid` whole."""
    if value is None:
        return None
    user = place.string(value, "user")
    if not user:
        raise place.problem("user", "must not be empty")
    if ":" in user and docker:
        return user
    if ":" in user:
        user, group = user.split(":", 1)
        notes.lost(service, "user", f"the group {group!r}: a service runs with its user's group")
    return int(user) if user.isdigit() else user


def working_folder(
    workdir: str,
    mounts: list[str],
    docker: bool,
    context: str | None,
    out: dict[str, Value],
    container: dict[str, Value],
    notes: Notes,
    service: str,
) -> None:
    """`working_dir` is a path in the container; here the command runs from
    the folder mounted there, when a bind mount says which."""
    if posixpath.isabs(workdir):
        container["workdir"] = workdir
    if docker:
        return
    for mount in mounts:
        source, _, rest = mount.partition(":")
        target = rest.split(":")[0]
        if source.startswith((".", "/")) and (workdir + "/").startswith(target.rstrip("/") + "/"):
            inner = posixpath.relpath(workdir, target)
            out["cwd"] = posixpath.normpath(posixpath.join(source, inner))
            return
    if context is not None:
        if context != ".":
            out["cwd"] = context
        where = f"its build context, {context}"
    else:
        where = "the config file's folder (give cwd)"
    notes.approximated(
        service, "working_dir", f"{workdir} is in the container; here the command runs in {where}"
    )


def stop_settings(
    place: Place, table: dict[str, object], out: dict[str, Value], notes: Notes, service: str
) -> None:
    if table.get("stop_grace_period") is not None:
        out["sigterm_timeout"] = duration(place, table["stop_grace_period"], "stop_grace_period")
    value = table.get("stop_signal")
    if value is None:
        return
    stop_signal = stop_signal_named(
        place,
        value if isinstance(value, int) else place.string(value, "stop_signal"),
        "stop_signal",
    )
    if stop_signal is None:
        notes.lost(service, "stop_signal", f"{value}: {NOT_A_STOP_SIGNAL}")
    else:
        out["stop_signal"] = stop_signal


def restart_policy(
    place: Place,
    table: dict[str, object],
    kind: str,
    out: dict[str, Value],
    notes: Notes,
    service: str,
) -> None:
    value = table.get("restart")
    deploy = place.table(table.get("deploy"), "deploy")
    policy = place.table(deploy.get("restart_policy"), "deploy.restart_policy")
    if value is None and policy:
        condition = policy.get("condition", "any")
        value = {"none": "no", "on-failure": "on-failure", "any": "always"}.get(str(condition))
        if policy.get("max_attempts") is not None and value == "on-failure":
            value = f"on-failure:{policy['max_attempts']}"
    if value is None:
        return
    text = place.string(value, "restart")
    policy_name, _, count = text.partition(":")
    if policy_name not in _RESTARTS or (count and policy_name != "on-failure"):
        raise place.problem(
            "restart", f"must be no, always, on-failure[:N] or unless-stopped, not {text!r}"
        )
    if count and not count.isdigit():
        raise place.problem("restart", f"on-failure takes a number of restarts, not {count!r}")
    # Docker reads a maximum of 0 as no maximum.
    count = "" if count and int(count) == 0 else count
    if kind == "oneshot":
        if policy_name == "no":
            out["max_restarts"] = 0
        elif count:
            out["max_restarts"] = int(count)
        elif policy_name != "on-failure":
            notes.approximated(
                service, "restart", f"{text}: a oneshot runs again only after a failure"
            )
        return
    if policy_name == "unless-stopped":
        notes.approximated(
            service, "restart", "unless-stopped is always here (an operator's stop holds it)"
        )
    elif policy_name != "always":
        out["restart"] = policy_name
    if count:
        out["max_restarts"] = int(count)
