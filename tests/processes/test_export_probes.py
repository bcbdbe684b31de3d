"""The exports' probes (healthdaemons/_export_probes.py) run for real by
/bin/sh: the URL probe with each of curl, wget and python3, the port probe
on the kernel's socket table, and the regular expressions as `grep -E` reads
them, against Python's `re.search`."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from healthdaemons._export_probes import listening_probe, posix_regex, url_probe

from .helpers import PYTHON

pytestmark = pytest.mark.processes


class Answer(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = int(self.path.strip("/") or 200)
        self.send_response(status)
        if status in (301, 302):
            self.send_header("Location", "/503")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[int]:
    http = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield http.server_address[1]
    finally:
        http.shutdown()
        http.server_close()
        thread.join(5)


def tools(tmp_path: Path, *names: str) -> str:
    """A PATH with only these programs (and what every probe uses)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for name in ("sh", "sed", "head", "grep", *names):
        found = PYTHON if name == "python3" else shutil.which(name)
        if found is None:
            pytest.skip(f"no {name} here")
        (folder / name).symlink_to(found)
    return str(folder)


@pytest.mark.parametrize("client", ["curl", "wget", "python3"])
def test_url_probe_passes_below_500(tmp_path: Path, server: int, client: str) -> None:
    env = {**os.environ, "PATH": tools(tmp_path, client)}
    for status, passes in [(200, True), (404, True), (302, True), (500, False), (503, False)]:
        argv = url_probe(f"http://127.0.0.1:{server}/{status}", 5).argv
        done = subprocess.run(argv, env=env, capture_output=True, timeout=30)
        assert (done.returncode == 0) == passes, (client, status, done.stderr)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    done = subprocess.run(url_probe(f"http://127.0.0.1:{port}/", 5).argv, env=env, timeout=30)
    assert done.returncode != 0


def test_port_probe_sees_a_listening_socket() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        argv = listening_probe(port).argv
        assert subprocess.run(argv, timeout=30).returncode != 0  # bound, not listening
        listener.listen()
        assert subprocess.run(argv, timeout=30).returncode == 0
    assert subprocess.run(argv, timeout=30).returncode != 0


LINES = [
    "worker ready: 12 queues",
    "worker ready: 1 queue",
    "worker ready: x queues",
    "Ready at 10:42",
    "a.b*c $5 [ok]",
    "tab\there",
    "ab-cd_ef",
    "",
    "^caret] and -dash",
]


@pytest.mark.parametrize(
    "pattern",
    [
        r"worker ready: \d+ queues?$",
        r"(?i)ready at \d{2}:\d\d",
        r"^a\.b\*c \$\d \[ok\]$",
        r"\w+-\w+_\w+",
        r"\s",
        r"^$",
        r"[\^\]-]",
        r"[^a-z ]",
        r"(?:ab|cd)-?(cd|x)",
        r"que(ue)*s?",
        r"\D{5,}",
    ],
)
def test_translated_regex_matches_the_same_lines(pattern: str) -> None:
    posix, ignore_case = posix_regex(pattern, "w")
    done = subprocess.run(
        ["grep", "-nE" + ("i" if ignore_case else ""), "-e", posix],
        input="\n".join(LINES) + "\n",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    matched = {int(line.split(":", 1)[0]) - 1 for line in done.stdout.splitlines()}
    expected = {index for index, line in enumerate(LINES) if re.search(pattern, line)}
    assert matched == expected, (posix, done.stderr)
