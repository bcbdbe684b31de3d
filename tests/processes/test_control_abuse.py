"""Bad and hostile clients of the control API leave supervision alone: a
thousand malformed requests, slow clients that never finish, more
connections than the default limit of open files, a failing endpoint, a
server that crashes (docs/spec.md section 11, "Load")."""

from __future__ import annotations

import gc
import logging
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from healthdaemons import _control_drawings, _control_server
from healthdaemons._control_paths import ControlPaths

from .control import accepts, serving
from .helpers import alive, poll_until

CHECKED = """
[services.db]
command = "echo db up; exec sleep 600"
[services.db.ready]
script = "true"
interval = 0.1
grace_period = 0

[services.web]
command = "echo web up; exec sleep 600"
requires = ["db"]
[services.web.ready]
log_line = "web up"
"""

MALFORMED = 1000
SLOW = 100
"""Of the malformed requests, those that never finish: half stop within their
headers, half within their body."""


def _rss() -> int:
    """This process's resident memory, in bytes."""
    status = Path("/proc/self/status").read_text()
    line = next(x for x in status.splitlines() if x.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


def _request(number: int) -> tuple[bytes, bytes | None]:
    """The `number`th malformed request, and the start of the status line
    expected back (None: any answer, or none, as long as the server closes)."""
    head = b"Host: up\r\nConnection: close\r\n"
    wait = b"POST /v1/wait HTTP/1.1\r\n" + head
    kind = number % 6
    if kind == 0:  # not JSON
        return wait + b"Content-Length: 5\r\n\r\n{bad}", b"HTTP/1.1 400"
    if kind == 1:  # no such entry
        path = f"/v1/entries/nope-{number}/restart".encode()
        return b"POST " + path + b" HTTP/1.1\r\n" + head + b"\r\n", b"HTTP/1.1 404"
    if kind == 2:  # a huge body
        return wait + b"Content-Length: 100000000\r\n\r\n" + b"x" * 70_000, b"HTTP/1.1 413"
    if kind == 3:  # JSON nested past the recursion limit
        nested = b"[" * 60_000
        length = str(len(nested)).encode()
        return wait + b"Content-Length: " + length + b"\r\n\r\n" + nested, b"HTTP/1.1 400"
    if kind == 4:  # garbage
        return os.urandom(300).replace(b"\n", b"") + b"\r\n\r\n", None
    return b"GET /v1/entries/%00%ff HTTP/1.1\r\n" + head + b"\r\n", b"HTTP/1.1 404"


async def _exchange(path: Path, request: bytes) -> bytes:
    """Send `request`, read until the server closes."""
    async with await anyio.connect_unix(path) as stream:
        try:
            await stream.send(request)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            pass  # it answered (413) and closed before the rest of the body
        answer = b""
        try:
            while True:
                answer += await stream.receive()
        except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
            return answer


async def _never_finish(path: Path, request: bytes) -> bytes:
    """Send part of a request and wait: the server must give up on us."""
    return await _exchange(path, request)


async def test_a_thousand_malformed_requests_leave_supervision_running(tmp_path: Path) -> None:
    async with serving(tmp_path, CHECKED) as up:
        before = await up.wait_for(lambda e: all(x["state"] == "ready" for x in e.values()))
        gc.collect()
        rss = _rss()
        problems: list[str] = []
        limiter = anyio.CapacityLimiter(100)

        async def malformed(number: int) -> None:
            async with limiter:
                request, expected = _request(number)
                answer = await _exchange(up.paths.socket, request)
            if expected is not None and not answer.startswith(expected):
                problems.append(f"{request[:60]!r}: {answer[:200]!r}")

        async def slow(number: int) -> None:
            if number % 2:
                request = b"GET /v1/health HTTP/1.1\r\nHost: up\r\nX-Slow: aaaa"
                expected = b""  # dropped without an answer
            else:
                request = b"POST /v1/wait HTTP/1.1\r\nHost: up\r\nContent-Length: 100\r\n\r\n{"
                expected = b"HTTP/1.1 408"
            answer = await _never_finish(up.paths.socket, request)
            if not answer.startswith(expected) or (not expected and answer):
                problems.append(f"slow {request[:40]!r}: {answer[:200]!r}")

        with anyio.fail_after(120):
            async with anyio.create_task_group() as tasks:
                for number in range(SLOW):
                    tasks.start_soon(slow, number)
                for number in range(MALFORMED - SLOW):
                    tasks.start_soon(malformed, number)
        assert problems == [], f"{len(problems)}: {problems[:5]}"

        # Supervision carried on: the checks still pass, nothing restarted.
        entries = await up.wait_for(lambda e: all(x["state"] == "ready" for x in e.values()))
        assert entries["db"]["health"]["result"] == "success"
        assert entries["db"]["pid"] == before["db"]["pid"] and entries["db"]["restarts"] == 0
        # And an action still works.
        await up.post("/v1/entries/web/restart")
        after = await up.wait_for(
            lambda e: e["web"]["state"] == "ready" and e["web"]["pid"] != before["web"]["pid"]
        )
        assert alive(after["web"]["pid"])
        gc.collect()
        assert _rss() - rss < 64 * 1024 * 1024


async def test_a_failing_endpoint_answers_500_and_supervision_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*arguments: object, **options: object) -> str:
        raise RuntimeError("drawing broke")

    monkeypatch.setattr(_control_drawings, "system_dot", broken)
    async with serving(tmp_path, CHECKED) as up:
        before = await up.wait_for(lambda e: all(x["state"] == "ready" for x in e.values()))
        for _ in range(3):
            failed = await up.client.get("/v1/graph")
            assert failed.status_code == 500
            assert failed.json() == {"error": "internal error: RuntimeError('drawing broke')"}
        reported = "control API: GET /v1/graph failed: RuntimeError('drawing broke') (a bug)"
        await poll_until(lambda: up.output.getvalue().count(reported) == 3)
        await up.post("/v1/entries/web/restart")
        await up.wait_for(
            lambda e: e["web"]["state"] == "ready" and e["web"]["pid"] != before["web"]["pid"]
        )
    assert up.exit_code == [0]


