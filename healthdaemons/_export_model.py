"""What every exporter shares: the error for a system that cannot be carried
to a target, and the image a service runs in there."""

from __future__ import annotations

from coordinator import ConfigService, ContainerImage

__all__ = ["ExportError", "require_image"]


class ExportError(Exception):
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
