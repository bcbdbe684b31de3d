"""Where a running `up` can be found: its control socket, and the files beside it.

A config file's system lives in a per-user runtime directory (mode 0700),
under a name made from the file's real path, so that `healthdaemons ps FILE`
finds the `up FILE` started from any directory, and two files of the same
name in different directories never meet. `--socket PATH` puts the socket
(and the files beside it) elsewhere. Only the standard library is imported
here: the client commands load this module, and they must start quickly.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "AlreadyRunningError",
    "ControlPaths",
    "PidLock",
    "holder",
    "private_directory",
    "runtime_directory",
    "write_private",
]

_NAME_LIMIT = 32
"""Characters of the config file's name kept in the socket's name: a unix
socket's path must stay under 108 bytes."""


def runtime_directory() -> Path:
    """`$XDG_RUNTIME_DIR/healthdaemons`, or `/tmp/healthdaemons-UID` without one;
    created 0700. `ValueError` if it exists and others could get in."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base and Path(base).is_dir():
        directory = Path(base) / "healthdaemons"
    else:
        directory = Path(tempfile.gettempdir()) / f"healthdaemons-{os.getuid()}"
    return private_directory(directory)


def private_directory(directory: Path) -> Path:
    """`directory`, created 0700 if missing; `ValueError` unless it is ours and
    closed to others (a directory another user made could hold their socket)."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = directory.lstat()
    except OSError as error:
        raise ValueError(f"control directory {directory}: {error.strerror or error}") from error
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise ValueError(f"control directory {directory}: not a directory of this user")
    if info.st_mode & 0o077:
        raise ValueError(
            f"control directory {directory}: open to other users "
            f"(mode {stat.S_IMODE(info.st_mode):o}); make it 0700"
        )
    return directory


@dataclass(frozen=True)
class ControlPaths:
    """The control socket of one system, and the files kept beside it."""

    socket: Path
    pid: Path
    """Holds the pid of `up`, locked (flock) for as long as it runs."""
    token: Path
    """The token for TCP requests (`--listen`), mode 0600."""
    log: Path
    """The output of a detached `up`."""
    web_token: Path
    """The token of the web console (`up --web`, `healthdaemons web`), mode
    0600: kept from one run to the next, so that an open page reconnects."""

    @classmethod
    def for_config(cls, config: str | os.PathLike[str]) -> ControlPaths:
        """The paths for the system of the config file `config` (it need not exist)."""
        real = os.path.realpath(config)
        digest = hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()[:12]
        stem = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(real).stem)[:_NAME_LIMIT] or "system"
        return cls.beside(runtime_directory() / f"{stem}-{digest}.sock")

    @classmethod
    def beside(cls, socket: str | os.PathLike[str]) -> ControlPaths:
        """The paths for a socket at `socket`, the other files named after it."""
        path = Path(socket).absolute()
        return cls(
            socket=path,
            pid=path.with_suffix(".pid"),
            token=path.with_suffix(".token"),
            log=path.with_suffix(".log"),
            web_token=path.with_suffix(".web-token"),
        )


class AlreadyRunningError(ValueError):
    """Another `up` holds the pid file of these paths."""

    def __init__(self, pid: int | None, named: str) -> None:
        who = f"pid {pid}" if pid is not None else "another process"
        super().__init__(
            f"a system is already running for {named} ({who}); "
            f"`healthdaemons down {named}` stops it"
        )
        self.pid = pid


_LOCK_TRIES = 3
"""Attempts at the lock: `holder()` holds it for a moment when it looks."""


class PidLock:
    """The pid file of a running `up`: locked while the process lives (the
    kernel drops the lock when it dies, even by SIGKILL), and holding its pid."""

    def __init__(self, paths: ControlPaths, named: str) -> None:
        self._paths = paths
        self._named = named
        """The system, as messages name it: the config file, or the socket."""
        self._fd: int | None = None

    def acquire(self) -> None:
        """Lock the pid file and write this process's pid in it;
        `AlreadyRunningError` with the holder's pid if another `up` holds it."""
        path = self._paths.pid
        for attempt in range(_LOCK_TRIES):
            # Not through a symbolic link: beside a --socket in a shared
            # directory, someone else's link could point at a file of ours.
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                if attempt + 1 == _LOCK_TRIES:
                    raise AlreadyRunningError(read_pid(path), self._named) from None
                time.sleep(0.01)
                continue
            if _same_file(fd, path):
                break
            # Locked a file that the `up` before us removed as it exited.
            os.close(fd)
        else:
            raise AlreadyRunningError(read_pid(path), self._named)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Remove the pid file (while still holding it), then unlock."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            self._paths.pid.unlink(missing_ok=True)
        finally:
            os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    try:
        named = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def read_pid(path: Path) -> int | None:
    """The pid written in a pid file, or None if there is none (yet)."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def holder(paths: ControlPaths) -> int | None:
    """The pid of the `up` that holds `paths` now, or None if none does."""
    try:
        fd = os.open(paths.pid, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return read_pid(paths.pid)
    finally:
        os.close(fd)
    return None


def write_private(path: Path, text: str) -> None:
    """A new file (never an existing one, nor through a link another user put
    there), readable by this user alone; `FileExistsError` if another process
    made one at `path` meanwhile."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as stream:
        os.fchmod(fd, 0o600)
        stream.write(text)
