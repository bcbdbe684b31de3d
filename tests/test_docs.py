"""The documentation says what the code does: runnable examples run, printed
tables match the table."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from healthdaemons import main

ROOT = Path(__file__).resolve().parent.parent
RUNNABLE = re.compile(r"```python\n(.*?)```", re.S)


@pytest.mark.processes
@pytest.mark.parametrize("document", ["README.md"])
def test_runnable_examples_run(document: str, capsys: pytest.CaptureFixture[str]) -> None:
    blocks = RUNNABLE.findall((ROOT / document).read_text())
    assert blocks
    for block in blocks:
        exec(compile(block, document, "exec"), {"__name__": "__main__"})
    assert "LifecycleState.READY" in capsys.readouterr().out


def test_the_documented_table_is_the_real_one(capsys: pytest.CaptureFixture[str]) -> None:
    main(["table", "--kind", "daemon"])
    printed = capsys.readouterr().out
    assert printed in (ROOT / "docs" / "lifecycle.md").read_text()


# The behaviour contract's sections: code, tests and docs cite them by number
# ("docs/spec.md section 4"), so the numbers and titles must not drift.
SPEC_SECTIONS = (
    "1. Entries",
    "2. Validation (before anything starts)",
    "3. Lifecycle: one finite-state machine per entry",
    "4. Running",
    "5. Health checks and triggers",
    "6. Shutdown",
    "7. Host and events",
    "8. Invariants (checked by property tests on random graphs and fault schedules)",
    "9. Defaults",
    "10. Operator actions (one entry at a time, while the system runs)",
    "11. Control plane (a running `healthdaemons up`)",
    "12. Web console",
    "13. Beyond one machine: export and import",
)


def test_the_contract_has_its_numbered_sections() -> None:
    text = (ROOT / "docs" / "spec.md").read_text()
    numbered = [line[3:] for line in text.splitlines() if re.match(r"## \d+\. ", line)]
    assert numbered == list(SPEC_SECTIONS)


def test_operator_sections_say_which_issue_built_them() -> None:
    text = (ROOT / "docs" / "spec.md").read_text()
    assert "**Not yet implemented**" not in text
    # Sections 10 and 11 came with issue 13 (log files with 14), 12 with 15, 13 with 16.
    for title, issue in zip(SPEC_SECTIONS[9:13], ("13", "13", "15", "16"), strict=True):
        body = text.split(f"## {title}\n", 1)[1].lstrip()
        assert body.startswith(f"**Implemented** (issue {issue}"), title


# Documents that live outside the repository, by path or by the names the
# project's notes gave them: a clone cannot read them, so nothing may cite them.
OUTSIDE = re.compile(r"\.\./shared/|/work/shared|\bSPEC\.md\b|\bDESIGN\.md\b|\bSPEC\b|\bDESIGN\b")
NOT_OURS = {"__pycache__", "build", "dist", "demo-out", "mutants"}


def _repository_files() -> list[Path]:
    """Every file of the repository, tracked or not, outside what git ignores
    and the tools' hidden folders (.git, .venv, caches)."""
    found = []
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = sorted(
            name
            for name in subfolders
            if name not in NOT_OURS
            and not name.endswith(".egg-info")
            and (name == ".ci" or not name.startswith("."))
        )
        found += [Path(folder, name) for name in sorted(files) if name != ".git"]
    return [path for path in found if path != Path(__file__).resolve()]


def test_nothing_cites_a_document_outside_the_repository() -> None:
    citing = []
    for path in _repository_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # images and other binaries
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                citing.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not citing, "cite docs/spec.md or docs/design.md instead:\n" + "\n".join(citing)


def test_the_failed_check_path_is_at_most_five_modules_that_say_so() -> None:
    """docs/design.md follows a failed check to a dependent's SIGTERM through
    at most five modules, each of which holds the functions it names."""
    design = (ROOT / "docs" / "design.md").read_text()
    section = design.split("## From a failed health check to a dependent's SIGTERM")[1]
    section = section.split("\n## ")[0]
    modules = dict.fromkeys(re.findall(r"\*\*`([a-z_/]+\.py)`\*\*", section))
    assert 0 < len(modules) <= 5, list(modules)
    sources = {path: (ROOT / path).read_text() for path in modules}
    named = set(re.findall(r"`(?!os\.)(?:[A-Za-z]+\.)?(_?[a-z][a-z_]+)\(", section))
    assert named
    for name in named:
        assert any(f"def {name}(" in source for source in sources.values()), name
