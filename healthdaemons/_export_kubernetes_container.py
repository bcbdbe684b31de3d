"""One service's container for Kubernetes, shared by both modes: image and
command, environment, working directory, user, stop signal, ports and
volumes, and what could not be carried (as notes for the report).

Volumes follow compose's short syntax: `TARGET` alone is an `emptyDir`; a
named volume (`pgdata:/var/lib/...`) is a PersistentVolumeClaim of that
name (generated, 1Gi, ReadWriteOnce); a relative host path (`.:/app`,
`./nginx.conf:/etc/nginx/conf.d/default.conf`) has no place in a cluster, so
it is mounted from a ConfigMap that the report says how to create from the
files; an absolute host path is a `hostPath` (the node's, not this machine's).
`env_file` is the same: a ConfigMap per file, created from it with kubectl,
so that nothing of the files (often secrets) is copied into the manifests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coordinator import ConfigFile, ConfigService

from ._export_kubernetes_notes import Notes
from ._export_model import ExportError, require_image
from ._fidelity import Fidelity

__all__ = [
    "PodVolumes",
    "container_ports",
    "inner_port",
    "kubernetes_name",
    "service_container",
    "stop_signal",
    "system_name",
]

Manifest = dict[str, Any]

PVC_SIZE = "1Gi"
_PORT = re.compile(
    r"(?:(?:\[?[0-9a-fA-F:.]+\]?:)?(?P<host>\d+):)?(?P<container>\d+)(?:/(?P<protocol>tcp|udp))?"
)


def kubernetes_name(text: str) -> str:
    """`text` as a DNS-1123 label (lowercase letters, digits, dashes)."""
    name = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:63].rstrip("-")
    return name or "x"


@dataclass(slots=True)
class PodVolumes:
    """The pod's volumes and the claims to create, shared by its containers."""

    volumes: dict[str, Manifest] = field(default_factory=dict)
    claims: dict[str, Manifest] = field(default_factory=dict)


def container_ports(service: ConfigService) -> list[tuple[int, str, int | None]]:
    """(container port, protocol, published host port) of `container.ports`."""
    ports: list[tuple[int, str, int | None]] = []
    for text in service.image.ports if service.image is not None else ():
        match = _PORT.fullmatch(text)
        assert match is not None  # checked when the file was read
        host = None if match["host"] is None else int(match["host"])
        ports.append((int(match["container"]), (match["protocol"] or "tcp").upper(), host))
    return ports


def inner_port(service: ConfigService, port: int, key: str) -> int:
    """The port in `service`'s container of `port`, a port its local check
    (`key`) connects to: the container side of a `container.ports` mapping
    `port:C` ("8080:80": 80), else `port` itself."""
    hosts = [
        (inner, protocol) for inner, protocol, host in container_ports(service) if host == port
    ]
    tcp = [inner for inner, protocol in hosts if protocol == "TCP"]
    if tcp:
        return tcp[0]
    if hosts:
        raise ExportError(
            f"services.{service.id}.{key}: port {port} is published only as UDP "
            f"(container.ports), so the TCP port to check in the container is unknown: give "
            f"[services.{service.id}.container.ready] the readiness in the container"
        )
    return port


def service_container(
    system: ConfigFile,
    service: ConfigService,
    notes: Notes,
    volumes: PodVolumes,
    *,
    command: list[str] | None = None,
    plain_init: bool = False,
) -> Manifest:
    """`service`'s container without probes; `command` replaces the one in
    its image (the log-line wrapper around it). A plain init container (a
    oneshot in one pod) may have no `lifecycle`, so no stop signal."""
    image = require_image(service)
    container: Manifest = {"name": service.id, "image": image.image}
    argv = image.command
    if command is not None:
        container["command"] = command
    elif isinstance(argv, str):
        container["command"] = ["sh", "-c", argv]
    elif argv is not None:
        container["command"] = list(argv)
    if (argv is not None or command is not None) and image.workdir is not None:
        container["workingDir"] = image.workdir  # the image's own command keeps its own
    env = [{"name": name, "value": value} for name, value in service.env.items()]
    if env:
        container["env"] = env
    env_from = _env_from(system, service, notes)
    if env_from:
        container["envFrom"] = env_from
    # "80:80" and "8080:80" are one port of the container: the API server refuses it twice.
    ports = [
        {"containerPort": port, "protocol": protocol}
        for port, protocol in dict.fromkeys((p, q) for p, q, _ in container_ports(service))
    ]
    for port, _, host in container_ports(service):
        if host is not None:
            notes.add(
                service.id,
                "container.ports",
                Fidelity.APPROXIMATED,
                f"host port {host} is not published: the Service gives port {port} inside "
                "the cluster; add a NodePort, LoadBalancer or Ingress to reach it from outside",
            )
    if ports:
        container["ports"] = ports
    security = _security_context(service, notes)
    if security:
        container["securityContext"] = security
    if service.stop_signal != "SIGTERM" and plain_init:
        notes.add(service.id, "stop_signal", Fidelity.LOST,
                  "a plain init container may have no lifecycle.stopSignal: the runtime sends "
                  "the image's STOPSIGNAL, else SIGTERM, if the pod is deleted while it "
                  "runs")  # fmt: skip
    elif service.stop_signal != "SIGTERM":
        stop = stop_signal(service.stop_signal)
        container["lifecycle"] = {"stopSignal": stop}
        notes.add(
            service.id,
            "stop_signal",
            Fidelity.APPROXIMATED,
            f"lifecycle.stopSignal: {stop}, which Kubernetes 1.33 honours only "
            "with the alpha ContainerStopSignals feature gate; without it the runtime sends "
            "the image's STOPSIGNAL, else SIGTERM",
        )
    mounts = _mounts(system, service, notes, volumes)
    if mounts:
        container["volumeMounts"] = mounts
    return container


