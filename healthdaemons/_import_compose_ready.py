"""A compose service's readiness: its healthcheck as a script (run with
`docker exec` for a service run with `docker run`), or, without one, the
port it publishes, or ready once started."""

from __future__ import annotations

from ._import_compose_values import container_port, duration
from ._import_model import Notes, Place
from ._import_ready import STARTED, STARTED_HOW, script_hint
from ._toml_writer import Value

__all__ = ["readiness"]


def readiness(
    place: Place,
    name: str,
    table: dict[str, object],
    published: list[str],
    exposed: list[str],
    docker_name: str | None,
    out: dict[str, Value],
    container: dict[str, Value],
    notes: Notes,
) -> None:
    check = place.table(table.get("healthcheck"), "healthcheck")
    test = _health_test(place, check)
    if test is None:
        _guessed_readiness(name, published, exposed, docker_name is not None, out, container, notes)
        return
    ready: dict[str, Value] = {}
    if docker_name is not None:
        prefix = ["docker", "exec", docker_name]
        ready["script"] = (
            [*prefix, *test] if isinstance(test, list) else [*prefix, "sh", "-c", test]
        )
        container["ready"] = {"script": test}
    else:
        ready["script"] = test
        hint = script_hint(test)
        if hint:
            notes.kept(name, "healthcheck.test", f"as a script; {hint}")
    for source, target in (
        ("interval", "interval"),
        ("timeout", "timeout"),
        ("start_period", "grace_period"),
    ):
        if check.get(source) is not None:
            seconds = duration(place, check[source], f"healthcheck.{source}")
            # 0 is compose's default (30 s for interval and timeout, none for start_period)
            if seconds:
                ready[target] = seconds
    if check.get("retries") is not None:
        notes.approximated(
            name,
            "healthcheck.retries",
            "dependents start at the first passing check; once ready, one failed check "
            "marks it not ready (compose waits for several)",
        )
    if check.get("start_interval") is not None:
        notes.lost(
            name, "healthcheck.start_interval", "checks start fast here anyway (0.05 s, doubling)"
        )
    out["ready"] = ready


def _health_test(place: Place, check: dict[str, object]) -> str | list[str] | None:
    """The healthcheck's test (a string: a shell command), `None` when there is none."""
    if not check or check.get("disable") is True or check.get("test") is None:
        return None
    test = check["test"]
    key = "healthcheck.test"
    if isinstance(test, str):
        return place.command(test, key)
    words = place.strings(test, key)
    if not words or words[0] not in ("NONE", "CMD", "CMD-SHELL"):
        raise place.problem(key, "must start with NONE, CMD or CMD-SHELL")
    if words[0] == "NONE":
        return None
    if len(words) == 1:
        raise place.problem(key, f"{words[0]} needs a command")
    return place.command(words[1] if words[0] == "CMD-SHELL" else words[1:], key)


def _guessed_readiness(
    name: str,
    published: list[str],
    exposed: list[str],
    docker: bool,
    out: dict[str, Value],
    container: dict[str, Value],
    notes: Notes,
) -> None:
    candidates = [container_port(port, published=docker) for port in published]
    if not docker:
        candidates += [container_port(port, published=False) for port in exposed]
    port = next((port for port in candidates if port is not None), None)
    if port is None:
        out["ready"] = dict(STARTED)
        notes.approximated(name, "healthcheck", f"none: {STARTED_HOW}")
        return
    ready: dict[str, Value] = {"port": port}
    if docker:
        # docker's proxy holds a published port, not the service's own processes.
        ready["owned"] = False
        inner = next(p for p in (container_port(q, published=False) for q in published) if p)
        container["ready"] = {"port": inner}
    out["ready"] = ready
    notes.approximated(
        name,
        "healthcheck",
        f"none: ready once port {port} listens (from its ports), where compose's "
        "dependents would wait only for it to start",
    )
