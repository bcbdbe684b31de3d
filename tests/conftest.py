"""Every async test runs twice: on asyncio (real time) and on trio with a mock
clock (virtual time: sleeps cost nothing and timing is deterministic)."""

from __future__ import annotations

import os

import pytest
import trio.testing
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=200,
    deadline=None,
    print_blob=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> object:
    if request.param == "asyncio":
        return "asyncio"
    return ("trio", {"clock": trio.testing.MockClock(autojump_threshold=0)})
