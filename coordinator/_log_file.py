"""Log files of commands: each output line, timestamped, with size-based rotation.

A line is written as `2026-05-04T13:02:07.123+02:00 stdout TEXT`: local
time with its UTC offset (ISO 8601, milliseconds), the stream, the text.
Rotation happens between lines, before the line that would take the file
past `max_bytes`: `app.log` becomes `app.log.1` (`.1` becomes `.2` ... the
oldest beyond `backups` is deleted), and a new `app.log` is started. So every
line is in exactly one file, whole, and the files read oldest first
(`app.log.N` ... `app.log.1`, `app.log`) give the lines in order. A line
longer than `max_bytes` gets a file of its own.

Writes are small synchronous appends from the output pumps, as supervisord
does: a line goes to the page cache in microseconds, and each chunk read
from the pipe is flushed once. See docs/design.md "Log files".
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from ._validation import text_problem

__all__ = [
    "LOG_BACKUPS",
    "LOG_MAX_BYTES",
    "MAX_LOG_BACKUPS",
    "LogDir",
    "LogFile",
    "LogWriter",
    "log_file_problem",
    "parse_size",
]

LOG_MAX_BYTES = 50 * 1024 * 1024
"""Rotate past 50 MiB, as supervisord's `stdout_logfile_maxbytes`."""
LOG_BACKUPS = 10
MAX_LOG_BACKUPS = 1000
"""At most this many rotated files: each rotation renames them all, in the event loop."""
"""Keep 10 rotated files, as supervisord's `stdout_logfile_backups`."""


@dataclass(frozen=True, slots=True)
class LogFile:
    """Where a command's output lines go besides the supervisor's buffers.

    `max_bytes`: rotate before a line would take the file past this size
    (0: never rotate). `backups`: rotated files kept (`PATH.1` newest ...
    `PATH.N`); 0 truncates the file at each rotation instead.
    """

    path: str | os.PathLike[str]
    max_bytes: int = LOG_MAX_BYTES
    backups: int = LOG_BACKUPS

    @staticmethod
    def parse_size(value: object) -> int:
        """A size as `log_max_bytes` takes it: bytes, or `"10MB"`, `"512KB"`
        (units of 1024); `ValueError` saying what is wrong."""
        return parse_size(value)

    def problem(self) -> str | None:
        """What is wrong with these options, if anything (for validation)."""
        if not isinstance(self.path, str | os.PathLike):
            return f"path must be a path, not {type(self.path).__name__}"
        path = os.fspath(self.path)
        if not isinstance(path, str) or not path:
            return "path must be a non-empty path"
        problem = text_problem(path)
        if problem is not None:
            return f"path {problem}"
        for name in ("max_bytes", "backups"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                return f"{name} must be an integer >= 0, not {value!r}"
        if self.backups > MAX_LOG_BACKUPS:
            return f"backups must be at most {MAX_LOG_BACKUPS}, not {self.backups}"
        return None


@dataclass(frozen=True, slots=True)
class LogDir:
    """`up --log-dir`: a log file `DIR/ID.log` for each service without its own."""

    path: str | os.PathLike[str]
    max_bytes: int = LOG_MAX_BYTES
    backups: int = LOG_BACKUPS

    def for_service(self, id: str) -> LogFile:
        return LogFile(Path(self.path) / f"{id}.log", self.max_bytes, self.backups)


_SIZE = re.compile(r"(\d+)\s*([KMG]?)B?", re.IGNORECASE)
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


def parse_size(value: object) -> int:
    """A size in bytes: an integer >= 0, or a string such as `"10KB"`, `"50MB"`,
    `"1GB"` (units of 1024, as supervisord's). `ValueError` with the problem."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"must be a size >= 0, not {value}")
        return value
    if isinstance(value, str):
        found = _SIZE.fullmatch(value.strip())
        if found is not None:
            return int(found[1]) * _UNITS[found[2].upper()]
        raise ValueError(f'must be a size such as 10485760, "10MB" or "512KB", not {value!r}')
    raise ValueError(f'must be an integer or a string such as "10MB", not {type(value).__name__}')


def log_file_problem(log: LogFile) -> str | None:
    """Why `log` could not be written here, without creating anything: its
    nearest existing folder must be a writable directory, and the file, if
    there, a writable regular file."""
    path = Path(log.path)
    try:
        return _writable_problem(path)
    except OSError as error:  # a name too long, a loop of links ...
        return f"cannot use {path}: {(error.strerror or str(error)).lower()}"


def _writable_problem(path: Path) -> str | None:
    if path.exists():
        if not path.is_file():
            return f"{path} is not a regular file"
        if not os.access(path, os.W_OK):
            return f"cannot write {path}: permission denied"
        return None
    folder = path.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        return f"cannot create {path}: {folder} is not a directory"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"cannot create {path}: permission denied in {folder}"
    return None


def _timestamp(wall_time: float) -> str:
    return datetime.fromtimestamp(wall_time).astimezone().isoformat(timespec="milliseconds")


def _size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode(errors="replace"))


class LogWriter:
    """An open `LogFile`: `write` each line, `flush` after a batch, `close` at the end.

    `OSError` from `open`; a failed write or rotation raises `OSError` too,
    and the writer is closed (the caller reports it once).
    """

    __slots__ = ("_file", "_log", "_size")

    def __init__(self, log: LogFile, file: IO[str]) -> None:
        self._log = log
        self._file: IO[str] | None = file
        self._size = os.fstat(file.fileno()).st_size

    @classmethod
    def open(cls, log: LogFile) -> LogWriter:
        return cls(log, _append(Path(log.path)))

    @property
    def path(self) -> str:
        return os.fspath(self._log.path)

    @property
    def closed(self) -> bool:
        return self._file is None

    def write(self, stream: str, text: str, wall_time: float | None = None) -> None:
        if self._file is None:
            return
        when = time.time() if wall_time is None else wall_time
        line = f"{_timestamp(when)} {stream} {text}\n"
        size = _size(line)
        try:
            limit = self._log.max_bytes
            if limit and self._size and self._size + size > limit:
                self._rotate()
            assert self._file is not None
            self._file.write(line)
            self._size += size
        except OSError:
            self.close()
            raise

    def flush(self) -> None:
        if self._file is None:
            return
        try:
            self._file.flush()
        except OSError:
            self.close()
            raise

    def close(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            try:
                file.close()
            except OSError:
                pass  # what could not be flushed was reported by `flush`

    def _rotate(self) -> None:
        assert self._file is not None
        self._file.close()
        self._file = None
        path = Path(self._log.path)
        backups = self._log.backups
        if backups:
            for number in range(backups - 1, 0, -1):
                older = Path(f"{path}.{number}")
                if older.exists():
                    older.replace(f"{path}.{number + 1}")
            path.replace(f"{path}.1")
            self._file = _append(path)
        else:
            self._file = path.open("w", encoding="utf-8", errors="replace")
        self._size = 0


def _append(path: Path) -> IO[str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("a", encoding="utf-8", errors="replace")
