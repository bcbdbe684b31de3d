"""`healthdaemons export kubernetes`: a system as Kubernetes manifests, with
the fidelity report (docs/export.md).

One Deployment per daemon (one replica, `Recreate`, so that there is never
more than one process of it, as locally), with a Service when it has ports;
one Job per oneshot; no pod for a check, whose probe the init containers of
its dependents run (`_export_kubernetes_waits`). One file per service,
`ID.yaml`, and `SYSTEM.wait.yaml` with the ServiceAccount, Role and
RoleBinding when some pod waits with kubectl. `--single-pod` is
`_export_kubernetes_pod`.
"""

from __future__ import annotations

import math
from typing import Any

from coordinator import ConfigFile, ConfigService

from ._export_kubernetes_container import PodVolumes
from ._export_kubernetes_manifests import (
    check_names,
    file_text,
    labels,
    literal_pod,
    metadata,
    selector,
    service_manifest,
    system_name,
)
from ._export_kubernetes_notes import Notes, address_notes
from ._export_kubernetes_pod import export_pod
from ._export_kubernetes_report import deployments_report
from ._export_kubernetes_service import daemon_container, oneshot_container, service_notes
from ._export_kubernetes_waits import Gates, service_ports, waits
from ._export_model import Exported, require_image
from ._fidelity import Fidelity

__all__ = ["export_kubernetes"]

Manifest = dict[str, Any]

JOB_BACKOFF_LIMIT = 6
"""Kubernetes' own default, for a oneshot without `max_restarts` (which
locally is retried without limit)."""


def export_kubernetes(
    system: ConfigFile, *, single_pod: bool, namespace: str | None = None
) -> Exported:
    """Raises `ExportError` for what cannot be carried (naming the service)."""
    check_names(system, namespace, single_pod=single_pod)
    for service in system.services:
        if service.kind != "check":
            require_image(service)
    if single_pod:
        return export_pod(system, namespace)
    notes = Notes()
    gates = Gates()
    claimed: set[str] = set()
    by_service: list[tuple[str, list[Manifest]]] = []
    for service in system.services:
        address_notes(system, service, notes, one_pod=False)
        service_notes(service, notes)
        if service.kind == "check":
            _check_notes(system, service, notes)
            continue
        inits = waits(system, service, notes, gates)
        documents = _workload(system, service, notes, inits, gates.waiting_pods, claimed, namespace)
        by_service.append((service.id, documents))
    rbac = _rbac(system, gates, namespace, notes)
    report = deployments_report(system, notes)
    files = [(f"{id}.yaml", file_text(system, report, documents)) for id, documents in by_service]
    if rbac:
        # A dot, which no service id has: `app-wait` may be a service of app.toml.
        files.append((f"{system_name(system)}.wait.yaml", file_text(system, report, rbac)))
    return Exported(tuple(files), report)


def _workload(
    system: ConfigFile,
    service: ConfigService,
    notes: Notes,
    inits: list[Manifest],
    waiting_pods: set[str],
    claimed: set[str],
    namespace: str | None,
) -> list[Manifest]:
    volumes = PodVolumes()
    if service.kind == "daemon":
        container = daemon_container(system, service, notes, volumes, sidecar=False, one_pod=False)
    else:
        container = oneshot_container(system, service, notes, volumes, one_pod=False)
    pod: Manifest = {}
    if service.id in waiting_pods:
        pod["serviceAccountName"] = f"{system_name(system)}-wait"
    pod["terminationGracePeriodSeconds"] = math.ceil(service.sigterm_timeout)
    if service.run_as_init:
        pod["shareProcessNamespace"] = True
    if "lifecycle" in container:
        pod["os"] = {"name": "linux"}  # lifecycle.stopSignal needs it
    if inits:
        pod["initContainers"] = inits
    pod["containers"] = [container]
    if service.kind == "oneshot":
        pod["restartPolicy"] = "Never"
    if volumes.volumes:
        pod["volumes"] = list(volumes.volumes.values())
    component = "daemon" if service.kind == "daemon" else "oneshot"
    template = {
        "metadata": {"labels": labels(system, service.id, component)},
        "spec": literal_pod(pod),
    }
    documents: list[Manifest] = []
    for name, claim in volumes.claims.items():
        if name not in claimed:
            claimed.add(name)
            documents.append({**claim, "metadata": metadata(name, namespace)})
    meta = metadata(service.id, namespace, labels(system, service.id, component))
    if service.kind == "oneshot":
        limit = JOB_BACKOFF_LIMIT if service.max_restarts is None else service.max_restarts
        documents.append(
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": meta,
                "spec": {"backoffLimit": limit, "template": template},
            }
        )
        return documents
    documents.append(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta,
            "spec": {
                "replicas": 1,
                "strategy": {"type": "Recreate"},
                "selector": {"matchLabels": selector(system, service.id)},
                "template": template,
            },
        }
    )
    ports = service_ports(service)
    if ports:
        documents.append(service_manifest(system, service.id, namespace, component, ports))
    return documents


def _check_notes(system: ConfigFile, check: ConfigService, notes: Notes) -> None:
    dependents = [service.id for service in system.services if check.id in service.requires]
    if dependents:
        notes.add(
            check.id,
            "kind",
            Fidelity.APPROXIMATED,
            f"no pod: the init containers of {', '.join(dependents)} run its check before "
            "they start; nothing watches it afterwards",
        )
    else:
        notes.add(
            check.id,
            "kind",
            Fidelity.LOST,
            "no pod, and nothing requires it: nothing runs its check (--single-pod runs "
            "it as a sidecar)",
        )


def _rbac(system: ConfigFile, gates: Gates, namespace: str | None, notes: Notes) -> list[Manifest]:
    if not gates.resources:
        return []
    name = f"{system_name(system)}-wait"
    groups = {"deployments": "apps", "jobs": "batch"}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata(name, namespace)},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": metadata(name, namespace),
            "rules": [
                {
                    "apiGroups": [groups[resource]],
                    "resources": [resource],
                    "verbs": ["get", "list", "watch"],
                }
                for resource in sorted(gates.resources)
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": metadata(name, namespace),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            # Without a namespace, RBAC takes the binding's own: the one applied to.
            "subjects": [
                {"kind": "ServiceAccount", "name": name}
                | ({} if namespace is None else {"namespace": namespace})
            ],
        },
    ]
