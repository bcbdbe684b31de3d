"""docs/operating.md shows a real run of the client commands: this runs them
again, on the stack the page shows, and fails if their output no longer
reads as the page says (pids, times, ports and paths aside).
`UPDATE_GOLDEN=1` writes this run into the page instead."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import tempfile
from pathlib import Path

from .stack import COMMAND, free_port

ROOT = Path(__file__).resolve().parent.parent.parent
PAGE = ROOT / "docs" / "operating.md"
BEGIN, END = "<!-- transcript: begin -->\n", "<!-- transcript: end -->\n"
PORTS = ("15432", "18000")
"""The ports the page's stack listens on; the run uses free ones instead."""
RUNTIME = "/run/user/1000"
"""Where the page says the runtime directory is (the run uses a temporary one)."""

SESSION = [
    "up stack.toml --detach",
    "wait stack.toml --timeout 60",
    "ps stack.toml",
    "logs stack.toml migrate",
    "restart stack.toml web",
    "stop stack.toml db",
    "ps stack.toml",
    "wait stack.toml web --timeout 1",
    "start stack.toml db",
    "wait stack.toml --timeout 60",
    "down stack.toml",
    "ps stack.toml",
]


def _stack(page: str) -> str:
    (toml,) = re.findall(r"```toml\n(.*?)```", page, re.DOTALL)
    return str(toml)


def _session(toml: str) -> str:
    """The commands run one after the other, as a terminal shows them."""
    ports = {port: str(free_port()) for port in PORTS}
    for port, used in ports.items():
        toml = toml.replace(port, used)
    with tempfile.TemporaryDirectory(prefix="hd-") as name:
        directory = Path(name)
        runtime = directory / "run"
        runtime.mkdir(mode=0o700)
        (directory / "stack.toml").write_text(toml)
        environment = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
        shown: list[str] = []
        try:
            for command in SESSION:
                done = subprocess.run(
                    [COMMAND, *shlex.split(command)],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    env=environment,
                    cwd=directory,
                    timeout=120,
                    check=False,
                )
                shown.append(f"$ healthdaemons {command}\n{done.stdout}")
                if done.returncode:
                    shown.append(f"$ echo $?\n{done.returncode}\n")
        finally:
            # Whatever failed above, nothing is left running.
            subprocess.run(
                [COMMAND, "down", "stack.toml"],
                env=environment,
                cwd=directory,
                capture_output=True,
                timeout=120,
                check=False,
            )
        text = "".join(shown).replace(str(runtime), RUNTIME)
    for shown_port, used in ports.items():
        text = text.replace(used, shown_port)
    return text


def _normalised(transcript: str) -> str:
    """What must stay the same from run to run."""
    text = re.sub(r"stack-[0-9a-f]{12}\.", "stack-HASH.", transcript)
    text = re.sub(r"\b\d+[smhd](\d\d[smh])?\b", "T", text)  # uptimes
    text = re.sub(r"\d+", "N", text)  # pids
    return "\n".join(" ".join(line.split()) for line in text.splitlines())


def _shown(page: str) -> str:
    block = page.partition(BEGIN)[2].partition(END)[0]
    return block.removeprefix("```console\n").removesuffix("```\n")


def test_the_page_shows_a_real_run() -> None:
    page = PAGE.read_text(encoding="utf-8")
    transcript = _session(_stack(page))
    if os.environ.get("UPDATE_GOLDEN"):
        head, _, rest = page.partition(BEGIN)
        tail = rest.partition(END)[2]
        PAGE.write_text(f"{head}{BEGIN}```console\n{transcript}```\n{END}{tail}")
        return
    assert _normalised(transcript) == _normalised(_shown(page)), (
        "docs/operating.md no longer shows what the commands print: "
        "UPDATE_GOLDEN=1 to write this run into it\n" + transcript
    )
