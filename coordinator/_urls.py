"""What makes a URL checkable: one rule for `check_web_url` and config files."""

from __future__ import annotations

import httpx

__all__ = ["url_problem"]


def url_problem(url: str) -> str | None:
    """Why `url` cannot be fetched by a health check, or `None` if it can."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as error:
        return f"invalid URL: {error}"
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return f"must be an absolute http:// or https:// URL, not {url!r}"
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        # httpx takes any number; connecting to it would then raise, not fail.
        return f"invalid URL: its port must be from 1 to 65535, not {parsed.port}"
    return None
