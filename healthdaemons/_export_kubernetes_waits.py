"""Dependency gating across pods: one init container per requirement, which
ends once the requirement is ready, so the pod's own container starts after
all of them (Kubernetes runs init containers one at a time, in order).

- A daemon with a TCP port: `wait-ID` connects to the port through its
  Service (`nc -z ID PORT` in busybox), which routes only to ready pods,
  so the connection succeeds once ID's readiness probe has passed.
- A daemon without one, and a oneshot: `kubectl wait` on the API, through
  a ServiceAccount allowed to read Deployments and Jobs: `wait-ID-created`
  waits for the object to exist (`--for=create`), then `wait-ID` for the
  Deployment to be Available (its one pod ready) or the Job to be Complete.
- A check has no pod: `check-ID` runs its probe itself (a port or URL of
  this file's services is reached through that service's Service), after
  the waits for the check's own requirements.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from coordinator import ConfigFile, ConfigService

from ._export_kubernetes_addresses import owner_of
from ._export_kubernetes_container import container_ports
from ._export_kubernetes_notes import Notes
from ._export_kubernetes_probes import LOCAL_HOSTS, probe_port, seconds
from ._export_model import require_image
from ._export_shell_probes import url_probe_command
from ._fidelity import Fidelity

__all__ = ["KUBECTL_IMAGE", "WAIT_IMAGE", "Gates", "gate_port", "service_ports", "waits"]

Manifest = dict[str, Any]

WAIT_IMAGE = "busybox:1.37"
KUBECTL_IMAGE = "registry.k8s.io/kubectl:v1.33.0"


@dataclass(slots=True)
class Gates:
    """What the waits of the whole system need from the API."""

    resources: set[str] = field(default_factory=set)
    """`deployments` and `jobs`, when some pod waits for one with kubectl."""
    waiting_pods: set[str] = field(default_factory=set)
    """Ids of the pods that run kubectl (they need the ServiceAccount)."""


def service_ports(service: ConfigService) -> list[tuple[int, str]]:
    """The ports of a daemon's Service: `container.ports`, its readiness port in
    the container, and the port its local readiness check says it listens on
    (unless `container.ports` publishes that one from another port inside)."""
    published = container_ports(service)
    ports = [(port, protocol) for port, protocol, _ in published]
    local = probe_port(service.ready)
    if any(host == local for _, _, host in published):
        local = None
    for ready in (probe_port(service.container_probe), local):
        if ready is not None and (ready, "TCP") not in ports:
            ports.append((ready, "TCP"))
    return ports


def gate_port(service: ConfigService) -> int | None:
    """The TCP port a dependent connects to through the Service, if any."""
    ready = probe_port(service.container_probe)
    if ready is not None:
        return ready
    return next((port for port, protocol in service_ports(service) if protocol == "TCP"), None)


def waits(system: ConfigFile, service: ConfigService, notes: Notes, gates: Gates) -> list[Manifest]:
    containers: dict[str, Manifest] = {}
    for id in service.requires:
        _wait_for(system, system.service(id), service, notes, gates, containers)
    return list(containers.values())


def _wait_for(
    system: ConfigFile,
    target: ConfigService,
    waiter: ConfigService,
    notes: Notes,
    gates: Gates,
    containers: dict[str, Manifest],
) -> None:
    if target.kind == "check":
        for id in target.requires:
            _wait_for(system, system.service(id), waiter, notes, gates, containers)
        containers.setdefault(f"check-{target.id}", _check(system, target, waiter, notes))
        return
    port = gate_port(target) if target.kind == "daemon" else None
    if port is not None:
        containers.setdefault(f"wait-{target.id}", _tcp_wait(target.id, port))
        return
    kind = "deployment" if target.kind == "daemon" else "job"
    condition = "available" if target.kind == "daemon" else "complete"
    gates.resources.add(f"{kind}s")
    gates.waiting_pods.add(waiter.id)
    containers.setdefault(
        f"wait-{target.id}-created",
        _kubectl(f"wait-{target.id}-created", "create", kind, target.id),
    )
    containers.setdefault(
        f"wait-{target.id}",
        _kubectl(f"wait-{target.id}", f"condition={condition}", kind, target.id),
    )


def _tcp_wait(id: str, port: int) -> Manifest:
    script = f"until nc -z -w 2 {id} {port}; do echo waiting for {id}; sleep 1; done"
    return {"name": f"wait-{id}", "image": WAIT_IMAGE, "command": ["sh", "-c", script]}


def _kubectl(name: str, condition: str, kind: str, id: str) -> Manifest:
    return {
        "name": name,
        "image": KUBECTL_IMAGE,
        "command": ["kubectl", "wait", f"--for={condition}", f"{kind}/{id}", "--timeout=-1s"],
    }


def _check(
    system: ConfigFile, check: ConfigService, waiter: ConfigService, notes: Notes
) -> Manifest:
    probe = check.container_probe
    assert probe is not None
    name = f"check-{check.id}"
    if probe.kind == "script":
        assert probe.script is not None
        argv = ["sh", "-c", probe.script] if isinstance(probe.script, str) else list(probe.script)
        image = require_image(check)
        loop = 'until "$@"; do echo waiting for the check; sleep 1; done'
        return {
            "name": name,
            "image": image.image,
            "command": ["sh", "-c", loop, "sh", *argv],
            "workingDir": image.workdir,
        }
    if probe.kind == "port":
        assert probe.port is not None
        host, port = _reach(system, check, "127.0.0.1", probe.port, notes)
        test = f"nc -z -w {seconds(probe.timeout)} {host} {port}"
    else:
        assert probe.url is not None
        test = url_probe_command(_reach_url(system, check, probe.url, notes), probe.timeout)
    script = f"until {test}; do echo waiting for {check.id}; sleep 1; done"
    return {"name": name, "image": WAIT_IMAGE, "command": ["sh", "-c", script]}


def _reach_url(system: ConfigFile, check: ConfigService, url: str, notes: Notes) -> str:
    parts = urlsplit(url)
    if parts.hostname not in LOCAL_HOSTS:
        return url
    local = parts.port or (443 if parts.scheme == "https" else 80)
    host, port = _reach(system, check, parts.hostname or "127.0.0.1", local, notes)
    return urlunsplit(parts._replace(netloc=f"{host}:{port}"))


def _reach(
    system: ConfigFile, check: ConfigService, host: str, port: int, notes: Notes
) -> tuple[str, int]:
    owner = owner_of(system, port)
    if owner is None:
        notes.add(
            check.id,
            "ready",
            Fidelity.LOST,
            f"no service of this file has port {port}: checked at {host}:{port} in the "
            "dependent's pod, which is not where the server runs",
        )
        return host, port
    id, container_port = owner
    notes.add(
        check.id,
        "ready",
        Fidelity.APPROXIMATED,
        f"{host}:{port} is {id}'s: checked at {id}:{container_port} (its Service) by the "
        "init containers of the services that require it",
    )
    return id, container_port
