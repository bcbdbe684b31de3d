"""Reading the small files a config names (itself, its `.env`, its env files)."""

from __future__ import annotations

import os
import stat

__all__ = ["UnreadableFile", "read_regular_file"]


class UnreadableFile(Exception):
    """Why a file could not be read, as `cannot read: REASON`; the `OSError`
    (if any) is its cause."""


def read_regular_file(name: str | os.PathLike[str], limit: int) -> bytes:
    """At most `limit + 1` bytes of a regular file (more than `limit` tells the
    caller it is too large). Opened without blocking, so that a FIFO is refused
    rather than waited on."""
    try:
        descriptor = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise UnreadableFile(f"cannot read: {reason(error)}") from error
    except ValueError as error:  # a NUL in the path
        raise UnreadableFile(f"cannot read: {error}") from error
    try:
        mode = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(mode):
            raise UnreadableFile("cannot read: is a directory")
        if not stat.S_ISREG(mode):
            raise UnreadableFile("cannot read: not a regular file (a FIFO, a device or a socket)")
        with os.fdopen(descriptor, "rb", closefd=False) as file:
            return file.read(limit + 1)
    except OSError as error:
        raise UnreadableFile(f"cannot read: {reason(error)}") from error
    finally:
        os.close(descriptor)


def reason(error: OSError) -> str:
    """`no such file or directory`: the system's words, in lower case."""
    return os.strerror(error.errno).lower() if error.errno else str(error)
