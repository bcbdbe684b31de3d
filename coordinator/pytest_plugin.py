"""The pytest plugin of healthdaemons (registered through the `pytest11` entry point).

It provides one fixture, `start_system`: see `docs/pytest-plugin.md`.
Importing this module does nothing else: pytest imports it in every run of
every project where healthdaemons is installed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .testing import StartSystem

__all__ = ["start_system"]


@pytest.fixture
async def start_system(anyio_backend: object) -> AsyncIterator[StartSystem]:
    """Start systems for the test: `running = await start_system(system, wait_ready=30)`.

    At teardown, whether the test passed or not, the systems are stopped in
    the reverse order of their start, each by the ordered `term()` of its
    `async with` block. The test then fails (an error at teardown) unless
    each ended with every entry `stopped`, a history that keeps the
    specification's invariants 1, 2, 3, 5 and 6, and no process of it
    alive, grandchildren included; leftover processes are killed first.

    Needs anyio's pytest plugin: mark the test `@pytest.mark.anyio` (or set
    `anyio_mode = "auto"`).
    """
    from .testing import StartSystem, UncleanShutdown

    message = None
    try:
        async with StartSystem() as starter:
            yield starter
    except UncleanShutdown as problem:
        message = f"healthdaemons: {problem}"
    if message is not None:  # failed outside the handler: the message alone
        pytest.fail(message, pytrace=False)
