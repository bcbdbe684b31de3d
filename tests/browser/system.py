"""A real `healthdaemons up --web` in a process of its own, on a small stack of
real processes (tests/processes/stack.py), and what it printed."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO
from urllib.parse import urlsplit

from ..processes.stack import STACK, Stack, until

# STACK, and an entry that crashes and is not restarted: failing for good.
BROWSER_STACK = (
    STACK
    + """
[services.broken]
command = "echo broken; exit 3"
restart = "no"
[services.broken.ready]
log_line = "never printed"
"""
)

EXPECTED_STATES = {
    "db": "ready",
    "migrate": "ready",
    "web": "ready",
    "worker": "ready",
    "broken": "failing",
}

_URL = re.compile(r"web console: (http://\S+)")


@dataclass
class WebUp:
    """`up FILE --web ...` and every line it printed so far (stdout and stderr)."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    readers: list[threading.Thread] = field(default_factory=list)

    def url(self) -> str:
        """The console's URL with its token, as `up` printed it."""
        found = until(
            lambda: next((m for line in self.lines if (m := _URL.search(line))), None)
            or self.process.poll() is not None,
            timeout=60,
            what="up to print its web console's URL",
        )
        assert isinstance(found, re.Match), f"up exited: {self.output()}"
        return found[1]

    def origin(self) -> str:
        parts = urlsplit(self.url())
        return f"{parts.scheme}://{parts.netloc}"

    def token(self) -> str:
        return self.url().split("token=", 1)[1]

    def output(self) -> str:
        return "\n".join(self.lines)

    def read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def stop(self) -> int:
        """SIGTERM, as a person's Ctrl-C would; its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=60)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            for reader in self.readers:
                reader.join(timeout=10)
            for stream in (self.process.stdout, self.process.stderr):
                if stream is not None:
                    stream.close()
        return code


@dataclass
class Console:
    """A stack run by `up --web`."""

    stack: Stack
    up: WebUp


@contextmanager
def web_up(stack: Stack, address: str = "127.0.0.1:0") -> Iterator[WebUp]:
    """`up` of the stack with its console on `address`, recording its events in
    `stack.record`; ended (SIGTERM) at the end unless the test ended it."""
    process = stack.start("up", stack.config.name, "--web", address, "--record", str(stack.record))
    up = WebUp(process)
    for stream in (process.stdout, process.stderr):
        assert stream is not None
        reader = threading.Thread(target=up.read, args=(stream,), daemon=True)
        reader.start()
        up.readers.append(reader)
    try:
        yield up
    finally:
        up.stop()


def entries(stack: Stack) -> dict[str, dict[str, object]]:
    """`ps --json` of the stack by id; empty while no system answers."""
    done = stack.run("ps", stack.config.name, "--json", code=None)
    if done.returncode != 0:
        return {}
    return {entry["id"]: entry for entry in json.loads(done.stdout)["entries"]}


def all_in(stack: Stack, states: dict[str, str]) -> dict[str, dict[str, object]]:
    """Wait until `ps` shows each entry of `states` in its state; the entries."""

    def shown() -> dict[str, dict[str, object]] | None:
        found = entries(stack)
        seen = {entry: found[entry]["state"] for entry in states if entry in found}
        return found if seen == states else None

    found: dict[str, dict[str, object]] = until(shown, timeout=60, what=f"states {states}")
    return found
