"""What every exporter shares: what it gives back, the error for a system
that cannot be carried to a target, and the image a service runs in there."""

from __future__ import annotations

from dataclasses import dataclass

from coordinator import ConfigService, ContainerImage

from ._fidelity import FidelityReport

__all__ = ["ExportError", "Exported", "require_image"]


@dataclass(frozen=True, slots=True)
class Exported:
    files: tuple[tuple[str, str], ...]
    """(file name, text); each text starts with the generated-by line and the report."""
    report: FidelityReport


class ExportError(ValueError):
    """A system that cannot be exported to a target; the message names the
    service and the key (`services.api: no image to run it in: ...`)."""


def require_image(service: ConfigService) -> ContainerImage:
    """The image `service` runs in, or `ExportError` naming it."""
    if service.image is None:
        raise ExportError(
            f"services.{service.id}: no image to run it in: give "
            f'[services.{service.id}.container] image = "...", or a default '
            '[container] image = "..." for every service'
        )
    return service.image
