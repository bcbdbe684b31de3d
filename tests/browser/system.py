"""The system the browser tests open: a small stack of real processes
(tests/processes/stack.py) run by `up --web` (tests/processes/web.py)."""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from dataclasses import dataclass

from ..processes.stack import STACK, Stack, until
from ..processes.web import Console, serving_console

_WEB = 'command = "exec {python} -I -S -u -m http.server'
assert _WEB in STACK

# STACK, and an entry that crashes and is not restarted: failing for good.
# web takes half a second more to start, so that after a crash its failing
# state outlasts the page's bursts (it applies events every 100 ms; its
# polled readiness sees a restarted http.server within about 50 ms).
BROWSER_STACK = (
    STACK.replace(_WEB, 'command = "sleep 0.5; exec {python} -I -S -u -m http.server')
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


@dataclass
class System:
    """A stack, and the process serving its console."""

    stack: Stack
    console: Console

    @property
    def url(self) -> str:
        """The URL with the token, as printed."""
        return f"{self.console.base}/?token={self.console.token}"


def web_up(stack: Stack, address: str = "127.0.0.1:0") -> AbstractContextManager[Console]:
    """`up` of the stack with its console on `address`, recording its events in
    `stack.record`; stopped at the end unless the test stopped it."""
    name = stack.config.name
    return serving_console(stack, "up", name, "--web", address, "--record", str(stack.record))


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
