"""A trigger's steps, started and closed so that its errors are reported,
never raised into the check loop."""

from __future__ import annotations

from collections.abc import AsyncIterator

from ._fatal import is_fatal
from ._health import ResultGetter, Trigger, close_steps

__all__ = ["close_quietly", "start_trigger"]


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
