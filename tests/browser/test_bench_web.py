"""`bench/bench_web.py` on a few entries for a few seconds: the page dispatches
`healthdaemons:applied` for every event it shows (the contract the latency
figure rests on), and each of the bench's figures is measured."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_web_bench_measures_every_figure_on_a_small_system() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "bench_web.py"),
            *("--count", "5", "--rate", "20", "--soak", "3", "--repeat", "1", "--window", "0.5"),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    applied = re.search(r"the page applied (\d+) of (\d+) events", out)
    assert applied is not None, out
    assert applied[1] == applied[2] and int(applied[2]) > 0, out
    assert re.search(r"event -> DOM: p50 \d+ ms, p95 \d+ ms", out), out
    assert re.search(r"the page stays flat from", out), out
    assert re.search(r"term\(\) with the page [\d.]+x without", out), out
    assert "the page then said 'shutdown'" in out, out
