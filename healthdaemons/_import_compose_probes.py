"""What `healthdaemons export compose` wrote, read back exactly: its port,
URL and connection probes (`_export_probes`) become `ready.port` and
`ready.url` again, its `log_line` wrapper the command and `ready.log_line`
it came from, and a check's sleeping service a `kind = "check"`. A form is
recognised only when the exporter, given what was read, writes it again
character for character; anything else stays a script.
"""

from __future__ import annotations

import re
import shlex
from urllib.parse import urlsplit, urlunsplit

from ._export_compose import CHECK_COMMAND
from ._export_probes import READY_FILE, listening_probe, tcp_probe, url_probe
from ._import_compose_values import container_port
from ._toml_writer import Value

__all__ = [
    "READY_TEST",
    "exported_probe",
    "is_check_command",
    "local_port",
    "local_url",
    "published_port",
    "unwrapped_log_line",
]

READY_TEST = ["test", "-e", READY_FILE]
"""The healthcheck of a service under the `log_line` wrapper."""

_LISTENING = re.compile(r"grep -Eq ':(?P<port>[0-9A-F]{4}) ")
_URL = re.compile(r"--max-time (?P<timeout>\S+) (?P<url>.+)\)$", re.M)
_TCP = re.compile(r"^nc -z -w \d+ (?P<host>\S+) (?P<port>\d+) ", re.M)
_TCP_TIMEOUT = re.compile(r"\)\), (?P<timeout>[^)]+)\)' ")
_WRAPPER_NAME = "healthdaemons-log-line"
_STREAMS = {'>"$o" 2>&1 &': "both", '>"$o" &': "stdout", '2>"$o" &': "stderr"}
# The POSIX classes the exporter writes for \w and \s; [0-9] (for \d) reads the same.
_POSIX_CLASSES = (("[^[:alnum:]_]", r"\W"), ("[[:alnum:]_]", r"\w"))
_POSIX_SPACES = (("[^[:space:]]", r"\S"), ("[[:space:]]", r"\s"))


def is_check_command(command: list[str]) -> bool:
    """The command of the service an export gives a check (it runs nothing)."""
    return tuple(command) == CHECK_COMMAND


def exported_probe(test: str | list[str], ports: dict[str, list[str]]) -> dict[str, Value] | None:
    """The readiness an exported healthcheck `test` came from, or `None`.
    `ports`: each compose service's `ports`, to take a check's address
    (`http://proxy:80/`) back to this machine's (`http://127.0.0.1:8080/`)."""
    if not isinstance(test, str):
        return None
    # The exporter doubled every `$` (compose's literal `$`).
    script = test.replace("$$", "$")
    if (match := _LISTENING.search(script)) is not None:
        port = int(match["port"], 16)
        if listening_probe(port).shell == script:
            return {"port": port}
    if (match := _URL.search(script)) is not None:
        url, timeout = _one_word(match["url"]), _seconds(match["timeout"])
        if url is not None and timeout is not None and url_probe(url, timeout).shell == script:
            return {"url": local_url(url, ports), "timeout": timeout}
    tcp, seconds = _TCP.search(script), _TCP_TIMEOUT.search(script)
    if tcp is not None and seconds is not None:
        host, port, timeout = tcp["host"], int(tcp["port"]), _seconds(seconds["timeout"])
        if timeout is not None and tcp_probe(host, port, timeout).shell == script:
            return {"port": local_port(host, port, ports), "timeout": timeout}
    return None


def unwrapped_log_line(command: list[str]) -> tuple[str | list[str], dict[str, Value]] | None:
    """The command under the exporter's `log_line` wrapper, and the readiness
    (`log_line`, `stream`) it watched for, or `None` for another command."""
    if len(command) < 5 or command[:2] != ["sh", "-c"] or command[3] != _WRAPPER_NAME:
        return None
    script = command[2].replace("$$", "$")
    first = script.split("\n", 1)[0]
    stream = next((name for form, name in _STREAMS.items() if f'"$@" {form}' in script), None)
    if not first.startswith("P=") or stream is None:
        return None
    pattern = _one_word(first[2:])
    if pattern is None:
        return None
    for posix, python in (*_POSIX_CLASSES, *_POSIX_SPACES):
        pattern = pattern.replace(posix, python)
    if "grep -Eiq" in script:
        pattern = "(?i)" + pattern
    inner = command[4:]
    original: str | list[str] = inner[2] if len(inner) == 3 and inner[:2] == ["sh", "-c"] else inner
    return original, {"log_line": pattern, "stream": stream}


def _one_word(text: str) -> str | None:
    try:
        words = shlex.split(text)
    except ValueError:
        return None
    return words[0] if len(words) == 1 else None


def _seconds(text: str) -> float | None:
    try:
        seconds = float(text)
    except ValueError:
        return None
    return int(seconds) if seconds == int(seconds) else seconds


def local_port(host: str, port: int, ports: dict[str, list[str]]) -> int:
    """A check's `SERVICE:PORT` as this machine has it: the port SERVICE
    publishes for it, or the same port (every service is on 127.0.0.1 here)."""
    return published_port(port, ports.get(host, [])) or port


def published_port(port: int, ports: list[str]) -> int | None:
    """The port of this machine that `ports` publishes a container's `port` on."""
    for published in ports:
        if container_port(published, published=False) == port:
            return container_port(published, published=True)
    return None


def local_url(url: str, ports: dict[str, list[str]]) -> str:
    """`url` at `SERVICE:PORT` as this machine has it (`local_port`)."""
    parts = urlsplit(url)
    if parts.hostname not in ports or parts.port is None:
        return url
    port = local_port(parts.hostname, parts.port, ports)
    return urlunsplit(parts._replace(netloc=f"127.0.0.1:{port}"))