def stop_signal(name: str) -> str:
    """`name` as Kubernetes spells it: it knows SIGRTMIN+1 to +15, then counts
    down from SIGRTMAX (Linux has 30 signals after SIGRTMIN)."""
    match = re.fullmatch(r"SIGRTMIN\+(\d+)", name)
    if match is None or int(match[1]) < 16:
        return name
    below = 30 - int(match[1])
    return f"SIGRTMAX-{below}" if below else "SIGRTMAX"


def _env_from(system: ConfigFile, service: ConfigService, notes: Notes) -> list[Manifest]:
    refs: list[Manifest] = []
    files = service.env_files
    for index, path in enumerate(files, start=1):
        name = f"{service.id}-env" if len(files) == 1 else f"{service.id}-env-{index}"
        refs.append({"configMapRef": {"name": name}})
        notes.add(
            service.id,
            f"env_file[{index - 1}]" if len(files) > 1 else "env_file",
            Fidelity.APPROXIMATED,
            f"read from ConfigMap {name}: create it first, {_where(system)}, with "
            f"`kubectl create configmap {name} --from-env-file={_relative(system, path)}` "
            "(kubectl reads the file as written: no quotes removed, no ${VAR} filled in)",
        )
    return refs


def _security_context(service: ConfigService, notes: Notes) -> Manifest:
    user = service.user
    if user is None:
        return {}
    if isinstance(user, int) or user.isdigit():
        return {"runAsUser": int(user)}
    notes.add(
        service.id,
        "user",
        Fidelity.LOST,
        f"{user!r} is a name and runAsUser takes a uid: the image's own user applies "
        "(give the uid to keep it)",
    )
    return {}


def _mounts(
    system: ConfigFile, service: ConfigService, notes: Notes, volumes: PodVolumes
) -> list[Manifest]:
    image = require_image(service)
    mounts: list[Manifest] = []
    for index, text in enumerate(image.volumes):
        parts = text.split(":")
        if len(parts) == 1:
            name = f"{service.id}-scratch-{index}"
            volumes.volumes[name] = {"name": name, "emptyDir": {}}
            mounts.append({"name": name, "mountPath": parts[0]})
            continue
        source, target = parts[0], parts[1]
        read_only = len(parts) == 3 and "ro" in parts[2].split(",")
        mount: Manifest = {"mountPath": target}
        if not source.startswith((".", "/", "~")):
            name = kubernetes_name(source)
            volumes.volumes[name] = {"name": name, "persistentVolumeClaim": {"claimName": name}}
            volumes.claims.setdefault(name, _claim(system, name))
            notes.add(
                service.id,
                f"container.volumes[{index}]",
                Fidelity.APPROXIMATED,
                f"volume {source} is the PersistentVolumeClaim {name} ({PVC_SIZE}, "
                "ReadWriteOnce, the cluster's default storage class): set its size",
            )
        elif source.startswith("/"):
            name = f"{service.id}-host-{index}"
            volumes.volumes[name] = {"name": name, "hostPath": {"path": source}}
            notes.add(
                service.id,
                f"container.volumes[{index}]",
                Fidelity.APPROXIMATED,
                f"{source} is a hostPath: the node's {source}, not this machine's",
            )
        else:
            path = (system.base / source).resolve()
            name = kubernetes_name(f"{system_name(system)}-{_slug(source)}")
            volumes.volumes[name] = {"name": name, "configMap": {"name": name}}
            if path.is_file():
                mount["subPath"] = path.name
            notes.add(
                service.id,
                f"container.volumes[{index}]",
                Fidelity.APPROXIMATED,
                f"{source} is mounted from ConfigMap {name} (read-only, files only, 1 MiB in "
                f"all): create it first, {_where(system)}, with `kubectl create configmap "
                f"{name} --from-file={_relative(system, path)}`",
            )
            read_only = True
        mounts.append({"name": name, **mount, **({"readOnly": True} if read_only else {})})
    return mounts


def _claim(system: ConfigFile, name: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": PVC_SIZE}},
        },
    }


def system_name(system: ConfigFile) -> str:
    """The system's name in Kubernetes: its config file's name without `.toml`
    (a Service's name must start with a letter)."""
    name = kubernetes_name(Path(system.source).stem)
    return name if name[0].isalpha() else kubernetes_name(f"system-{name}")


def _slug(source: str) -> str:
    stripped = source.removeprefix("./").strip("/.")
    return stripped or "folder"


def _where(system: ConfigFile) -> str:
    return f"in {Path(system.source).name}'s folder"


def _relative(system: ConfigFile, path: Path) -> str:
    """`path` as typed in the config file's folder (where the report says to run kubectl)."""
    try:
        return str(path.resolve().relative_to(system.base.resolve()))
    except ValueError:
        return str(path)
