"""Text from elsewhere (a record, a service, a health message), made safe to print."""

from __future__ import annotations

__all__ = ["printable"]

# Control characters (escape sequences above all) are shown, never obeyed:
# what is printed may come from elsewhere, and may be damaged.
_CONTROLS = {n: f"\\x{n:02x}" for n in (*range(0x20), *range(0x7F, 0xA0)) if n != 0x09}


def printable(text: str) -> str:
    return text.translate(_CONTROLS)
