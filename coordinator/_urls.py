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
    return None
