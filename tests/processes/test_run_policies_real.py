"""Restart policies, liveness, the start timeout, `once` and ending the run,
with real processes from config files (docs/spec.md section 4, docs/config.md)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from coordinator import HealthReported, LifecycleState, RunEnded, load_config, load_events
from coordinator.testing import check_invariants

from .helpers import PYTHON, alive, last_pid, pids, poll_until
from .stack import free_port

S = LifecycleState
COMMAND = str(Path(sys.executable).with_name("healthdaemons"))


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "system.toml"
    path.write_text(text)
    return path


async def test_a_stopped_daemon_is_restarted_by_its_liveness_check(tmp_path: Path) -> None:
    port = free_port()
    config = _config(
        tmp_path,
        f"""
[services.app]
command = ["{PYTHON}", "-I", "-S", "-m", "http.server", "--bind", "127.0.0.1", "{port}"]
sigterm_timeout = 5
[services.app.ready]
port = {port}
[services.app.liveness]
url = "http://127.0.0.1:{port}/"
interval = 0.3
timeout = 0.5
failures = 2
""",
    )
    system = load_config(config)
    async with system.build() as running:
        await running.wait_ready(20)
        first = last_pid(running, "app")
        os.kill(first, signal.SIGSTOP)
        # Two failures 0.3 s apart (each at most 0.5 s), then SIGTERM and
        # SIGCONT: bounded far below this on an idle machine.
        await running.wait_until(lambda: len(pids(running.history, "app")) == 2, 30)
        await poll_until(lambda: not alive(first))
        await running.wait_ready(20)
        assert running.statistics().restarts["app"] == 1
        messages = [e.message for e in running.history if isinstance(e, HealthReported)]
        assert any(
            str(m).startswith("app daemon restarted: liveness check failed 2 times in a row")
            for m in messages
        ), messages
    check_invariants(system.entries, running.history)


async def test_on_failure_ends_at_exit_0_and_restarts_a_crash(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        """
[services.done]
command = "echo started; sleep 0.2; exit 0"
restart = "on-failure"
[services.done.ready]
log_line = "started"

[services.after]
command = "exec sleep 600"
requires = ["done"]
[services.after.ready]
script = "true"

[services.crashes]
command = "echo started; sleep 0.2; exit 1"
restart = "on-failure"
[services.crashes.ready]
log_line = "started"
""",
    )
    system = load_config(config)
    async with system.build() as running:
        await running.wait_until(lambda: running.state("done") is S.STOPPED, 30)
        await running.wait_until(lambda: len(pids(running.history, "crashes")) >= 3, 30)
        assert len(pids(running.history, "done")) == 1
        assert running.state("after") is S.WAITING
    check_invariants(system.entries, running.history)


async def test_a_daemon_never_ready_is_restarted_then_given_up(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        f"""
[services.app]
command = "exec sleep 600"
start_timeout = 0.5
max_restarts = 1
[services.app.ready]
port = {free_port()}
""",
    )
    system = load_config(config)
    async with system.build() as running:
        await running.wait_until(lambda: running.gave_up == ("app",), 30)
        assert len(pids(running.history, "app")) == 2
        assert running.state("app") is S.FAILING
    check_invariants(system.entries, running.history)


async def test_once_survives_a_kill_9_of_its_dependency(tmp_path: Path) -> None:
    runs = tmp_path / "runs.txt"
    config = _config(
        tmp_path,
        f"""
[services.db]
command = "exec sleep 600"
[services.db.ready]
script = "true"

[services.migrate]
kind = "oneshot"
command = "echo ran >> {runs}"
requires = ["db"]
once = true

[services.app]
command = "exec sleep 600"
requires = ["db", "migrate"]
[services.app.ready]
script = "true"
""",
    )
    system = load_config(config)
    async with system.build() as running:
        await running.wait_ready(20)
        os.kill(last_pid(running, "db"), signal.SIGKILL)
        await running.wait_until(lambda: len(pids(running.history, "app")) == 2, 30)
        await running.wait_ready(20)
        assert running.state("migrate") is S.READY
        assert runs.read_text() == "ran\n"
    check_invariants(system.entries, running.history)


def _up(config: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [COMMAND, "up", str(config), "--record", str(config.with_suffix(".jsonl")), *options],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


RUNNER = """
[services.db]
command = "exec sleep 600"
[services.db.ready]
script = "true"

[services.tests]
kind = "oneshot"
command = "exit 3"
requires = ["db"]
"""


def test_up_exits_with_the_code_of_exit_code_from(tmp_path: Path) -> None:
    config = _config(tmp_path, RUNNER)
    done = _up(config, "--exit-code-from", "tests")
    assert done.returncode == 3, done.stdout + done.stderr
    assert "tests ended the run: exit code 3" in done.stdout


def test_up_exits_with_the_code_of_a_service_that_fails_for_good(tmp_path: Path) -> None:
    config = _config(
        tmp_path, RUNNER.replace('requires = ["db"]', 'requires = ["db"]\nexit_on_failure = true')
    )
    done = _up(config)
    assert done.returncode == 3, done.stdout + done.stderr
    ended = [e for e in load_events(config.with_suffix(".jsonl")) if isinstance(e, RunEnded)]
    assert [(e.entry, e.returncode) for e in ended] == [("tests", 3)]


def test_up_refuses_an_unknown_exit_code_from(tmp_path: Path) -> None:
    config = _config(tmp_path, RUNNER)
    done = _up(config, "--exit-code-from", "test")
    assert done.returncode == 2
    assert "exit_code_from: no entry 'test'; did you mean 'tests'?" in done.stderr


async def test_a_crashed_daemon_is_checked_again_soon_after_its_restart(tmp_path: Path) -> None:
    # With the default trigger, whose interval after a success is 30 s: the
    # restarted process's check must not wait as if the old one's success held.
    port = free_port()
    config = _config(
        tmp_path,
        f"""
[services.app]
command = ["{PYTHON}", "-I", "-S", "-m", "http.server", "--bind", "127.0.0.1", "{port}"]
[services.app.ready]
port = {port}
""",
    )
    system = load_config(config)
    async with system.build() as running:
        await running.wait_ready(20)
        os.kill(last_pid(running, "app"), signal.SIGKILL)
        await running.wait_until(lambda: running.state("app") is not S.READY, 10)
        await running.wait_ready(15)
    check_invariants(system.entries, running.history)


def test_up_detach_refuses_an_unknown_exit_code_from_before_starting(tmp_path: Path) -> None:
    config = _config(tmp_path, RUNNER)
    done = subprocess.run(
        [COMMAND, "up", "--detach", str(config), "--exit-code-from", "test"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "healthdaemons: exit_code_from: no entry 'test'; did you mean 'tests'?"
    )
    assert "started in the background" not in done.stdout
