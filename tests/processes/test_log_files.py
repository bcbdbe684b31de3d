"""Log files: every output line once, timestamped, across size-based rotations;
`up --log-dir`; and output lines in a `--record` file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from coordinator import (
    Command,
    Daemons,
    EntrySpec,
    ErrorReported,
    LifecycleState,
    LogFile,
    OutputRecorded,
    load_config,
    load_events,
)
from coordinator.errors import GaveUpError
from coordinator.testing import check_invariants

from .helpers import PYTHON, always_ready

# Every test here, on both ways of running a child (the conftest).
pytestmark = pytest.mark.usefixtures("process_layer")

COMMAND = str(Path(sys.executable).with_name("healthdaemons"))
LINE = re.compile(
    r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d) (stdout|stderr) (.*)\n", re.DOTALL
)

# Numbered lines on both streams, some long, so that rotations fall anywhere.
CHATTY = (
    "import sys\n"
    "for n in range(1, {count} + 1):\n"
    "    stream = sys.stderr if n % 3 == 0 else sys.stdout\n"
    "    stream.write(f'line {{n}} ' + 'x' * (n % 97) + '\\n')\n"
    "    stream.flush()\n"
)


def _files_oldest_first(path: Path) -> list[Path]:
    rotated = sorted(path.parent.glob(f"{path.name}.*"), key=lambda p: -int(p.suffix[1:]))
    return [*rotated, path]


def _numbers(files: list[Path]) -> dict[str, list[int]]:
    """Per stream, the numbers of its lines, in the order of the files."""
    seen: dict[str, list[int]] = {"stdout": [], "stderr": []}
    for file in files:
        with file.open(encoding="utf-8", newline="") as lines:
            for line in lines:
                found = LINE.fullmatch(line)
                assert found is not None, f"{file}: {line!r}"
                seen[found[2]].append(int(found[3].split()[1]))
    return seen


async def test_rotation_at_the_configured_size_loses_and_repeats_no_line(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "app.log"  # the folder is created
    count = 3000
    command = Command(
        [PYTHON, "-I", "-S", "-c", CHATTY.format(count=count)],
        log=LogFile(path, max_bytes=8000, backups=1000),
    )
    system = Daemons.of().add_oneshot("chatty", exec=command)
    async with system.build() as running:
        await running.wait_ready(timeout=30)
    files = _files_oldest_first(path)
    assert len(files) > 10
    assert all(file.stat().st_size <= 8000 for file in files)
    expected = list(range(1, count + 1))
    numbers = _numbers(files)
    assert numbers["stderr"] == [n for n in expected if n % 3 == 0]
    assert numbers["stdout"] == [n for n in expected if n % 3 != 0]


async def test_only_the_newest_backups_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    log = LogFile(path, max_bytes=2000, backups=2)
    await _run_oneshot(Command([PYTHON, "-I", "-S", "-c", CHATTY.format(count=400)], log=log))
    assert sorted(os.listdir(tmp_path)) == ["app.log", "app.log.1", "app.log.2"]
    files = _files_oldest_first(path)
    assert all(file.stat().st_size <= 2000 for file in files)
    numbers = _numbers(files)
    for stream in ("stdout", "stderr"):
        assert numbers[stream] == sorted(numbers[stream])
    # The newest lines are kept: each stream's last one, if any is left.
    assert max(numbers["stdout"] + numbers["stderr"]) in (399, 400)
    assert len(numbers["stdout"]) + len(numbers["stderr"]) < 400


async def test_each_run_appends_to_the_file(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    log = LogFile(path, max_bytes=0)  # never rotated
    command = Command([PYTHON, "-I", "-S", "-c", CHATTY.format(count=50)], log=log)
    for _ in range(2):
        await _run_oneshot(command)
    numbers = _numbers([path])
    assert numbers["stdout"] + numbers["stderr"] != []
    assert sorted(numbers["stdout"]) == sorted(2 * [n for n in range(1, 51) if n % 3])


async def _run_oneshot(command: Command) -> None:
    system = Daemons.of().add_oneshot("chatty", exec=command)
    async with system.build() as running:
        await running.wait_ready(timeout=30)


async def test_a_log_file_that_cannot_be_opened_stops_the_spawn_not_the_system(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    command = Command(["true"], log=LogFile(blocker / "app.log"))
    system = (
        Daemons.of()
        .add_oneshot("logged", exec=command, max_restarts=0)
        .add_daemon("other", exec=Command(["sleep", "1000"]), ready=always_ready())
    )
    async with system.build() as running:
        with pytest.raises(GaveUpError):
            await running.wait_ready(timeout=10)  # ends when "logged" gives up
        assert running.gave_up == ("logged",)
        assert running.state("other") in (LifecycleState.STARTING, LifecycleState.READY)
    errors = [e.message for e in running.history if isinstance(e, ErrorReported)]
    assert errors == [
        f"could not start: cannot open log file '{blocker}/app.log': file exists: '{blocker}'"
    ]


def test_up_log_dir_and_record_output(tmp_path: Path) -> None:
    config = tmp_path / "system.toml"
    config.write_text(
        """
