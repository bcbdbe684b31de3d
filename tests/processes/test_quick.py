"""`make quick` keeps what it says: the tests it selects start no process.

conftest.py's guard fails a test that starts one without the `processes`
marker; here the selection of the Makefile runs, in a pytest of its own, on
the tests that draw (the renderer is a process, so some of them start one).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def quick_selection() -> str:
    """The `-m` expression of the Makefile's `quick` target."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    found = re.search(r'HEALTHDAEMONS_QUICK=1 .*pytest -m "([^"]+)"', makefile)
    assert found is not None, "no quick target in the Makefile"
    return found[1]


def test_the_quick_drawing_tests_start_no_renderer() -> None:
    assert quick_selection() == "not processes and not slow"
    selection = ["tests/viz", "-m", quick_selection(), "-p", "no:cacheprovider", "-q"]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *selection],
        cwd=ROOT,
        env={**os.environ, "HEALTHDAEMONS_QUICK": "1", "HYPOTHESIS_PROFILE": "quick"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\d+ passed, \d+ deselected", result.stdout), result.stdout
