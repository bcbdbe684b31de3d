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
from urllib.parse import urlsplit

from coordinator import ConfigFile, ConfigService

from ._export_addresses import owner_of_port, reach_url
from ._export_kubernetes_container import container_ports
from ._export_kubernetes_notes import Notes
from ._export_kubernetes_probes import LOCAL_HOSTS, container_readiness, probe_port
from ._export_model import ExportError, require_image
from ._export_probes import probe_command
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
    """The ports of a daemon's Service, each once: `container.ports`, its
    readiness port in the container, and the port its local readiness check
    says it listens on (unless `container.ports` publishes that one from
    another port inside)."""
    published = container_ports(service)
    ports = list(dict.fromkeys((port, protocol) for port, protocol, _ in published))
    local = probe_port(service.ready)
    if any(host == local for _, _, host in published):
        local = None
    for ready in (probe_port(container_readiness(service)), local):
        if ready is not None and (ready, "TCP") not in ports:
            ports.append((ready, "TCP"))
    return ports


def gate_port(service: ConfigService) -> int | None:
    """The TCP port a dependent connects to through the Service, if any."""
    ready = probe_port(container_readiness(service))
    if ready is not None:
        return ready
    return next((port for port, protocol in service_ports(service) if protocol == "TCP"), None)


def waits(system: ConfigFile, service: ConfigService, notes: Notes, gates: Gates) -> list[Manifest]:
    containers: dict[str, Manifest] = {}
    for id in service.requires:
        _wait_for(system, system.service(id), service, notes, gates, containers)
    if service.id in containers:
        raise ExportError(
            f"services.{service.id}: its pod would have two containers named {service.id} "
            "(its own and an init container that waits for one of its requirements): "
            "rename it"
        )
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
        containers.setdefault(f"check-{target.id}", _check(system, target, notes))
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


def _check(system: ConfigFile, check: ConfigService, notes: Notes) -> Manifest:
    """An init container that runs `check`'s probe until it passes: a port or
    URL of this file's services through their Services, in busybox; a
    script in the check's image."""
    probe = check.container_probe
    assert probe is not None
    command = probe_command(check, probe, system)
    loop = f'until "$@"; do echo waiting for {check.id}; sleep 1; done'
    container: Manifest = {
        "name": f"check-{check.id}",
        "image": WAIT_IMAGE,
        "command": ["sh", "-c", loop, "sh", *command.argv],
    }
    if probe.kind == "script":
        image = require_image(check)
        container.update(image=image.image, workingDir=image.workdir)
    else:
        _reach_note(system, check, notes)
    return container


def _reach_note(system: ConfigFile, check: ConfigService, notes: Notes) -> None:
    probe = check.container_probe
    assert probe is not None
    if probe.kind == "url":
        assert probe.url is not None
        reached = reach_url(system, probe.url)
        if reached is None and urlsplit(probe.url).hostname not in LOCAL_HOSTS:
            return
        where = None if reached is None else reached[0]
    else:
        assert probe.port is not None
        found = owner_of_port(system, probe.port)
        where = None if found is None else f"{found[0].id}:{found[1]}"
    if where is None:
        notes.add(check.id, "ready", Fidelity.LOST,
                  "no service of this file listens there: the dependents' init containers "
                  "check 127.0.0.1, which is their own pod")  # fmt: skip
    else:
        notes.add(check.id, "ready", Fidelity.APPROXIMATED,
                  f"checked at {where} (its Service) by the init containers of the services "
                  "that require it, which need nc and wget (busybox)")  # fmt: skip
