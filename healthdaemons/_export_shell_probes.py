"""Placeholder until helper compose's `_export_probes` lands: the command of a
service ready on a log line, run under a POSIX-sh wrapper that touches a
ready file at the first matching line."""

from __future__ import annotations

import math
import shlex

from coordinator import ConfigProbe, ConfigService

from ._export_model import ExportError

__all__ = ["READY_FILE", "log_line_command", "ready_file_test", "url_probe_command"]

READY_FILE = "/tmp/healthdaemons-ready"

_WRAPPER = """ready=/tmp/healthdaemons-ready; fifo=/tmp/healthdaemons-output
rm -f "$ready" "$fifo"; mkfifo "$fifo" || exit 1
pattern=$1; shift
awk -v pattern="$pattern" -v ready="$ready" \\
  '{ print; fflush() } !seen && $0 ~ pattern { printf "" > ready; close(ready); seen = 1 }' \\
  <"$fifo" &
"$@" >"$fifo" 2>&1 &
child=$!
trap 'kill -TERM "$child" 2>/dev/null' TERM INT QUIT
while :; do
  wait "$child"; status=$?
  kill -0 "$child" 2>/dev/null || break
done
wait
exit "$status"
"""


def log_line_command(
    service: ConfigService, command: str | tuple[str, ...] | None, probe: ConfigProbe
) -> list[str]:
    if command is None:
        raise ExportError(
            f"services.{service.id}.ready.log_line: the wrapper that watches the output needs "
            f"the command: give [services.{service.id}.container] command, or a readiness "
            f"to probe in [services.{service.id}.container.ready] (port, url or script)"
        )
    argv = ["sh", "-c", command] if isinstance(command, str) else list(command)
    assert probe.log_line is not None
    return ["sh", "-c", _WRAPPER, "healthdaemons-wrapper", probe.log_line, *argv]


def ready_file_test() -> list[str]:
    return ["test", "-f", READY_FILE]


def url_probe_command(url: str, timeout: float) -> str:
    """A shell test that passes when GET `url` answers with a status below 500."""
    seconds = max(1, math.ceil(timeout))
    return (
        f"wget -q -S -T {seconds} -O /dev/null {shlex.quote(url)} 2>&1 | "
        "awk '/^  HTTP\\//{code=$2} END{exit !(code > 0 && code < 500)}'"
    )