async def test_a_crashed_server_leaves_supervision_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crashed = anyio.Event()

    async def crash(*arguments: object) -> None:
        await anyio.sleep(0.3)
        crashed.set()
        raise OSError("the server broke")

    monkeypatch.setattr(_control_server, "serve_on", crash)
    async with serving(tmp_path, CHECKED) as up:
        with anyio.fail_after(20):
            await crashed.wait()
        await poll_until(lambda: "control API stopped" in up.output.getvalue())
        assert "OSError('the server broke') (a bug); the system runs on without it" in (
            up.output.getvalue()
        )
        # Still supervising: health checks go on, every 0.1 s, for a while.
        await poll_until(lambda: "web          spawned" in up.output.getvalue(), timeout=20)
        await anyio.sleep(0.5)  # a while, for the checks to keep running
        assert not up.exit_code
        assert not accepts(up.paths.socket)  # refused at once, not left hanging
        os.kill(os.getpid(), signal.SIGTERM)  # no control API left: as a person would
        await poll_until(lambda: bool(up.exit_code), timeout=30)
    assert up.exit_code == [0]
    assert "stopping in order" in up.output.getvalue()
    assert not up.paths.socket.exists() and not up.paths.pid.exists()


def _limited_to(soft: int) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_more_connections_than_the_default_file_limit_do_not_stop_spawns(
    tmp_path: Path,
) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < 3000:
        pytest.skip(f"the hard limit of open files ({hard}) leaves no room above 1024")
    config = tmp_path / "system.toml"
    config.write_text(CHECKED)
    paths = ControlPaths.beside(tmp_path / "control.sock")
    command = str(Path(sys.executable).with_name("healthdaemons"))
    up = subprocess.Popen(
        [command, "up", str(config), "--socket", str(paths.socket)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # The usual default soft limit: `up` raises it to the hard one.
        preexec_fn=lambda: _limited_to(1024),
    )
    held: list[socket.socket] = []
    try:
        with httpx.Client(
            transport=httpx.HTTPTransport(uds=str(paths.socket)), base_url="http://up", timeout=30
        ) as client:
            entries = _wait_ready(client, up, paths.socket)
            web_pid = entries["web"]["pid"]
            limits = Path(f"/proc/{up.pid}/limits").read_text()
            assert f"{hard}" in next(x for x in limits.splitlines() if "open files" in x)
            for _ in range(1200):  # idle connections, each an open file in `up`
                connection = socket.socket(socket.AF_UNIX)
                held.append(connection)
                connection.connect(str(paths.socket))
            answer = client.post("/v1/entries/web/restart")
            assert answer.status_code == 200, answer.text
            entries = _wait_ready(client, up, paths.socket)
            assert entries["web"]["pid"] != web_pid and alive(entries["web"]["pid"])
    finally:
        for connection in held:
            connection.close()
        up.send_signal(signal.SIGTERM)
        output, _ = up.communicate(timeout=30)
    assert up.returncode == 0, output
    assert "Too many open files" not in output


def _wait_ready(
    client: httpx.Client, up: subprocess.Popen[str], socket_path: Path
) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        assert up.poll() is None, up.communicate()[0]
        assert time.monotonic() < deadline, "not all ready in time"
        if accepts(socket_path):
            entries = {e["id"]: e for e in client.get("/v1/entries").json()["entries"]}
            if all(e["state"] == "ready" and e["pid"] for e in entries.values()):
                return entries
        time.sleep(0.05)


async def test_requests_still_open_at_the_end_are_closed_quietly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with serving(tmp_path, CHECKED) as up:
        await up.wait_for(lambda e: all(x["state"] == "ready" for x in e.values()))
        async with anyio.create_task_group() as tasks:
            for request in (
                b"GET /v1/health HTTP/1.1\r\nHo",
                b"POST /v1/wait HTTP/1.1\r\nHost: up\r\nContent-Length: 100\r\n\r\n{",
            ):
                tasks.start_soon(_never_finish, up.paths.socket, request)
            await anyio.sleep(0.2)  # not needed for correctness: lets them connect
            await up.post("/v1/shutdown")
            await poll_until(lambda: bool(up.exit_code), timeout=30)
    assert up.exit_code == [0]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
