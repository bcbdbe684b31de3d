"""A small stack of real commands, run by `healthdaemons up` in a process of its
own, and the client commands run against it as a person would run them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coordinator import Event, ProcessExited, ProcessSpawned, load_events

from .helpers import alive

COMMAND = str(Path(sys.executable).with_name("healthdaemons"))
PYTHON = sys.executable

# db and web listen on a port; migrate runs once; the worker prints a tick.
STACK = """\
[services.db]
command = '''exec {python} -I -S -u -c "{listener}"'''
[services.db.ready]
display = "Database"
port = {db}

[services.migrate]
kind = "oneshot"
command = "echo migrating; echo migrated"
requires = ["db"]

[services.web]
command = "exec {python} -I -S -u -m http.server {web} --bind 127.0.0.1"
requires = ["db", "migrate"]
[services.web.ready]
port = {web}

[services.worker]
command = "while :; do echo tick; sleep 0.5; done"
requires = ["web"]
[services.worker.ready]
log_line = "tick"
"""


LISTENER = (
    "import socket, time; s = socket.create_server(('127.0.0.1', {db})); "
    "print('db listening'); time.sleep(10**6)"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Stack:
    """A config file, the place `up` keeps its socket, and its recorded run."""

    directory: Path
    config: Path
    record: Path
    environment: dict[str, str]
    web_port: int

    def run(self, *arguments: str, code: int | None = 0, timeout: float = 60) -> Any:
        """`healthdaemons ARGUMENTS` to its end; its exit status checked if `code` is given."""
        done = subprocess.run(
            [COMMAND, *arguments],
            capture_output=True,
            text=True,
            env=self.environment,
            cwd=self.directory,
            timeout=timeout,
            check=False,
        )
        if code is not None:
            assert done.returncode == code, (arguments, done.stdout, done.stderr)
        return done

    def start(self, *arguments: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [COMMAND, *arguments],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.environment,
            cwd=self.directory,
        )

    def entries(self) -> dict[str, Any]:
        listed = json.loads(self.run("ps", self.config.name, "--json").stdout)["entries"]
        return {entry["id"]: entry for entry in listed}

    def events(self) -> list[Event]:
        try:
            return load_events(self.record)
        except (OSError, ValueError):
            return []  # not written yet, or a line half-written

    def get(self, path: str) -> None:
        """A request to web, which prints a line for it (http.server logs each one)."""
        with socket.create_connection(("127.0.0.1", self.web_port), timeout=5) as connection:
            connection.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
            while connection.recv(65536):
                pass


@contextmanager
def a_stack(text: str = STACK) -> Iterator[Stack]:
    """A directory short enough for unix sockets, `XDG_RUNTIME_DIR` in it."""
    with tempfile.TemporaryDirectory(prefix="hd-") as name:
        directory = Path(name)
        runtime = directory / "run"
        runtime.mkdir(mode=0o700)
        web = free_port()
        config = directory / "stack.toml"
        db = free_port()
        listener = LISTENER.format(db=db)
        config.write_text(text.format(python=PYTHON, db=db, web=web, listener=listener))
        environment = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
        yield Stack(directory, config, directory / "run.jsonl", environment, web)


def until(condition: Callable[[], object], timeout: float = 30, what: str = "") -> Any:
    """Wait for `condition()` to be true (returned), at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what or condition}"
        time.sleep(0.02)
    return value


def gone(pid: int, timeout: float = 30) -> None:
    until(lambda: not alive(pid), timeout, f"pid {pid} to exit")


def spawns(events: list[Event], entry: str) -> list[int]:
    return [
        index
        for index, event in enumerate(events)
        if isinstance(event, ProcessSpawned) and event.entry == entry
    ]


def exit_indices(events: list[Event], entry: str) -> list[int]:
    return [
        index
        for index, event in enumerate(events)
        if isinstance(event, ProcessExited) and event.entry == entry
    ]


def pid_of(events: list[Event], entry: str) -> int | None:
    found = [e.pid for e in events if isinstance(e, ProcessSpawned) and e.entry == entry]
    return found[-1] if found else None
