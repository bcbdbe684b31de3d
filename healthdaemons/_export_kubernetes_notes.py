"""The per-service notes of a Kubernetes export's fidelity report, collected
while the manifests are built."""

from __future__ import annotations

from dataclasses import dataclass, field

from ._fidelity import Fidelity, ServiceNote

__all__ = ["Notes"]


@dataclass(slots=True)
class Notes:
    notes: list[ServiceNote] = field(default_factory=list)

    def add(self, service: str, key: str, fidelity: Fidelity, how: str) -> None:
        note = ServiceNote(service, key, fidelity, how)
        if note not in self.notes:
            self.notes.append(note)
