"""A hang is a failure: the time limits of tests/time_limits.py, shown on tests
that hang on purpose (hanging_cases.py) in a pytest of their own, with limits
of seconds. Here because that pytest is a process, and so that the autouse
fixture of conftest.py shows that a timed-out test leaves no process behind.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

CASES = Path(__file__).with_name("hanging_cases.py")
ROOT = CASES.parents[2]
LIMIT = 3
EXIT_WITHIN = 2


def run_the_hanging_cases() -> tuple[dict[str, str], str, float]:
    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(CASES),
            "-p",
            "no:cacheprovider",
            "-o",
            f"timeout={LIMIT}",
            "-q",
            "-rA",
        ],
        cwd=ROOT,
        # Without CI's variables: under them pytest repeats each failure's
        # message in the summary, and the counts below would double.
        env={
            **{k: v for k, v in os.environ.items() if k not in ("CI", "BUILD_NUMBER")},
            "HEALTHDAEMONS_TEST_EXIT_WITHIN": str(EXIT_WITHIN),
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    elapsed = time.monotonic() - started
    outcomes = {
        test: outcome
        for outcome, test in re.findall(
            r"^(PASSED|FAILED|ERROR) tests/processes/hanging_cases\.py::(\S+)",
            result.stdout,
            re.MULTILINE,
        )
    }
    return outcomes, result.stdout, elapsed


def test_a_hanging_test_fails_on_both_backends_and_leaves_nothing() -> None:
    outcomes, output, elapsed = run_the_hanging_cases()
    assert outcomes == {
        "test_a_sleep_that_never_ends": "FAILED",
        "test_an_await_that_never_ends[asyncio]": "FAILED",
        "test_an_await_that_never_ends[trio]": "FAILED",
        "test_a_hang_with_a_process_running[asyncio]": "FAILED",
        "test_a_hang_with_a_process_running[trio]": "FAILED",
        "test_a_term_that_never_ends[asyncio]": "FAILED",
        "test_a_term_that_never_ends[trio]": "FAILED",
        "test_after_the_hangs_tests_still_run": "PASSED",
    }, output
    assert "Timeout (>3.0s) from pytest-timeout" in output
    assert output.count("ran over its limit of 3 s of real time and was cancelled") == 4
    # A hung term() fails in the exit's bound, naming what did not stop, well
    # within the test's limit.
    hung_exit = (
        "ExitHung: leaving `async with system.build()` took over 2 s of real time: "
        "term() did not stop sleeper (ready)"
    )
    assert output.count(hung_exit) == 2, output
    # Each hang costs its limit, not the job's: 5 limits and 2 exit bounds, plus
    # start-up and shutdowns on a loaded machine.
    assert elapsed < 5 * LIMIT + 2 * EXIT_WITHIN + 90
