"""`healthdaemons web FILE`: the web console of a detached system, in a
process of its own that forwards `/v1/*` to the control socket (streams as
they come), answers 503 while no system runs, and outlives the system's
restarts (docs/web.md)."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from .stack import Stack, a_stack, gone, until
from .web import Console, serving_console


def _detach(stack: Stack, *options: str) -> tuple[int, str]:
    """`up --detach`; the pid and what it printed."""
    done = stack.run("up", stack.config.name, "--detach", *options)
    (pid,) = re.findall(r"pid (\d+)", done.stdout)
    return int(pid), done.stdout


@contextmanager
def _stream(client: httpx.Client, path: str) -> Iterator[queue.Queue[tuple[str, Any] | None]]:
    """The (event, data) messages of a server-sent event stream as they
    arrive, read by a thread; None once the stream has ended."""
    messages: queue.Queue[tuple[str, Any] | None] = queue.Queue()
    opened = threading.Event()

    def read() -> None:
        try:
            with client.stream("GET", path) as answer:
                assert answer.status_code == 200
                opened.set()
                fields: dict[str, str] = {}
                for line in answer.iter_lines():
                    if not line:
                        if "event" in fields:
                            messages.put((fields["event"], json.loads(fields["data"])))
                        fields = {}
                    elif not line.startswith(":"):
                        name, _, value = line.partition(": ")
                        fields[name] = value
        except httpx.HTTPError:
            pass
        finally:
            opened.set()
            messages.put(None)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert opened.wait(30)
    try:
        yield messages
    finally:
        client.close()
        reader.join(timeout=30)


def _next(messages: queue.Queue[tuple[str, Any] | None], wanted: Any) -> tuple[str, Any]:
    """The next message that `wanted(name, data)` accepts (skipping others)."""
    while True:
        message = messages.get(timeout=30)
        assert message is not None, "the stream ended"
        if wanted(*message):
            return message


def _health(console: Console) -> httpx.Response:
    with console.client(bearer=True) as client:
        return client.get("/v1/health")


def test_web_forwards_to_the_system_and_outlives_its_restarts() -> None:
    with a_stack() as stack, serving_console(stack, "web", stack.config.name, "--web", "0") as web:
        # No system yet: the page is served, the API answers 503.
        absent = _health(web)
        assert absent.status_code == 503
        assert absent.json()["error"].startswith(f"no system is running for {stack.config.name}")
        with web.client(cookie=True) as browser:
            assert browser.get("/").status_code == 200
            assert browser.get("/v1/entries").status_code == 503
        with web.client() as anonymous:
            assert anonymous.get("/v1/health").status_code == 401
        first, _ = _detach(stack)
        assert _health(web).json()["pid"] == first
        until(
            lambda: all(e["state"] == "ready" for e in stack.entries().values()),
            what="everything ready",
        )
        follower = web.client(cookie=True)
        follower.timeout = httpx.Timeout(30, read=None)
        with _stream(follower, "/v1/events?follow=true") as events:
            # Forwarded as they happen: a restart's events arrive on the open stream.
            with web.client(cookie=True) as browser:
                assert browser.post("/v1/entries/worker/restart").status_code == 403
                done = browser.post(
                    "/v1/entries/worker/restart", headers={"Authorization": f"Bearer {web.token}"}
                )
                assert done.status_code == 200, done.text
            _, data = _next(
                events,
                lambda name, data: (
                    name == "event"
                    and data.get("entry") == "worker"
                    and data.get("dest") == "ready"
                ),
            )
            assert data["type"] == "transitioned"
            stack.run("down", stack.config.name)
            _next(events, lambda name, data: name == "end")
            assert events.get(timeout=30) is None
        assert _health(web).status_code == 503
        # The same `web` (and token) reaches the next `up` of the file.
        second, _ = _detach(stack)
        assert second != first
        answer = _health(web)
        assert answer.status_code == 200 and answer.json()["pid"] == second
        stack.run("down", stack.config.name)
        assert web.process.poll() is None
        assert web.stop(signal.SIGTERM) == 0


def test_an_output_stream_is_forwarded_line_by_line_and_ends_when_up_is_killed() -> None:
    with a_stack() as stack, serving_console(stack, "web", "-f", stack.config.name) as web:
        pid, _ = _detach(stack)
        follower = web.client(bearer=True)
        follower.timeout = httpx.Timeout(30, read=None)
        with _stream(follower, "/v1/output?entry=worker&follow=true&lines=0") as lines:
            # The worker prints a tick every half second: two arrive one by
            # one on a stream that has not ended (nothing is held back).
            for _ in range(2):
                _, data = _next(lines, lambda name, data: name == "line")
                assert data["text"] == "tick" and data["entry"] == "worker"
            services = [e["pid"] for e in stack.entries().values() if e["pid"] is not None]
            os.kill(pid, signal.SIGKILL)
            gone(pid)
            # The stream just ends, as the page sees when the system goes away.
            while lines.get(timeout=30) is not None:
                pass
        for service in services:
            # Orphans of the killed `up`, adopted by this test (the subreaper).
            os.killpg(service, signal.SIGKILL)
            gone(service)
        assert _health(web).status_code == 503
        assert web.stop(signal.SIGINT) == 0


def test_up_detach_web_prints_the_url_of_the_console() -> None:
    with a_stack() as stack:
        pid, printed = _detach(stack, "--web", "127.0.0.1:0")
        try:
            url = r"^web console: (http://127\.0\.0\.1:\d+)/\?token=(\S+)$"
            found = re.search(url, printed, re.M)
            assert found, printed
            base, token = found[1], found[2]
            with httpx.Client(base_url=base, timeout=30) as client:
                login = client.get("/", params={"token": token})
                assert login.status_code == 303
                assert client.get("/v1/health").json()["pid"] == pid
        finally:
            stack.run("down", stack.config.name)
        gone(pid)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("web", "missing.toml"), "healthdaemons: missing.toml: no such config file\n"),
        (("web",), "give the config file of the running system"),
        (("web", "a.toml", "-f", "b.toml"), "give the config file of the running system"),
        (("web", "stack.toml", "--web", "10.0.0.1:80"), "not a loopback address"),
        (("web", "stack.toml", "--web", "127.0.0.1:x"), "--web 127.0.0.1:x: the port must be"),
    ],
)
def test_web_refuses_bad_arguments(arguments: tuple[str, ...], message: str) -> None:
    with a_stack() as stack:
        done = stack.run(*arguments, code=2)
        assert message in done.stderr


def test_web_on_a_busy_port_is_refused() -> None:
    with a_stack() as stack, serving_console(stack, "web", stack.config.name, "--web", "0") as web:
        port = web.base.rsplit(":", 1)[1]
        done = stack.run("web", stack.config.name, "--web", port, code=2)
        assert done.stderr == f"healthdaemons: --web 127.0.0.1:{port}: Address already in use\n"


def test_up_detach_on_a_busy_web_port_is_refused_before_anything_starts() -> None:
    with a_stack() as stack, socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = stack.run("up", stack.config.name, "--detach", "--web", str(port), code=2)
        assert done.stderr == f"healthdaemons: --web 127.0.0.1:{port}: Address already in use\n"
        assert "started" not in done.stdout
        runtime = Path(stack.environment["XDG_RUNTIME_DIR"]) / "healthdaemons"
        assert not list(runtime.glob("*.pid"))
