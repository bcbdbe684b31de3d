"""Addresses: locally the services meet on 127.0.0.1; across pods each is
reached by its Service's name. Which service a local port belongs to, and
the notes for the 127.0.0.1 and localhost addresses in commands and env
values (not rewritten: the report says what to write instead)."""

from __future__ import annotations

import re

from coordinator import ConfigFile, ConfigService

from ._export_kubernetes_container import container_ports
from ._export_kubernetes_notes import Notes
from ._export_kubernetes_probes import probe_port
from ._fidelity import Fidelity

__all__ = ["address_notes", "owner_of"]

_LOCAL = re.compile(r"\b(?:127\.0\.0\.1|localhost)(?::(\d+))?")


def owner_of(system: ConfigFile, port: int) -> tuple[str, int] | None:
    """(daemon id, port in its container) of the daemon that has local `port`
    (a published host port, or its local readiness port)."""
    daemons = [service for service in system.services if service.kind == "daemon"]
    for daemon in daemons:
        for container_port, _, host in container_ports(daemon):
            if host == port:
                return daemon.id, container_port
        if probe_port(daemon.ready) == port:
            return daemon.id, probe_port(daemon.container_probe) or port
    for daemon in daemons:
        if any(host is None and inside == port for inside, _, host in container_ports(daemon)):
            return daemon.id, port
    return None


def address_notes(
    system: ConfigFile, service: ConfigService, notes: Notes, *, one_pod: bool
) -> None:
    image = service.image
    command = image.command if image is not None else None
    texts = [("command", command if isinstance(command, str) else " ".join(command or ()))]
    texts += [(f"env.{name}", value) for name, value in service.env.items()]
    for key, text in texts:
        for match in _LOCAL.finditer(text):
            notes.add(service.id, key, *_reached(system, match, one_pod=one_pod))


def _reached(system: ConfigFile, match: re.Match[str], *, one_pod: bool) -> tuple[Fidelity, str]:
    if one_pod:
        return Fidelity.KEPT, f"{match[0]}: one pod shares localhost"
    owner = None if match[1] is None else owner_of(system, int(match[1]))
    if owner is None:
        return Fidelity.LOST, f"{match[0]} is the pod itself in Kubernetes: edit it"
    id, port = owner
    return Fidelity.LOST, f"{match[0]} is {id}'s: in Kubernetes reach it as {id}:{port}; edit it"
