"""Where a running `up` is found: the runtime directory, the socket's name, the pid lock."""

from __future__ import annotations

import fcntl
import os
import stat
from pathlib import Path

import pytest

from healthdaemons._control_paths import (
    AlreadyRunningError,
    ControlPaths,
    PidLock,
    holder,
    runtime_directory,
)


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    return tmp_path / "healthdaemons"


def test_the_runtime_directory_is_created_closed_to_others(runtime: Path) -> None:
    assert runtime_directory() == runtime
    assert stat.S_IMODE(runtime.stat().st_mode) == 0o700


def test_a_runtime_directory_open_to_others_is_refused(runtime: Path) -> None:
    runtime.mkdir(mode=0o755)
    runtime.chmod(0o755)
    with pytest.raises(ValueError, match=r"open to other users \(mode 755\); make it 0700"):
        runtime_directory()


def test_without_xdg_runtime_dir_a_per_user_directory_in_tmp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    assert runtime_directory() == tmp_path / f"healthdaemons-{os.getuid()}"


def test_the_same_file_from_anywhere_has_one_socket(
    runtime: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "stack.toml"
    monkeypatch.chdir(tmp_path)
    here = ControlPaths.for_config("stack.toml")
    assert here == ControlPaths.for_config(config)
    assert here.socket.parent == runtime
    assert here.socket.name.startswith("stack-") and here.socket.suffix == ".sock"
    other = tmp_path / "other"
    other.mkdir()
    assert ControlPaths.for_config(other / "stack.toml").socket != here.socket


def test_a_long_name_keeps_the_socket_path_short(runtime: Path, tmp_path: Path) -> None:
    paths = ControlPaths.for_config(tmp_path / ("x" * 200 + " weird name!.toml"))
    assert len(str(paths.socket)) < len(str(runtime)) + 60
    assert " " not in paths.socket.name and "!" not in paths.socket.name


def test_the_files_beside_a_given_socket(tmp_path: Path) -> None:
    paths = ControlPaths.beside(tmp_path / "ctl.sock")
    assert (paths.pid, paths.token, paths.log) == (
        tmp_path / "ctl.pid",
        tmp_path / "ctl.token",
        tmp_path / "ctl.log",
    )


def test_a_second_lock_names_the_first_holder(tmp_path: Path) -> None:
    paths = ControlPaths.beside(tmp_path / "ctl.sock")
    assert holder(paths) is None
    first = PidLock(paths, "ctl")
    first.acquire()
    try:
        assert stat.S_IMODE(paths.pid.stat().st_mode) == 0o600
        assert holder(paths) == os.getpid()
        with pytest.raises(
            AlreadyRunningError, match=f"already running .*pid {os.getpid()}"
        ) as raised:
            PidLock(paths, "ctl").acquire()
        assert raised.value.pid == os.getpid()
    finally:
        first.release()
    assert not paths.pid.exists()
    assert holder(paths) is None
    again = PidLock(paths, "ctl")
    again.acquire()
    again.release()


def test_a_stale_pid_file_is_taken_over(tmp_path: Path) -> None:
    """A pid file left by an `up` killed with SIGKILL holds no lock."""
    paths = ControlPaths.beside(tmp_path / "ctl.sock")
    paths.pid.write_text("999999\n")
    assert holder(paths) is None
    lock = PidLock(paths, "ctl")
    lock.acquire()
    try:
        assert paths.pid.read_text() == f"{os.getpid()}\n"
    finally:
        lock.release()


def test_a_lock_on_a_pid_file_removed_meanwhile_is_taken_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The `up` before this one removes its pid file as it exits, possibly
    between our open and our lock: a lock on a file gone from the directory
    would let a third `up` start beside us."""
    paths = ControlPaths.beside(tmp_path / "ctl.sock")
    locked = fcntl.flock
    removed: list[int] = []

    def flock_then_lose_the_file(fd: int, operation: int) -> None:
        locked(fd, operation)
        if not removed:
            removed.append(fd)
            paths.pid.unlink()

    monkeypatch.setattr(fcntl, "flock", flock_then_lose_the_file)
    lock = PidLock(paths, "ctl")
    lock.acquire()
    try:
        assert removed and paths.pid.read_text() == f"{os.getpid()}\n"
        monkeypatch.undo()
        assert holder(paths) == os.getpid()
    finally:
        lock.release()


def test_a_pid_file_that_is_a_symbolic_link_is_refused(tmp_path: Path) -> None:
    """Beside a --socket in a shared directory, another user's link must not
    make `up` truncate a file of ours."""
    victim = tmp_path / "authorized_keys"
    victim.write_text("precious\n")
    paths = ControlPaths.beside(tmp_path / "ctl.sock")
    paths.pid.symlink_to(victim)
    with pytest.raises(OSError, match="Too many levels of symbolic links"):
        PidLock(paths, "ctl").acquire()
    assert victim.read_text() == "precious\n"
