"""The per-service notes of a Kubernetes export's fidelity report, collected
while the manifests are built, and those about local addresses."""

from __future__ import annotations

from dataclasses import dataclass, field

from coordinator import ConfigFile, ConfigService

from ._export_addresses import local_addresses, owner_of_port
from ._fidelity import Fidelity, ServiceNote

__all__ = ["Notes", "address_notes"]


@dataclass(slots=True)
class Notes:
    notes: list[ServiceNote] = field(default_factory=list)

    def add(self, service: str, key: str, fidelity: Fidelity, how: str) -> None:
        note = ServiceNote(service, key, fidelity, how)
        if note not in self.notes:
            self.notes.append(note)


def address_notes(
    system: ConfigFile, service: ConfigService, notes: Notes, *, one_pod: bool
) -> None:
    """Locally services meet on 127.0.0.1; across pods each is reached by its
    Service's name. The addresses are not rewritten: the notes say what to write."""
    for local in local_addresses(service):
        found = None if local.port is None else owner_of_port(system, local.port)
        if one_pod:
            how = (Fidelity.KEPT, f"{local.address}: one pod shares localhost")
        elif found is None:
            how = (Fidelity.LOST, f"{local.address} is the pod itself in Kubernetes: edit it")
        else:
            owner, port = found
            how = (Fidelity.LOST, f"{local.address} is {owner.id}'s: in Kubernetes reach it "
                   f"as {owner.id}:{port}; edit it")  # fmt: skip
        notes.add(service.id, local.where, *how)
