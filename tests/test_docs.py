"""The documentation says what the code does: runnable examples run, printed
tables match the table."""

from __future__ import annotations

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
