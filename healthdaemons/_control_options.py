"""How `up` is asked to serve its control API (`--socket`, `--listen`): only
the standard library, so that the command line loads it quickly."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ._control_paths import ControlPaths

__all__ = ["ControlOptions", "parse_listen"]


@dataclass(frozen=True)
class ControlOptions:
    """Where `up` serves its control API."""

    paths: ControlPaths
    config: str | None = None
    """The config file, as named on the command line (for messages and `/v1/health`)."""
    listen: tuple[str, int] | None = None
    """Also on TCP: (host, port), port 0 for any free one."""
    web: tuple[str, int] | None = None
    """The web console and the API on TCP (`--web`): (host, port)."""


def parse_listen(text: str, *, remote: bool, flag: str = "--listen") -> tuple[str, int]:
    """`HOST:PORT` or `PORT` (on 127.0.0.1); `[::1]:PORT` for IPv6. The host is
    an IP address or `localhost`; anything but loopback needs `remote`."""
    host, separator, port_text = text.rpartition(":")
    if not separator:
        host = "127.0.0.1"
    host = host.strip("[]") if host.startswith("[") else host
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"{flag} {text}: the port must be a number from 0 to 65535")
    if host == "localhost":
        host = "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(
            f"{flag} {text}: the host must be an IP address or localhost, not {host!r}"
        ) from None
    if not address.is_loopback and not remote:
        raise ValueError(
            f"{flag} {text}: not a loopback address; anyone who can reach it and has "
            "the token controls the system: add --listen-remote if that is what you want"
        )
    return host, int(port_text)
