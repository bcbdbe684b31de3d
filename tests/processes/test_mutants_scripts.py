"""Health scripts' messages, exactly: the start of stdout, the end of stderr,
a signal that has no name. Written for the survivors of `make mutate`
(docs/testing.md)."""

from __future__ import annotations

import pytest

from coordinator import HealthStatus
from coordinator.checks import run_health_script

# Every test here, on both ways of running a child (the conftest).
pytestmark = pytest.mark.usefixtures("process_layer")

# 120 kB: more than the 64 KiB kept of each output.
JUNK = "i=0; while [ $i -lt 4000 ]; do echo 'junk junk junk junk junk junk'; i=$((i+1)); done"


async def test_success_shows_the_start_of_a_long_output() -> None:
    result = await run_health_script(f"echo 'the first line'; {JUNK}", timeout=30)
    assert result.result is HealthStatus.SUCCESS
    assert result.message is not None
    assert "the first line\njunk junk" in result.message
    assert result.message.endswith("...")


async def test_failure_shows_the_last_line_of_a_long_stderr() -> None:
    result = await run_health_script(f"{{ {JUNK}; echo 'the real reason'; }} >&2; exit 3")
    assert result.message is not None
    assert result.message.endswith(": exit code 3: the real reason")


async def test_a_signal_without_a_name_is_given_by_number() -> None:
    result = await run_health_script("kill -35 $$")
    assert result.message is not None
    assert result.message.endswith(": killed by signal 35")
