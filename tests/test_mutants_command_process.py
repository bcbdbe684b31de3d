"""How a command's program is found before it is spawned, and where the
socket of announced readiness goes: pure functions, tested exactly. Written
for the survivors of `make mutate` (docs/testing.md)."""

from __future__ import annotations

import errno
import os
import pwd
import resource
import shutil
import tempfile
from pathlib import Path

import pytest

from coordinator._command_process import (
    SpawnError,
    _describe_os_error,
    _hand_over,
    _require_program,
    _short_temporary_directory,
)


def executable(path: Path) -> Path:
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_a_path_with_a_slash_is_resolved_against_cwd(tmp_path: Path) -> None:
    executable(tmp_path / "run.sh")
    _require_program("./run.sh", {}, str(tmp_path))
    _require_program(str(tmp_path / "run.sh"), {}, None)
    with pytest.raises(SpawnError, match=r"^no such file or directory: './run.sh'$"):
        _require_program("./run.sh", {}, str(tmp_path / "elsewhere"))
    # Without a cwd, the path is taken as it is (here: from the test's directory).
    with pytest.raises(SpawnError, match="no such file or directory"):
        _require_program("./run.sh", {}, None)


def test_a_file_that_cannot_be_run_is_permission_denied(tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_text("")
    (tmp_path / "folder").mkdir()
    with pytest.raises(SpawnError, match=r"^permission denied: './data.txt'$"):
        _require_program("./data.txt", {}, str(tmp_path))
    with pytest.raises(SpawnError, match=r"^permission denied: './folder'$"):
        _require_program("./folder", {}, str(tmp_path))


def test_a_bare_name_is_looked_up_on_the_commands_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # this process's PATH never counts
    executable(tmp_path / "only-here")
    _require_program("only-here", {"PATH": str(tmp_path)}, None)
    with pytest.raises(SpawnError, match=r"^no such file or directory: 'only-here'$"):
        _require_program("only-here", {"PATH": "/nonexistent"}, None)
    with pytest.raises(SpawnError, match="no such file or directory"):
        _require_program("only-here", {"path": str(tmp_path)}, None)
    # The command's own PATH counts, not this process's: `sh` is not in tmp_path.
    with pytest.raises(SpawnError, match="no such file or directory: 'sh'"):
        _require_program("sh", {"PATH": str(tmp_path)}, None)
    # No PATH at all: the system's default one.
    assert shutil.which("sh", path=os.defpath) is not None
    _require_program("sh", {}, None)


@pytest.mark.parametrize(("base_length", "moved"), [(67, False), (68, True)])
def test_the_socket_directory_moves_to_tmp_past_90_characters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, base_length: int, moved: bool
) -> None:
    # mkdtemp adds "/healthdaemons-" and 8 characters: 67 + 23 = 90, which still fits.
    base = tmp_path / ("d" * (base_length - len(str(tmp_path)) - 1))
    base.mkdir()
    assert len(str(base)) == base_length
    monkeypatch.setattr(tempfile, "tempdir", str(base))
    directory = _short_temporary_directory()
    try:
        parent, name = os.path.split(directory)
        assert name.startswith("healthdaemons-")
        assert parent == ("/tmp" if moved else str(base))
        assert os.path.isdir(directory)
        assert os.listdir(base) == ([] if moved else [name])
    finally:
        os.rmdir(directory)


def test_os_errors_are_described_in_lower_case_with_their_file() -> None:
    assert _describe_os_error(OSError("Exec Format Error")) == "exec format error"
    assert _describe_os_error(OSError(2, "No such file or directory", "/x")) == (
        "no such file or directory: '/x'"
    )


def test_running_out_of_descriptors_or_processes_says_which_limit_to_raise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    limits = {resource.RLIMIT_NOFILE: (1024, 4096), resource.RLIMIT_NPROC: (77, 100)}
    monkeypatch.setattr(resource, "getrlimit", limits.__getitem__)

    def described(number: int) -> str:
        return _describe_os_error(OSError(number, os.strerror(number)))

    assert described(errno.EMFILE) == (
        "too many open files (limit 1024): raise the limit (ulimit -n)"
    )
    assert described(errno.ENFILE) == (
        "too many open files in the system: raise the limit (sysctl fs.file-max)"
    )
    assert described(errno.EAGAIN) == "too many processes (limit 77): raise the limit (ulimit -u)"
    limits[resource.RLIMIT_NPROC] = (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
    assert described(errno.EAGAIN) == (
        "too many processes: the cgroup's pids.max or kernel.pid_max allows no more"
    )


@pytest.mark.parametrize("by", ["uid", "name"])
def test_the_socket_is_handed_over_to_the_commands_user(tmp_path: Path, by: str) -> None:
    account = pwd.getpwuid(os.getuid())
    socket_path = tmp_path / "notify"
    socket_path.write_text("")
    user: str | int = account.pw_uid if by == "uid" else account.pw_name
    _hand_over(str(tmp_path), str(socket_path), user)
    assert (socket_path.stat().st_uid, socket_path.stat().st_gid) == (
        account.pw_uid,
        account.pw_gid,
    )
    _hand_over(str(tmp_path), str(socket_path), "no-such-user-here")  # left to the spawn
