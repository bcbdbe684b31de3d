"""The score of `make mutate`, per module and overall, from `mutmut results`.

Killed (a timeout counts as killed) over the mutants that were run; a mutant
that no selected test reaches ("no tests") counts as not killed. Run from the
project's root after `mutmut run`.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

BIN = Path(sys.executable).parent
KILLED = {"killed", "timeout", "caught by type check"}
NOT_RUN = {"not checked", "skipped"}


def results() -> list[tuple[str, str, str]]:
    """(module, mutant, status) of every mutant mutmut knows."""
    listing = subprocess.run(
        [str(BIN / "mutmut"), "results", "--all", "true"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = []
    for line in listing.splitlines():
        match = re.fullmatch(r"\s*(\S+): (.+)", line)
        if match:
            name, status = match.groups()
            module = re.split(r"\.x[_ǁ]", name, maxsplit=1)[0]
            found.append((module, name, status.strip()))
    return found


def main() -> int:
    by_module: dict[str, Counter[str]] = defaultdict(Counter)
    survivors = []
    for module, name, status in results():
        by_module[module][status] += 1
        if status not in KILLED | NOT_RUN:
            survivors.append(f"{name}: {status}")
    total_killed = total_run = 0
    print(f"{'module':40} {'killed':>7} {'run':>5} {'score':>6}  not run")
    for module, counts in sorted(by_module.items()):
        killed = sum(counts[s] for s in KILLED)
        run = sum(counts.values()) - sum(counts[s] for s in NOT_RUN)
        not_run = sum(counts[s] for s in NOT_RUN)
        total_killed += killed
        total_run += run
        score = f"{100 * killed / run:5.1f}%" if run else "    -"
        print(f"{module:40} {killed:7} {run:5} {score:>6}  {not_run}")
    if total_run:
        print(
            f"{'overall':40} {total_killed:7} {total_run:5} {100 * total_killed / total_run:5.1f}%"
        )
    print(f"\n{len(survivors)} not killed (`mutmut show NAME` shows one):")
    for line in survivors:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
