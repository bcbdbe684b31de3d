"""Kubernetes probes from a service's readiness and liveness checks.

The local default trigger checks at once, then after a quarter of the time
since the launch (5 ms to 1 s) until a success, then every 30 s while passing
and every 1 s while failing.
Kubernetes has one period per probe: without `interval` the readiness probe
runs every 1 s (the local pace until ready and while failing; a passing
service is probed every second rather than every 30 s). One failure makes
it not ready, as locally (`failureThreshold: 1`). `timeout` is rounded up
to whole seconds (`timeoutSeconds`, at least 1).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from coordinator import ConfigProbe, ConfigService

from ._export_kubernetes_container import inner_port
from ._export_probes import listening_probe, probe_command, url_probe

__all__ = [
    "LOCAL_HOSTS",
    "NEVER_GIVES_UP",
    "container_liveness",
    "container_readiness",
    "handler",
    "liveness_probe",
    "probe_port",
    "readiness_probe",
    "seconds",
    "startup_probe",
]

Manifest = dict[str, Any]

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0"})
NEVER_GIVES_UP = 2**31 - 1
"""A startupProbe's `failureThreshold` for a service without `start_timeout`:
locally it may take as long as it takes to become ready."""


def seconds(value: float) -> int:
    """Whole seconds, rounded up, at least 1 (Kubernetes takes integers)."""
    return max(1, math.ceil(value))


def probe_port(probe: ConfigProbe | None) -> int | None:
    """The port a `port` or local `url` probe checks (`None` for the others)."""
    if probe is None:
        return None
    if probe.kind == "port":
        return probe.port
    if probe.kind == "url" and probe.url is not None:
        parts = urlsplit(probe.url)
        if parts.hostname in LOCAL_HOSTS:
            return parts.port or (443 if parts.scheme == "https" else 80)
    return None


def container_readiness(service: ConfigService) -> ConfigProbe | None:
    """The readiness check in `service`'s container: `container.ready`, else
    `ready` with a local port published from another one inside moved to it."""
    if service.container_ready is not None:
        return service.container_ready
    return None if service.ready is None else _container_side(service, service.ready, "ready")


def container_liveness(service: ConfigService) -> ConfigProbe | None:
    """`liveness` in the container, its port moved as `container_readiness`'s."""
    live = service.liveness
    return None if live is None else _container_side(service, live, "liveness")


def _container_side(service: ConfigService, probe: ConfigProbe, key: str) -> ConfigProbe:
    port = probe_port(probe)
    if port is None:
        return probe
    inner = inner_port(service, port, f"{key}.{probe.kind}")
    if inner == port:
        return probe
    if probe.kind == "port":
        return replace(probe, port=inner)
    assert probe.url is not None
    parts = urlsplit(probe.url)
    host = parts.hostname or "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return replace(probe, url=urlunsplit(parts._replace(netloc=f"{host}:{inner}")))


def handler(service: ConfigService, probe: ConfigProbe, *, one_pod: bool = False) -> Manifest:
    """The probe's action: tcpSocket, httpGet (no `host` for a local URL: the
    kubelet probes the pod's own address), or exec of the shared probe
    command (a script; the ready file of the log-line wrapper; `notify` is
    an `ExportError`). In one pod a local port or URL is probed from inside
    (exec), on 127.0.0.1, where the services meet: a server that listens
    only there is not reached on the pod's address."""
    if one_pod and probe_port(probe) is not None:
        if probe.kind == "port":
            assert probe.port is not None
            return {"exec": {"command": list(listening_probe(probe.port).argv)}}
        assert probe.url is not None
        return {"exec": {"command": list(url_probe(probe.url, probe.timeout).argv)}}
    if probe.kind == "port":
        return {"tcpSocket": {"port": probe.port}}
    if probe.kind == "url":
        assert probe.url is not None
        parts = urlsplit(probe.url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        get: Manifest = {"path": path}
        if parts.hostname not in LOCAL_HOSTS and parts.hostname is not None:
            get["host"] = parts.hostname
        get["port"] = parts.port or (443 if parts.scheme == "https" else 80)
        get["scheme"] = parts.scheme.upper()
        return {"httpGet": get}
    return {"exec": {"command": list(probe_command(service, probe).argv)}}


def readiness_probe(probe: ConfigProbe, action: Manifest) -> Manifest:
    return {
        **action,
        "periodSeconds": 1 if probe.interval is None else seconds(probe.interval),
        "timeoutSeconds": seconds(probe.timeout),
        "successThreshold": 1,
        "failureThreshold": 1,
    }


def startup_probe(probe: ConfigProbe, action: Manifest, start_timeout: float | None) -> Manifest:
    """The readiness action every second until it first passes; `start_timeout`
    seconds of failures restart the container (none: it never gives up)."""
    return {
        **action,
        "periodSeconds": 1,
        "timeoutSeconds": seconds(probe.timeout),
        "failureThreshold": NEVER_GIVES_UP if start_timeout is None else seconds(start_timeout),
    }


def liveness_probe(probe: ConfigProbe, action: Manifest) -> Manifest:
    assert probe.interval is not None  # a liveness check always has one (10 s by default)
    return {
        **action,
        "periodSeconds": seconds(probe.interval),
        "timeoutSeconds": seconds(probe.timeout),
        "failureThreshold": probe.failures,
    }
