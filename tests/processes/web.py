"""A real `up --web` or `healthdaemons web` process, the console URL it
printed, and an httpx client on it (docs/web.md)."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx

from healthdaemons._web_page import cookie_name, read_key

from .stack import Stack

URL = re.compile(r"web console: (http://[^/\s]+)/\?token=(\S+)")


@dataclass
class Console:
    """A process serving the web console, and what it printed so far."""

    process: subprocess.Popen[str]
    base: str
    token: str
    lines: list[str] = field(default_factory=list)

    @property
    def port(self) -> int:
        return int(self.base.rstrip("/").rsplit(":", 1)[1])

    def client(self, *, bearer: bool = False, cookie: bool = False) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token}"} if bearer else {}
        cookies = {cookie_name(self.port): read_key(self.token)} if cookie else None
        return httpx.Client(base_url=self.base, headers=headers, cookies=cookies, timeout=30)

    def stop(self, signal_number: int = signal.SIGINT, timeout: float = 60) -> int:
        """Send `signal_number`; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal_number)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running; it printed: {self.lines}") from None


@contextmanager
def serving_console(stack: Stack, *arguments: str, timeout: float = 60) -> Iterator[Console]:
    """`healthdaemons ARGUMENTS` (`up FILE --web ...` or `web FILE ...`) until it
    prints its console URL; stopped by SIGINT at the end (killed if it will not)."""
    process = stack.start(*arguments)
    printed: queue.Queue[str | None] = queue.Queue()
    lines: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            printed.put(line)
        printed.put(None)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        while True:
            line = printed.get(timeout=timeout)
            assert line is not None, ("exited before its URL", lines, process.stderr)
            found = URL.search(line)
            if found:
                break
        yield Console(process, found[1], found[2], lines)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)
        reader.join(timeout=30)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
