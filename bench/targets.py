"""The targets a benchmark checks, printed PASS, MISS or SKIP with their figures.

Each benchmark prints its own targets at its end. When `BENCH_TARGETS` names a
file (`make bench` sets it), the lines are also appended there, and
`python bench/targets.py FILE` prints them all again as the run's summary.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Target", "report"]

MARKS = {True: "PASS", False: "MISS", None: "SKIP"}


@dataclass(frozen=True, slots=True)
class Target:
    """`passed`: `None` when the run could not measure it (too small, skipped)."""

    passed: bool | None
    text: str

    def line(self) -> str:
        return f"{'!! ' if self.passed is False else '   '}{MARKS[self.passed]}  {self.text}"


def report(bench: str, targets: Sequence[Target]) -> int:
    """Print the targets of `bench`; the number missed."""
    print(f"\n== Targets of {bench} ==")
    for target in targets:
        print(target.line())
    missed = sum(target.passed is False for target in targets)
    print()
    print(f"!! {missed} of {len(targets)} targets missed" if missed else "all targets met")
    summary = os.environ.get("BENCH_TARGETS")
    if summary:
        with open(summary, "a", encoding="utf-8") as file:
            file.writelines(f"{target.line()}  [{bench}]\n" for target in targets)
    return missed


def main(argv: Sequence[str]) -> int:
    if len(argv) != 1:
        print("usage: python bench/targets.py FILE", file=sys.stderr)
        return 2
    try:
        with open(argv[0], encoding="utf-8") as file:
            lines = file.read().splitlines()
    except FileNotFoundError:
        lines = []
    print("\n== Every target of this run ==")
    print("\n".join(lines) if lines else "(none recorded)")
    missed = sum(line.startswith("!! ") for line in lines)
    verdict = f"{missed} of {len(lines)} targets missed" if missed else f"all {len(lines)} met"
    print(f"\n{verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
