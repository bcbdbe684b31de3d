"""Where an entry's commands run, and when that place is torn down."""

from __future__ import annotations

from ._defaults import SUBCONTAINER_DESTROY_TIMEOUT

__all__ = ["SubContainer"]


class SubContainer:
    """The place an entry's commands run in; this base class is this host.

    Subclass it for real isolation (a chroot, a namespace, a container
    runtime): `wrap` turns a command's argv into the argv that runs it
    inside, and `destroy` tears the place down. Several entries may share
    one. A system destroys it exactly once, after the last entry using it
    has stopped for good; a process stopping or restarting never does.
    """

    destroy_timeout: float = SUBCONTAINER_DESTROY_TIMEOUT
    """How long `destroy` may take before the system gives up on it."""

    def __init__(self, name: str = "host") -> None:
        self.name = name

    def wrap(self, argv: list[str]) -> list[str]:
        """The argv that runs `argv` in this subcontainer."""
        return argv

    async def destroy(self) -> None:
        """Release what the subcontainer holds. The host has nothing to release."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
