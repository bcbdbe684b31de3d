"""The shape of a trigger, and stepping through one (for the triggers and the check loop).

Private: `coordinator.triggers` is public, and these helpers are not part of it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from ._results import HealthCheckResult

__all__ = ["ResultGetter", "Trigger", "advance_steps", "close_steps"]

ResultGetter = Callable[[], HealthCheckResult | None]
"""Gives a trigger the last raw check result (`None` before the first)."""

Trigger = Callable[[ResultGetter], AsyncIterator[None]]
"""Decides when checks run: each step of the iterator ends when the next check is due."""


async def advance_steps(steps: AsyncIterator[None]) -> bool:
    """Wait for the next step; `False` once the trigger has ended."""
    try:
        await anext(steps)
    except StopAsyncIteration:
        return False
    return True


async def close_steps(steps: AsyncIterator[None]) -> None:
    """Close a trigger's iterator, if it can be closed (async generators can)."""
    aclose = getattr(steps, "aclose", None)
    if aclose is not None:
        await aclose()
