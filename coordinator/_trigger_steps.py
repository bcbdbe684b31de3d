"""The shape of a trigger, and stepping through one (for the triggers and the check loop):
started and closed so that its errors are reported, never raised into the check loop.

Private: `coordinator.triggers` is public, and these helpers are not part of it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from ._fatal import is_fatal
from ._results import HealthCheckResult

__all__ = [
    "ResultGetter",
    "Trigger",
    "advance_steps",
    "close_quietly",
    "close_steps",
    "start_trigger",
]

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


def start_trigger(trigger: Trigger, last_result: ResultGetter) -> AsyncIterator[None]:
    """The trigger's steps; a trigger that raises when called gives steps that
    raise the same at once, so it is reported like one that raises later."""
    try:
        return trigger(last_result)
    except BaseException as error:
        if isinstance(error, Exception) or is_fatal(error):
            return _raising(error)
        raise


async def _raising(error: BaseException) -> AsyncIterator[None]:
    raise error
    yield  # an async generator, though it never yields


async def close_quietly(steps: AsyncIterator[None]) -> BaseException | None:
    """Close a trigger's steps; returns what its cleanup raised, if that ends the system."""
    try:
        await close_steps(steps)
    except Exception:  # the trigger's own cleanup failed; nothing to keep
        pass
    except BaseException as error:
        if not is_fatal(error):
            raise
        return error
    return None
