"""A compose service's readiness: its healthcheck (the exporter's own probes
read back as `port`, `url` or `log_line`, any other test as a script, run
with `docker exec` for a service run with `docker run`), or, without one,
the port it publishes, or ready once started."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from ._import_compose_probes import READY_TEST, exported_probe, published_port
from ._import_compose_values import container_port, duration
from ._import_model import Notes, Place
from ._import_ready import STARTED, STARTED_HOW, script_hint
from ._toml_writer import Value

__all__ = ["Readiness", "check_readiness", "readiness"]

_TIMINGS = (("interval", "interval"), ("timeout", "timeout"), ("start_period", "grace_period"))


@dataclass(frozen=True, slots=True)
class Readiness:
    """What a service's readiness is read from, besides its healthcheck."""

    published: list[str]
    exposed: list[str]
    docker_name: str | None
    """The container's name when the service runs with `docker run`."""
    log_ready: dict[str, Value] | None
    """`log_line` and `stream` of the exporter's wrapper, when its command had it."""
    ports: dict[str, list[str]]
    """Every service's `ports`, to take an exported check's address back."""


def readiness(
    place: Place,
    name: str,
    table: dict[str, object],
    given: Readiness,
    out: dict[str, Value],
    container: dict[str, Value],
    notes: Notes,
) -> None:
    check = place.table(table.get("healthcheck"), "healthcheck")
    test = _health_test(place, check)
    if test is None:
        _guessed_readiness(name, given, out, container, notes)
        return
    if given.log_ready is not None and test == READY_TEST:
        # A log line is announced: only grace_period applies to it.
        grace = _timings(place, name, check, notes).get("grace_period")
        out["ready"] = {**given.log_ready, **({} if grace is None else {"grace_period": grace})}
        return
    exported = exported_probe(test, given.ports)
    if given.docker_name is not None:
        container["ready"] = exported or {"script": test}
        ready = _docker_ready(exported, test, given)
    elif exported is not None:
        ready = exported
    else:
        ready = {"script": test}
        hint = script_hint(test)
        if hint:
            notes.kept(name, "healthcheck.test", f"as a script; {hint}")
    out["ready"] = {**ready, **_timings(place, name, check, notes)}


def check_readiness(
    place: Place, name: str, table: dict[str, object], ports: dict[str, list[str]], notes: Notes
) -> dict[str, Value]:
    """The readiness of the service an export gives a check."""
    check = place.table(table.get("healthcheck"), "healthcheck")
    test = _health_test(place, check)
    if test is None:
        raise place.problem("healthcheck", "the service of a check needs its healthcheck")
    ready = exported_probe(test, ports) or {"script": test}
    return {**ready, **_timings(place, name, check, notes)}


def _docker_ready(
    exported: dict[str, Value] | None, test: str | list[str], given: Readiness
) -> dict[str, Value]:
    """Readiness seen from this machine of a service run with `docker run`: its
    published port (held by docker's proxy, not by its own processes), else
    its test run in its container."""
    assert given.docker_name is not None
    own = ("127.0.0.1", "localhost")
    port = None if exported is None else exported.get("port")
    published = published_port(port, given.published) if isinstance(port, int) else None
    if published is not None:
        return {"port": published, "owned": False}
    url = None if exported is None else exported.get("url")
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is not None and parts.hostname in own and parts.port is not None:
        published = published_port(parts.port, given.published)
        if published is not None:
            local = urlunsplit(parts._replace(netloc=f"127.0.0.1:{published}"))
            return {**(exported or {}), "url": local, "owned": False}
    prefix = ["docker", "exec", given.docker_name]
    return {"script": [*prefix, *test] if isinstance(test, list) else [*prefix, "sh", "-c", test]}


def _timings(place: Place, name: str, check: dict[str, object], notes: Notes) -> dict[str, Value]:
    timings: dict[str, Value] = {}
    for source, target in _TIMINGS:
        if check.get(source) is not None:
            seconds = duration(place, check[source], f"healthcheck.{source}")
            # 0 is compose's default (30 s for interval and timeout, none for start_period)
            if seconds:
                timings[target] = seconds
    if check.get("retries") not in (None, 1):
        notes.approximated(
            name,
            "healthcheck.retries",
            "dependents start at the first passing check; once ready, one failed check "
            "marks it not ready (compose waits for several)",
        )
    return timings


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
    given: Readiness,
    out: dict[str, Value],
    container: dict[str, Value],
    notes: Notes,
) -> None:
    docker = given.docker_name is not None
    candidates = [container_port(port, published=docker) for port in given.published]
    if not docker:
        candidates += [container_port(port, published=False) for port in given.exposed]
    port = next((port for port in candidates if port is not None), None)
    if port is None:
        out["ready"] = dict(STARTED)
        notes.approximated(name, "healthcheck", f"none: {STARTED_HOW}")
        return
    ready: dict[str, Value] = {"port": port}
    if docker:
        # docker's proxy holds a published port, not the service's own processes.
        ready["owned"] = False
        inner = [container_port(p, published=False) for p in given.published]
        container["ready"] = {"port": next(p for p in inner if p)}
    out["ready"] = ready
    notes.approximated(
        name,
        "healthcheck",
        f"none: ready once port {port} listens (from its ports), where compose's "
        "dependents would wait only for it to start",
    )
