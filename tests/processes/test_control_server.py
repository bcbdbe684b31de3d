"""The control server of `up`, through the installed command: where its socket
is and who may use it, one `up` per file, and its files gone at exit."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from healthdaemons._control_paths import ControlPaths

from .control import CHAIN, accepts

COMMAND = str(Path(sys.executable).with_name("healthdaemons"))
NOBODY = 65534


def _client(socket: Path) -> httpx.Client:
    return httpx.Client(
        transport=httpx.HTTPTransport(uds=str(socket)), base_url="http://up", timeout=30
    )


def _wait_answering(paths: ControlPaths, up: subprocess.Popen[str], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert up.poll() is None, f"up exited: {up.communicate()[0]}"
        assert time.monotonic() < deadline, "the control socket never answered"
        if accepts(paths.socket):
            with _client(paths.socket) as client:
                assert client.get("/v1/health").status_code == 200
                return
        time.sleep(0.02)


@contextmanager
def running_up(config: Path, *arguments: str, umask: int = -1) -> Iterator[subprocess.Popen[str]]:
    """`healthdaemons up CONFIG ARGUMENTS`; SIGTERM and waited for at the end."""
    up = subprocess.Popen(
        [COMMAND, "up", str(config), *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        umask=umask,
    )
    try:
        yield up
    finally:
        if up.poll() is None:
            up.send_signal(signal.SIGTERM)
        up.communicate(timeout=30)


def _config(tmp_path: Path, text: str = CHAIN) -> Path:
    path = tmp_path / "system.toml"
    path.write_text(text)
    return path


def test_the_socket_is_0600_in_a_0700_directory_and_gone_after_sigterm(tmp_path: Path) -> None:
    config = _config(tmp_path)
    paths = ControlPaths.for_config(config)
    with running_up(config) as up:
        _wait_answering(paths, up)
        assert stat.S_IMODE(paths.socket.stat().st_mode) == 0o600
        assert stat.S_IMODE(paths.socket.parent.stat().st_mode) == 0o700
        assert paths.pid.read_text().strip() == str(up.pid)
        up.send_signal(signal.SIGTERM)
        output, _ = up.communicate(timeout=30)
    assert up.returncode == 0, output
    assert output.splitlines()[0] == f"control socket: {paths.socket}"
    assert output.count("control socket:") == 1
    assert not paths.socket.exists() and not paths.pid.exists()


def test_a_second_up_of_the_same_file_is_refused_and_starts_nothing(tmp_path: Path) -> None:
    config = _config(tmp_path)
    paths = ControlPaths.for_config(config)
    with running_up(config) as first:
        _wait_answering(paths, first)
        second = subprocess.run(
            [COMMAND, "up", str(config), "--record", str(tmp_path / "second.jsonl")],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert second.returncode == 2
        assert second.stderr == (
            f"healthdaemons: a system is already running for {config} (pid {first.pid}); "
            f"`healthdaemons down {config}` stops it\n"
        )
        assert second.stdout == ""
        assert not (tmp_path / "second.jsonl").exists()  # nothing started, nothing written
        with _client(paths.socket) as client:  # the first one still serves
            assert client.get("/v1/health").json()["pid"] == first.pid


def test_socket_overrides_the_place_and_a_stale_socket_is_replaced(tmp_path: Path) -> None:
    config = _config(tmp_path)
    socket_path = tmp_path / "elsewhere" / "my.sock"
    socket_path.parent.mkdir()
    # Left by an `up` that was SIGKILLed: nobody holds the pid lock.
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(socket_path))
    stale.close()
    paths = ControlPaths.beside(socket_path)
    with running_up(config, "--socket", str(socket_path)) as up:
        _wait_answering(paths, up)
        assert stat.S_IMODE(socket_path.stat().st_mode) == 0o600
        with _client(socket_path) as client:
            assert client.post("/v1/shutdown").status_code == 202
        output, _ = up.communicate(timeout=30)
    assert up.returncode == 0, output
    assert not socket_path.exists() and not paths.pid.exists()


def test_a_file_in_the_way_of_the_socket_is_an_error(tmp_path: Path) -> None:
    config = _config(tmp_path)
    in_the_way = tmp_path / "control.sock"
    in_the_way.write_text("not a socket")
    done = subprocess.run(
        [COMMAND, "up", str(config), "--socket", str(in_the_way)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert (
        done.stderr == f"healthdaemons: control socket {in_the_way}: exists and is not a socket\n"
    )
    assert in_the_way.read_text() == "not a socket"
    assert not ControlPaths.beside(in_the_way).pid.exists()


def _connect_as_nobody(path: Path) -> int:
    """In a forked child that became user and group `nobody`: 13 if connecting
    to the socket `path` is refused (EACCES), 0 if it connects."""
    pid = os.fork()
    if pid == 0:  # the child: nothing but system calls, then _exit
        code = 1
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            with socket.socket(socket.AF_UNIX) as attempt:
                attempt.connect(str(path))
            code = 0
        except PermissionError:
            code = 13
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root, to run a child as another user")
def test_another_user_cannot_connect(tmp_path: Path) -> None:
    # A directory others may enter: the socket's own mode (0600) is what keeps them out.
    open_directory = Path(tempfile.mkdtemp(prefix="hd-open-"))
    try:
        open_directory.chmod(0o755)
        config = _config(tmp_path)
        for arguments, paths in (
            ((), ControlPaths.for_config(config)),
            (
                ("--socket", str(open_directory / "c.sock")),
                ControlPaths.beside(open_directory / "c.sock"),
            ),
        ):
            # A umask that keeps nothing from anyone: the modes are `up`'s own doing.
            with running_up(config, *arguments, umask=0) as up:
                _wait_answering(paths, up)
                assert _connect_as_nobody(paths.socket) == 13
                assert accepts(paths.socket)  # and we, its user, can
    finally:
        shutil.rmtree(open_directory)


def test_up_bounds_the_output_kept_per_service_as_told(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        '[services.talk]\ncommand = "for i in 1 2 3 4 5; do echo $$i; done; exec sleep 1000"\n'
        'ready = { log_line = "^5$" }\n',
    )
    paths = ControlPaths.for_config(config)
    with running_up(config, "--output-lines", "2") as up:
        _wait_answering(paths, up)
        with _client(paths.socket) as client:
            waited = client.post("/v1/wait", json={"timeout": 20})
            assert waited.json() == {"ready": True}
            kept = client.get("/v1/output", params={"entry": "talk"}).json()["lines"]
            assert [line["text"] for line in kept] == ["4", "5"]


@pytest.mark.parametrize("option", ["--output-lines", "--output-bytes"])
def test_a_bad_output_bound_is_a_usage_error(tmp_path: Path, option: str) -> None:
    config = _config(tmp_path)
    refused = subprocess.run(
        [COMMAND, "up", str(config), option, "-1"], capture_output=True, text=True, timeout=60
    )
    assert refused.returncode == 2
    assert option in refused.stderr and "Traceback" not in refused.stderr
    assert not ControlPaths.for_config(config).pid.exists()
