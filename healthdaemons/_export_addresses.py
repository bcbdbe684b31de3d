"""Where services meet once exported: locally every service is on 127.0.0.1;
in compose or Kubernetes each runs in its own network namespace and reaches
another by its name. This finds the local addresses a service's command, env
or check names, and the service that a `127.0.0.1:PORT` is, by its ports.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from coordinator import ConfigFile, ConfigService

__all__ = ["LocalAddress", "local_addresses", "owner_of_port", "reach_url"]

_LOCAL = re.compile(r"\b(?:127\.0\.0\.1|localhost|\[::1\])(?::(?P<port>\d{1,5}))?")


@dataclass(frozen=True, slots=True)
class LocalAddress:
    where: str
    """`command`, `env.DATABASE_URL`, `ready.url`."""
    address: str
    """As written: `127.0.0.1:5432`."""
    port: int | None


def local_addresses(service: ConfigService) -> Iterator[LocalAddress]:
    """The local addresses in `service`'s command (in its container), env
    values and, for a check, readiness script (a service's own script runs in
    its own container, where 127.0.0.1 is the service)."""
    image = service.image
    command = image.command if image is not None else service.command
    probe = service.container_probe if service.kind == "check" else None
    script = None if probe is None else probe.script
    texts: list[tuple[str, str]] = []
    if command is not None:
        texts.append(("command", command if isinstance(command, str) else " ".join(command)))
    texts.extend((f"env.{name}", value) for name, value in service.env.items())
    if script is not None:
        texts.append(("ready.script", script if isinstance(script, str) else " ".join(script)))
    for where, text in texts:
        for match in _LOCAL.finditer(text):
            port = match["port"]
            yield LocalAddress(where, match[0], None if port is None else int(port))


def owner_of_port(system: ConfigFile, port: int) -> tuple[ConfigService, int] | None:
    """The service that listens on `port` locally (its `ready.port`, a
    `ready.url`'s port, or the host side of a published port), and its
    port in its container."""
    for service in system.services:
        if service.kind == "check":
            continue
        image = service.image
        for published in image.ports if image is not None else ():
            parts = published.split("/")[0].rsplit(":", 2)
            if len(parts) >= 2 and int(parts[-2]) == port:
                return service, int(parts[-1])
        ready = service.ready
        if ready is not None and (ready.port == port or _url_port(ready.url) == port):
            return service, port
    return None


def reach_url(system: ConfigFile, url: str) -> tuple[str, ConfigService] | None:
    """`url` on 127.0.0.1 or localhost, pointed at the service that holds its
    port (`http://127.0.0.1:8080/` -> `http://proxy:80/`), or `None`."""
    parts = urlsplit(url)
    port = _url_port(url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1") or port is None:
        return None
    found = owner_of_port(system, port)
    if found is None:
        return None
    service, inner = found
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{service.id}:{inner}" if userinfo else f"{service.id}:{inner}"
    return urlunsplit(parts._replace(netloc=netloc)), service


def _url_port(url: str | None) -> int | None:
    if url is None:
        return None
    parts = urlsplit(url)
    try:
        explicit = parts.port
    except ValueError:
        return None
    return explicit or {"http": 80, "https": 443}.get(parts.scheme)
