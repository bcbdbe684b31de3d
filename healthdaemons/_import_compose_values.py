"""The values of a compose service read as this format writes them:
commands, durations, environments, ports and volumes."""

from __future__ import annotations

import math
import posixpath
import re
import shlex

from ._import_model import Notes, Place
from ._toml_writer import Value

__all__ = [
    "argv",
    "container_port",
    "duration",
    "env_files",
    "environment",
    "ports",
    "volumes",
]

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h|d)")
_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400}
_PORT = re.compile(
    # an IP has dots (or brackets): "8080:80" is a host port and a container port
    r"(?:(?:\[[0-9a-fA-F:.]+\]|\d+\.[0-9.]+):)?(?:(?P<host>\d+):)?(?P<container>\d+)"
    r"(?:/(?P<protocol>tcp|udp))?"
)
_BRACED = re.compile(r"\$\$|\$\{[^}]*\}")
_MARK = re.compile(r"\0(\d+)\0")
_VOLUME_MODES = frozenset({"ro", "rw", "z", "Z", "cached", "delegated", "consistent", "nocopy"})


def argv(place: Place, value: object, key: str) -> list[str] | None:
    """A compose command: a list is the argv; a string is split into words as
    compose splits it, without a shell (`$` and quotes as a shell reads them).
    Compose fills its variables in first; here they are filled in later, so
    each `${...}` stays in one word (`${G:-hello world}` is not split)."""
    if value is None:
        return None
    if isinstance(value, str):
        text = place.string(value, key)
        variables: list[str] = []
        # A NUL cannot be in the text (`Place.string`): it marks where each was.
        marked = _BRACED.sub(lambda match: _marked(match[0], variables), text)
        try:
            words = shlex.split(marked)
        except ValueError as error:
            raise place.problem(key, f"cannot split into words: {error}") from None
        return [_MARK.sub(lambda match: variables[int(match[1])], word) for word in words]
    return place.strings(value, key)


def _marked(token: str, variables: list[str]) -> str:
    """`$$` (a literal `$`) as it is; a variable as a mark in one word."""
    if token == "$$":
        return token
    variables.append(token)
    return f"\0{len(variables) - 1}\0"


def duration(place: Place, value: object, key: str) -> int | float:
    """Seconds in a compose duration (`1m30s`, `500ms`; a bare number is seconds)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not 0 <= value < math.inf:
            raise place.problem(key, f"must be a duration >= 0, not {value}")
        return value
    text = place.string(value, key).strip()
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise place.problem(key, f"must be a duration such as '1m30s' or '10s', not {text!r}")
    seconds = sum(float(number) * _SECONDS[unit] for number, unit in parts)
    return int(seconds) if seconds == int(seconds) else round(seconds, 3)


def environment(place: Place, value: object) -> tuple[dict[str, Value] | None, list[str]]:
    """`environment` as a list of `NAME=value` or a mapping; and the names
    without a value, which pass the variable on from compose's environment."""
    if value is None:
        return None, []
    passed: list[str] = []
    env: dict[str, Value] = {}
    if isinstance(value, list):
        for index, item in enumerate(value):
            text = place.string(item, f"environment[{index}]")
            name, equals, rest = text.partition("=")
            place.env_name(name, f"environment[{index}]")
            if equals:
                env[name] = rest
            else:
                passed.append(name)
    else:
        for name, item in place.table(value, "environment").items():
            place.env_name(name, "environment")
            if item is None:
                passed.append(name)
            elif isinstance(item, bool):
                env[name] = "true" if item else "false"
            else:
                env[name] = place.string(item, f"environment.{name}")
    return env or None, passed


def env_files(place: Place, value: object, notes: Notes, service: str) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    files: list[str] = []
    for index, item in enumerate(items):
        key = f"env_file[{index}]" if isinstance(value, list) else "env_file"
        if isinstance(item, dict):
            entry = place.table(item, key)
            path = place.string(entry.get("path"), f"{key}.path")
            if entry.get("required") is not False:
                files.append(path)
            elif (place.folder / path).is_file():
                files.append(path)
                notes.approximated(
                    service, key, f"{path} is optional there; here a missing env file is a mistake"
                )
            else:
                notes.lost(service, key, f"{path} is optional there, and not there now: left out")
        else:
            files.append(place.string(item, key))
    return files


def ports(place: Place, value: object, notes: Notes, service: str) -> list[str]:
    """Compose's ports in its short syntax (`"8080:80"`), the long syntax
    converted; what the container table cannot hold (ranges) is noted."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise place.problem("ports", f"must be a list, not {type(value).__name__}")
    kept: list[str] = []
    for index, item in enumerate(value):
        if isinstance(item, dict):
            entry = place.table(item, f"ports[{index}]")
            target = place.string(entry.get("target"), f"ports[{index}].target")
            published = entry.get("published")
            host_ip = entry.get("host_ip")
            text = target if published is None else f"{published}:{target}"
            text = text if host_ip is None else f"{host_ip}:{text}"
            protocol = entry.get("protocol")
            text = text if protocol in (None, "tcp") else f"{text}/{protocol}"
        else:
            text = place.string(item, f"ports[{index}]")
        if _PORT.fullmatch(text):
            kept.append(text)
        else:
            notes.lost(service, f"ports[{index}]", f"{text!r}: port ranges are not supported")
    return kept


def container_port(port: str, *, published: bool) -> int | None:
    """The container's port of a `ports` entry (or the host's, if `published`), TCP only."""
    match = _PORT.fullmatch(port)
    if match is None or match["protocol"] == "udp":
        return None
    side = match["host"] if published else match["container"]
    return None if side is None else int(side)


def volumes(place: Place, value: object, notes: Notes, service: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise place.problem("volumes", f"must be a list, not {type(value).__name__}")
    kept: list[str] = []
    for index, item in enumerate(value):
        key = f"volumes[{index}]"
        if isinstance(item, dict):
            entry = place.table(item, key)
            kind = entry.get("type", "volume")
            if kind not in ("bind", "volume"):
                notes.lost(service, key, f"a {kind} mount has no equivalent here")
                continue
            target = place.string(entry.get("target"), f"{key}.target")
            source = entry.get("source")
            text = target if source is None else f"{place.string(source, key)}:{target}"
            text += ":ro" if entry.get("read_only") else ""
        else:
            text = place.string(item, key)
        parts = text.split(":")
        target = parts[0] if len(parts) == 1 else parts[1]
        modes = set(parts[2].split(",")) if len(parts) == 3 else set()
        if len(parts) > 3 or not posixpath.isabs(target) or not modes <= _VOLUME_MODES:
            notes.lost(service, key, f"{text!r}: not a SOURCE:TARGET[:MODE] volume")
            continue
        kept.append(text)
    return kept
