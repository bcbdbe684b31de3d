"""The `log_line` wrapper of the exports (healthdaemons/_export_probes.py), run
for real by /bin/sh (dash here): it copies the command's output, touches the
ready file at the first matching line, forwards the stop signals and exits
with the command's status."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from coordinator import ConfigService, read_config
from healthdaemons._export_probes import log_line_wrapper

from .helpers import PYTHON

pytestmark = pytest.mark.processes

# Says "booting", waits for the file `release`, says the ready line (and a
# second matching one), then waits for a signal: it prints the signal's name
# and exits with its number.
CHILD = """
import os, signal, sys, time
def stop(number, frame):
    print("got", signal.Signals(number).name, flush=True)
    sys.exit(number)
for name in ("SIGTERM", "SIGQUIT", "SIGINT", "SIGHUP"):
    signal.signal(getattr(signal, name), stop)
out = sys.stderr if os.environ.get("TO_STDERR") else sys.stdout
print("booting", file=out, flush=True)
while not os.path.exists("release"):
    time.sleep(0.01)
print("worker ready: 3 queues", file=out, flush=True)
print("worker ready: 4 queues", file=out, flush=True)
while True:
    time.sleep(1)
"""


def service(
    tmp_path: Path, *, stop_signal: str = "SIGTERM", stream: str = "stdout"
) -> ConfigService:
    (tmp_path / "stack.toml").write_text(
        f"""
[services.worker]
command = ["true"]
stop_signal = "{stop_signal}"
ready = {{ log_line = 'worker ready: \\d+ queues?$', stream = "{stream}" }}
"""
    )
    return read_config(tmp_path / "stack.toml").service("worker")


def until(condition: Callable[[], bool], what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def start(tmp_path: Path, argv: tuple[str, ...], **env: str) -> subprocess.Popen[str]:
    assert os.path.realpath(shutil.which("sh") or "").endswith(("dash", "sh"))
    return subprocess.Popen(
        argv,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )


@pytest.mark.parametrize(
    ("stop_signal", "sent", "received"),
    [
        ("SIGTERM", signal.SIGTERM, "SIGTERM"),
        # The runtime's SIGTERM (Kubernetes sends no other) becomes the stop signal.
        ("SIGQUIT", signal.SIGTERM, "SIGQUIT"),
        ("SIGQUIT", signal.SIGQUIT, "SIGQUIT"),
        ("SIGTERM", signal.SIGINT, "SIGINT"),
    ],
)
def test_ready_file_at_first_match_signal_forwarded_status_kept(
    tmp_path: Path, stop_signal: str, sent: signal.Signals, received: str
) -> None:
    ready = tmp_path / "ready"
    ready.write_text("left by a previous run")
    argv = log_line_wrapper(
        service(tmp_path, stop_signal=stop_signal), (PYTHON, "-c", CHILD), ready_file=str(ready)
    )
    process = start(tmp_path, argv)
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "booting\n"
        assert not ready.exists(), "a stale ready file is removed at start"
        (tmp_path / "release").touch()
        assert process.stdout.readline() == "worker ready: 3 queues\n"
        until(ready.exists, "the ready file")
        assert process.stdout.readline() == "worker ready: 4 queues\n"
        process.send_signal(sent)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert out == f"got {received}\n"
    assert process.returncode == signal.Signals[received].value, err
    assert ready.exists()


def test_stderr_stream_is_copied_to_stderr(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    argv = log_line_wrapper(
        service(tmp_path, stream="stderr"), (PYTHON, "-c", CHILD), ready_file=str(ready)
    )
    process = start(tmp_path, argv, TO_STDERR="1")
    try:
        assert process.stderr is not None
        assert process.stderr.readline() == "booting\n"
        (tmp_path / "release").touch()
        until(ready.exists, "the ready file")
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert out == "got SIGTERM\n"  # stdout was never the watched stream
    assert err == "worker ready: 3 queues\nworker ready: 4 queues\n"
    assert process.returncode == signal.SIGTERM


def test_no_match_exit_status_and_last_line_kept(tmp_path: Path) -> None:
    """A command that ends on its own: every line copied (the last one without
    its newline too), no ready file, its exit status."""
    ready = tmp_path / "ready"
    argv = log_line_wrapper(
        service(tmp_path),
        "echo starting; echo 'worker ready: none'; printf 'dying'; exit 5",
        ready_file=str(ready),
    )
    process = start(tmp_path, argv)
    out, _ = process.communicate(timeout=20)
    assert out == "starting\nworker ready: none\ndying\n"
    assert process.returncode == 5
    assert not ready.exists()


def test_a_process_left_holding_the_output_does_not_keep_it_running(tmp_path: Path) -> None:
    """The command exits and leaves a process holding its output open: the
    wrapper still exits with the command's status, within seconds (a
    container must stop when its command does)."""
    argv = log_line_wrapper(
        service(tmp_path),
        "sleep 1000 & echo $!; exit 3",
        ready_file=str(tmp_path / "ready"),
    )
    process = start(tmp_path, argv)
    assert process.stdout is not None
    left = int(process.stdout.readline())
    try:
        process.wait(timeout=20)
        assert process.returncode == 3
    finally:
        os.kill(left, signal.SIGKILL)
        if process.poll() is None:
            process.kill()
        process.communicate()


def test_a_stop_signal_at_any_moment_of_the_start_is_not_lost(tmp_path: Path) -> None:
    """A SIGTERM within milliseconds of the start (before the traps, while the
    command is being forked) still stops the command, and leaves no FIFO."""
    child = "trap 'exit 0' TERM; echo ready; while :; do sleep 0.01; done"
    argv = log_line_wrapper(service(tmp_path), child, ready_file=str(tmp_path / "ready"))
    for attempt in range(30):
        process = subprocess.Popen(
            argv, cwd=tmp_path, stdout=subprocess.DEVNULL, start_new_session=True
        )
        try:
            time.sleep(0.001 * (attempt % 10))  # the moments of the start, spread
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=15)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)  # its own session: what it started
                process.wait()
        assert process.returncode in (0, 128 + signal.SIGTERM, -signal.SIGTERM), attempt
        assert not Path(f"/tmp/healthdaemons.{process.pid}.fifo").exists(), attempt
