"""`healthdaemons export kubernetes --single-pod`: the whole system as one Pod.

The services go in a topological order of `requires` (the file's dependency
order): daemons and checks as native sidecars (init containers with
`restartPolicy: Always` and a startupProbe from their readiness, so that the
next container starts only once they are ready), oneshots as plain init
containers (each runs to completion before the next starts). Kubernetes
stops the main containers first, then the sidecars in reverse order, so
ordered start and shutdown are kept. A pod needs a main container: the last
daemon in the order that nothing requires, else a pause container that
only holds the pod. A check's sidecar is a pause container (a script check:
its image, idle) whose probes are the check. All containers share the pod's
localhost, so 127.0.0.1 addresses keep working.
"""

from __future__ import annotations

import math
from typing import Any

from coordinator import ConfigFile, ConfigService

from ._export_addresses import owner_of_port
from ._export_kubernetes_container import PodVolumes, container_ports
from ._export_kubernetes_manifests import file_text, labels, metadata, selector, system_name
from ._export_kubernetes_notes import Notes, address_notes
from ._export_kubernetes_probes import (
    handler,
    readiness_probe,
    startup_probe,
)
from ._export_kubernetes_report import pod_report
from ._export_kubernetes_service import daemon_container, oneshot_container, service_notes
from ._export_model import Exported, require_image
from ._fidelity import Fidelity

__all__ = ["PAUSE_IMAGE", "export_pod"]

Manifest = dict[str, Any]

PAUSE_IMAGE = "registry.k8s.io/pause:3.10"


def export_pod(system: ConfigFile, namespace: str | None) -> Exported:
    notes = Notes()
    volumes = PodVolumes()
    main = _main_daemon(system)
    ordered = [service for service in system.services if service.id != main]
    inits: list[Manifest] = []
    for service in ordered:
        address_notes(system, service, notes, one_pod=True)
        service_notes(service, notes, one_pod=True)
        if service.kind == "daemon":
            inits.append(_sidecar(daemon_container(system, service, notes, volumes, sidecar=True)))
        elif service.kind == "check":
            inits.append(_sidecar(_check_container(system, service, notes)))
        else:
            inits.append(oneshot_container(system, service, notes, volumes))
    if main is None:
        name = _free_name(system)
        container: Manifest = {"name": name, "image": PAUSE_IMAGE}
    else:
        service = system.service(main)
        address_notes(system, service, notes, one_pod=True)
        service_notes(service, notes, one_pod=True)
        container = daemon_container(system, service, notes, volumes, sidecar=False)
        name = main
    order = [service.id for service in ordered] + [name]
    _shared_ports(system, notes)
    report = pod_report(system, notes, order, name)
    pod_name = system_name(system)
    spec: Manifest = {"terminationGracePeriodSeconds": _grace(system)}
    if any(service.run_as_init for service in system.services):
        spec["shareProcessNamespace"] = True
    if any("lifecycle" in c for c in [*inits, container]):
        spec["os"] = {"name": "linux"}  # lifecycle.stopSignal needs it
    if inits:
        spec["initContainers"] = inits
    spec["containers"] = [container]
    if volumes.volumes:
        spec["volumes"] = list(volumes.volumes.values())
    documents: list[Manifest] = [
        {**claim, "metadata": metadata(claim_name, namespace)}
        for claim_name, claim in volumes.claims.items()
    ]
    documents.append(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": metadata(pod_name, namespace, labels(system, pod_name, "system")),
            "spec": spec,
        }
    )
    ports = sorted(
        {(port, protocol) for s in system.services for port, protocol, _ in container_ports(s)}
    )
    if ports:
        documents.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": metadata(pod_name, namespace, labels(system, pod_name, "system")),
                "spec": {
                    "selector": selector(system, pod_name),
                    "ports": [
                        {
                            "name": f"{protocol.lower()}-{port}",
                            "port": port,
                            "targetPort": port,
                            "protocol": protocol,
                        }
                        for port, protocol in ports
                    ],
                },
            }
        )
    return Exported(((f"{pod_name}.yaml", file_text(system, report, documents)),), report)


def _shared_ports(system: ConfigFile, notes: Notes) -> None:
    """Containers of one pod share its network: two cannot listen on one port."""
    holders: dict[tuple[int, str], str] = {}
    for service in system.services:
        for port, protocol, _ in container_ports(service):
            first = holders.setdefault((port, protocol), service.id)
            if first != service.id:
                notes.add(service.id, "container.ports", Fidelity.LOST,
                          f"{protocol} port {port} is also {first}'s: in one pod they share "
                          "the network, so only one of them can listen on it")  # fmt: skip


def _main_daemon(system: ConfigFile) -> str | None:
    """The last daemon that nothing requires: it can come after every init container."""
    required = {id for service in system.services for id in service.requires}
    daemons = [s.id for s in system.services if s.kind == "daemon" and s.id not in required]
    return daemons[-1] if daemons else None


def _sidecar(container: Manifest) -> Manifest:
    name, image, *rest = container.items()
    return dict([name, image, ("restartPolicy", "Always"), *rest])


def _check_container(system: ConfigFile, check: ConfigService, notes: Notes) -> Manifest:
    probe = check.container_probe
    assert probe is not None
    container: Manifest = {"name": check.id}
    if probe.kind == "script":
        image = require_image(check)
        idle = "trap 'exit 0' TERM; while :; do sleep 1; done"
        container.update(image=image.image, command=["sh", "-c", idle], workingDir=image.workdir)
    else:
        container["image"] = PAUSE_IMAGE
    action = handler(check, probe)
    target: Manifest = next(iter(action.values()))
    port = target.get("port")
    if isinstance(port, int) and probe.kind != "script" and "host" not in target:
        owner = owner_of_port(system, port)
        if owner is not None and owner[1] != port:
            target["port"] = owner[1]
            notes.add(check.id, "ready", Fidelity.APPROXIMATED,
                      f"port {port} is {owner[0].id}'s, which listens on {owner[1]} in its "
                      f"container: checked on port {owner[1]} of the pod")  # fmt: skip
    container["startupProbe"] = startup_probe(probe, action, None)
    container["readinessProbe"] = readiness_probe(probe, action)
    if probe.kind == "url":
        notes.add(check.id, "ready.url", Fidelity.APPROXIMATED,
                  "an httpGet probe of a sidecar: Kubernetes counts 200-399 as passing, "
                  "locally any status below 500 does")  # fmt: skip
    return container


def _grace(system: ConfigFile) -> int:
    """The pod's one budget: the sidecars stop one after another."""
    return sum(math.ceil(s.sigterm_timeout) for s in system.services if s.kind == "daemon") or 30


def _free_name(system: ConfigFile) -> str:
    ids = {service.id for service in system.services}
    return next(
        name for n in range(len(ids) + 1) if (name := f"main-{n}" if n else "main") not in ids
    )
