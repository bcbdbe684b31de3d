"""`healthdaemons up FILE ID...` starts exactly those services and what they
require, as real processes; a mistake in the selection starts nothing."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from coordinator import ProcessSpawned, load_events

COMMAND = str(Path(sys.executable).with_name("healthdaemons"))

STACK = """
[services.db]
command = "echo db up; exec sleep 600"
ready.log_line = "db up"

[services.cache]
command = "echo cache up; exec sleep 600"
ready.log_line = "cache up"

[services.migrate]
kind = "oneshot"
command = "echo migrated"
requires = ["db"]

[services.app]
command = "echo app up; exec sleep 600"
ready.log_line = "app up"
requires = ["migrate"]

[services.worker]
command = "echo worker up; exec sleep 600"
ready.log_line = "worker up"
requires = ["cache"]

[services.debugger]
command = "echo debugger up; exec sleep 600"
ready.log_line = "debugger up"
requires = ["app"]
profiles = ["debug"]
"""


def _up(tmp_path: Path, *arguments: str) -> tuple[int, str, set[str]]:
    """Run `up --until-ready` on STACK; its exit status, output, and who was spawned."""
    config = tmp_path / "stack.toml"
    config.write_text(STACK)
    record = tmp_path / "run.jsonl"
    command = [COMMAND, "up", str(config), *arguments, "--record", str(record)]
    command += ["--until-ready", "--timeout", "30", "--socket", str(tmp_path / "c.sock")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    spawned = set()
    if record.exists():
        spawned = {e.entry for e in load_events(record) if isinstance(e, ProcessSpawned)}
    return done.returncode, done.stdout + done.stderr, spawned


@pytest.mark.parametrize(
    ("arguments", "started"),
    [
        (["app"], {"db", "migrate", "app"}),
        (["app", "worker"], {"db", "migrate", "app", "cache", "worker"}),
        (["app", "--no-deps"], {"app"}),
        (["debugger"], {"db", "migrate", "app", "debugger"}),
        (["--profile", "debug"], {"db", "migrate", "app", "cache", "worker", "debugger"}),
    ],
)
def test_up_starts_exactly_the_selection(
    tmp_path: Path, arguments: list[str], started: set[str]
) -> None:
    code, output, spawned = _up(tmp_path, *arguments)
    assert code == 0, output
    assert spawned == started


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["wrker"], "unknown service 'wrker'; did you mean 'worker'?"),
        (["--profile", "debgu"], "no service has the profile 'debgu'; did you mean 'debug'?"),
    ],
)
def test_a_bad_selection_exits_2_and_starts_nothing(
    tmp_path: Path, arguments: list[str], message: str
) -> None:
    code, output, spawned = _up(tmp_path, *arguments)
    assert code == 2, output
    assert message in output
    assert not (tmp_path / "run.jsonl").exists()
    assert spawned == set()


def test_up_says_why_a_watched_service_restarts(tmp_path: Path) -> None:
    """`up` prints the watcher's reason; SIGINT then stops everything in order."""
    from .test_up import _finish, _start_logged, _wait_for_text

    config = tmp_path / "watched.toml"
    config.write_text(
        '[services.web]\ncommand = "echo web up; exec sleep 600"\n'
        'ready.log_line = "web up"\nwatch = ["*.py"]\n'
    )
    process, log = _start_logged(tmp_path, "up", str(config), "--socket", str(tmp_path / "c.sock"))
    try:
        _wait_for_text(log, "web | web up")
        # The watcher may not have registered its directory yet: change the
        # file again (now and then) until the restart is said.
        deadline = time.monotonic() + 30
        attempt = 0
        while "web: restarting: app.py changed" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()
            attempt += 1
            (tmp_path / "app.py").write_text(str(attempt))
            time.sleep(1.0)
        deadline = time.monotonic() + 20
        while log.read_text().count("web | web up") < 2:  # the new process
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGINT)
        code, _ = _finish(process)
    assert code == 0, log.read_text()
    assert "all stopped" in log.read_text()
