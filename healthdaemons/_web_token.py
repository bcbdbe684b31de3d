"""The token of the web console: one per config file, kept beside its control
socket (`NAME.web-token`, mode 0600) and reused by the next `up --web` or
`healthdaemons web` of the same file, so that a page left open reconnects
by itself after the supervisor restarts. Deleting the file changes it."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from ._control_paths import write_private

__all__ = ["web_token"]

_TOKEN_BYTES = 32
_MIN_LENGTH = 40
"""Characters a kept token must have at least (`token_urlsafe(32)` makes 43)."""


def web_token(path: Path) -> str:
    """The token kept in `path`, or a new one written there (0600) if there
    is none, or none worth keeping: a file that is not this user's alone, or
    holds no plausible token, is replaced."""
    kept = _read(path)
    if kept is not None:
        return kept
    token = secrets.token_urlsafe(_TOKEN_BYTES)
    try:
        write_private(path, token + "\n")
    except FileExistsError:
        # Another `up --web` or `web` of the same file wrote it first: theirs stands.
        kept = _read(path)
        if kept is None:
            raise ValueError(f"web token {path}: cannot be created") from None
        return kept
    return token


def _read(path: Path) -> str | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as stream:
        info = os.fstat(fd)
        if (
            not stat.S_ISREG(info.st_mode)
            or info.st_uid != os.getuid()
            or stat.S_IMODE(info.st_mode) & 0o077
        ):
            return None
        text = stream.read(256).decode("ascii", "replace").strip()
    usable = len(text) >= _MIN_LENGTH and all(c.isalnum() or c in "-_" for c in text)
    return text if usable else None
