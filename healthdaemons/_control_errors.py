"""How the control API's endpoints refuse a request, and read its flags."""

from __future__ import annotations

__all__ = ["ApiError", "query_flag"]


class ApiError(Exception):
    """Answered as `{"error": message}` with `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def query_flag(text: str | None, name: str, *, default: bool = False) -> bool:
    """A `true`/`false` (or `1`/`0`) query parameter; `default` when absent or empty."""
    if text is None or text == "":
        return default
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise ApiError(400, f"{name} must be true or false, not {text[:20]!r}")
