"""`healthdaemons export kubernetes --single-pod`: the whole system as one Pod.

The services go in a topological order of `requires` (the file's dependency
order): daemons and checks as native sidecars (init containers with
`restartPolicy: Always` and a startupProbe from their readiness, so that the
next container starts only once they are ready), oneshots as plain init
containers (each runs to completion before the next starts). Kubernetes
stops the main containers first, then the sidecars in reverse order, so
ordered start and shutdown are kept. A pod needs a main container: the last
daemon in the order that nothing requires, else a pause container that
only holds the pod. A check's sidecar idles (busybox for a local port or
URL, its image for a script, the pause image for a URL elsewhere) and its
probes are the check. All containers share the pod's localhost, so
127.0.0.1 addresses keep working, and local ports and URLs are probed there
from inside (exec), not on the pod's address: a server that listens only on
127.0.0.1 is ready too.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from coordinator import ConfigFile, ConfigProbe, ConfigService

from ._export_addresses import owner_of_port
from ._export_kubernetes_container import PodVolumes, container_ports
from ._export_kubernetes_manifests import (
    file_text,
    labels,
    literal_pod,
    metadata,
    service_manifest,
    system_name,
)
from ._export_kubernetes_notes import Notes, address_notes
from ._export_kubernetes_probes import handler, probe_port, readiness_probe, startup_probe
from ._export_kubernetes_report import pod_report
from ._export_kubernetes_service import daemon_container, oneshot_container, service_notes
from ._export_kubernetes_waits import WAIT_IMAGE
from ._export_model import Exported, require_image
from ._export_probes import tcp_probe, url_probe
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
            sidecar = daemon_container(system, service, notes, volumes, sidecar=True, one_pod=True)
            inits.append(_sidecar(sidecar))
        elif service.kind == "check":
            inits.append(_sidecar(_check_container(system, service, notes)))
        else:
            inits.append(oneshot_container(system, service, notes, volumes, one_pod=True))
    if main is None:
        name = _free_name(system)
        container: Manifest = {"name": name, "image": PAUSE_IMAGE}
    else:
        service = system.service(main)
        address_notes(system, service, notes, one_pod=True)
        service_notes(service, notes, one_pod=True)
        container = daemon_container(system, service, notes, volumes, sidecar=False, one_pod=True)
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
            "spec": literal_pod(spec),
        }
    )
    ports = sorted(
        {(port, protocol) for s in system.services for port, protocol, _ in container_ports(s)}
    )
    if ports:
        documents.append(service_manifest(system, pod_name, namespace, "system", ports))
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
    """A sidecar that idles, whose probes are the check: a script in the
    check's image; a port or URL of the pod's own services on 127.0.0.1, from
    busybox (nc, wget), on the port the owner listens on in its container; a
    URL elsewhere by the kubelet's httpGet, from a pause container."""
    probe = check.container_probe
    assert probe is not None
    container: Manifest = {"name": check.id}
    local = _local_target(system, check, probe, notes)
    if probe.kind == "script" or local is not None:
        image = require_image(check).image if probe.kind == "script" else WAIT_IMAGE
        idle = "trap 'exit 0' TERM; while :; do sleep 1; done"
        container.update(image=image, command=["sh", "-c", idle])
        if probe.kind == "script":
            container["workingDir"] = require_image(check).workdir
    else:
        container["image"] = PAUSE_IMAGE
    action = handler(check, probe) if local is None else {"exec": {"command": list(local)}}
    container["startupProbe"] = startup_probe(probe, action, None)
    container["readinessProbe"] = readiness_probe(probe, action)
    if probe.kind == "url" and local is None:
        notes.add(check.id, "ready.url", Fidelity.APPROXIMATED,
                  "an httpGet probe of a sidecar: Kubernetes counts 200-399 as passing, "
                  "locally any status below 500 does")  # fmt: skip
    return container


def _local_target(
    system: ConfigFile, check: ConfigService, probe: ConfigProbe, notes: Notes
) -> tuple[str, ...] | None:
    """The command that checks a local port or URL in the pod (`None`: not local)."""
    port = probe_port(probe)
    if port is None or probe.kind == "script":
        return None
    owner = owner_of_port(system, port)
    inner = port if owner is None else owner[1]
    if owner is not None and inner != port:
        notes.add(check.id, "ready", Fidelity.APPROXIMATED,
                  f"port {port} is {owner[0].id}'s, which listens on {inner} in its "
                  f"container: checked on port {inner} of the pod")  # fmt: skip
    if probe.kind == "port":
        return tcp_probe("127.0.0.1", inner, probe.timeout).argv
    assert probe.url is not None
    parts = urlsplit(probe.url)
    url = urlunsplit(parts._replace(netloc=f"127.0.0.1:{inner}"))
    return url_probe(url, probe.timeout).argv


def _grace(system: ConfigFile) -> int:
    """The pod's one budget: the sidecars stop one after another."""
    return sum(math.ceil(s.sigterm_timeout) for s in system.services if s.kind == "daemon") or 30


def _free_name(system: ConfigFile) -> str:
    ids = {service.id for service in system.services}
    return next(
        name for n in range(len(ids) + 1) if (name := f"main-{n}" if n else "main") not in ids
    )