[services.talk]
kind = "oneshot"
command = "echo hello out; echo hello err >&2"

[services.own]
kind = "oneshot"
command = "echo mine"
log_file = "own/own.log"
log_max_bytes = "1KB"
log_backups = 2
"""
    )
    record = tmp_path / "run.jsonl"
    logs = tmp_path / "logs"
    argv = [COMMAND, "up", str(config), "--until-ready", "--timeout", "30"]
    argv += ["--log-dir", str(logs), "--record", str(record), "--record-output"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    talk = (logs / "talk.log").read_text().splitlines()
    assert all(LINE.fullmatch(line + "\n") for line in talk)
    # Two pipes: their lines are in order within each, not between them.
    assert sorted(line.split(" ", 1)[1] for line in talk) == [
        "stderr hello err",
        "stdout hello out",
    ]
    assert not (logs / "own.log").exists()  # its own log_file, beside the config
    assert (tmp_path / "own" / "own.log").read_text().endswith(" stdout mine\n")

    output: list[OutputRecorded] = []
    events = load_events(record, on_output=output.append)
    assert {(o.entry, o.stream, o.line) for o in output} == {
        ("talk", "stdout", "hello out"),
        ("talk", "stderr", "hello err"),
        ("own", "stdout", "mine"),
    }
    assert not any(isinstance(e, ErrorReported) for e in events)
    check_invariants(_specs(config), events)  # the output lines are no events
    printed = subprocess.run(
        [COMMAND, "events", str(record)], capture_output=True, text=True, check=True
    ).stdout
    assert "talk         | hello out" in printed
    assert "talk         ! hello err" in printed
    assert "skipped" not in printed
    timeline = tmp_path / "run.svg"
    drawn = subprocess.run(
        [COMMAND, "timeline", str(record), "-o", str(timeline)], capture_output=True, text=True
    )
    assert drawn.returncode == 0, drawn.stderr
    assert drawn.stderr == ""
    assert "<svg" in timeline.read_text()


def _specs(config: Path) -> tuple[EntrySpec, ...]:
    return load_config(config).entries


def test_up_refuses_log_options_it_cannot_use_before_anything_starts(tmp_path: Path) -> None:
    config = tmp_path / "system.toml"
    marker = tmp_path / "started"
    config.write_text(f'[services.a]\nkind = "oneshot"\ncommand = "touch {marker}"\n')
    blocker = tmp_path / "file"
    blocker.write_text("")
    for arguments, message in [
        (["--record-output"], "--record-output goes with --record FILE"),
        (["--log-backups", "3"], "--log-max-bytes and --log-backups go with --log-dir DIR"),
        (["--log-dir", str(tmp_path), "--log-max-bytes", "lots"], "must be a size such as"),
        (
            ["--log-dir", str(blocker)],
            f"--log-dir {blocker}: cannot create {blocker}/a.log: {blocker} is not a directory",
        ),
    ]:
        done = subprocess.run(
            [COMMAND, "up", str(config), "--until-ready", *arguments],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 2, (arguments, done.stdout, done.stderr)
        assert message in done.stderr, (arguments, done.stderr)
    assert not marker.exists()
