"""The demo stack's programs (`healthdaemons/demo`), each run for real on free ports."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[2] / "healthdaemons" / "demo"
TIMEOUT = 5.0
"""Bound for any one wait: a line, a request, an exit."""
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # ignore HTTP_PROXY


class Program:
    """One demo script running in its own session, its stdout read line by line in a thread."""

    def __init__(self, script: str, *args: str) -> None:
        self.name = script
        self.process = subprocess.Popen(
            [sys.executable, str(DEMO / script), *args],
            start_new_session=True,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.output: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def expect(self, text: str) -> str:
        """The next line containing `text`; fails after `TIMEOUT` or once stdout closes."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"{self.name}: no line with {text!r} in {TIMEOUT} s: {self.output}")
            if line is None:
                self._lines.put(None)  # stay at the end for the next call
                pytest.fail(f"{self.name}: output ended without {text!r}: {self.output}")
            self.output.append(line)
            if text in line:
                return line

    def wait(self) -> int:
        """The exit code, within `TIMEOUT`; the rest of the output is then in `output`."""
        code = self.process.wait(TIMEOUT)
        self._reader.join(TIMEOUT)
        while (line := self._lines.get_nowait()) is not None:
            self.output.append(line)
        self._lines.put(None)
        return code

    def stop(self) -> int:
        """SIGTERM, then the exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self.wait()

    def close(self) -> None:
        """Kill the program's group if it still runs (it is ours: its own new session)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(TIMEOUT)
        self._reader.join(TIMEOUT)
        assert self.process.stdout is not None
        self.process.stdout.close()


@pytest.fixture
def start() -> Iterator[Callable[..., Program]]:
    started: list[Program] = []

    def launch(script: str, *args: str) -> Program:
        started.append(Program(script, *args))
        return started[-1]

    yield launch
    for program in reversed(started):
        program.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def fetch(url: str, method: str = "GET", body: str | None = None) -> tuple[int, str]:
    data = None if body is None else body.encode()
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with OPENER.open(request, timeout=TIMEOUT) as response:
            status: int = response.status
            return status, response.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode()


def start_store(start: Callable[..., Program]) -> tuple[Program, str]:
    port = free_port()
    store = start("kv_store.py", str(port))
    store.expect(f"store listening on 127.0.0.1:{port}")
    return store, f"http://127.0.0.1:{port}"


def test_store_gets_and_puts_keys(start: Callable[..., Program]) -> None:
    store, url = start_store(start)
    assert fetch(f"{url}/health") == (200, "ok")
    assert fetch(f"{url}/kv/colour") == (404, "no such key")
    assert fetch(f"{url}/kv/colour", "PUT", "blue ✓") == (204, "")
    assert fetch(f"{url}/kv/colour") == (200, "blue ✓")
    assert fetch(f"{url}/kv/colour", "PUT", "") == (204, "")
    assert fetch(f"{url}/kv/colour") == (200, "")
    assert fetch(f"{url}/elsewhere") == (404, "not found")
    assert store.stop() == 0
    assert "store: PUT /kv/colour -> 204" in store.output
    assert not [line for line in store.output if "/health" in line]
    assert store.output[-2:] == ["store: got SIGTERM, shutting down", "store: stopped"]


def test_migrate_seeds_the_store(start: Callable[..., Program]) -> None:
    store, url = start_store(start)
    migrate = start("migrate.py", url)
    assert migrate.wait() == 0
    assert migrate.output[-1] == "migrate: done, 2 keys seeded"
    assert fetch(f"{url}/kv/greeting") == (200, "hello from the store")
    assert fetch(f"{url}/kv/jobs") == (200, "3")
    assert store.stop() == 0


def test_migrate_fails_without_a_store(start: Callable[..., Program]) -> None:
    migrate = start("migrate.py", f"http://127.0.0.1:{free_port()}")
    assert migrate.wait() == 1
    assert "migrate: cannot reach the store at http://127.0.0.1:" in migrate.output[-1]
    assert "refused" in migrate.output[-1]


def test_migrate_cut_short_does_not_claim_success(start: Callable[..., Program]) -> None:
    with socket.socket() as silent:  # accepts connections (in the backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        migrate = start("migrate.py", f"http://127.0.0.1:{silent.getsockname()[1]}")
        migrate.expect("migrate: seeding")
        assert migrate.stop() == -signal.SIGTERM


def test_api_serves_the_greeting_and_502_without_the_store(
    start: Callable[..., Program],
) -> None:
    store, store_url = start_store(start)
    port = free_port()
    api = start("api.py", str(port), store_url)
    api.expect(f"api listening on 127.0.0.1:{port}")
    url = f"http://127.0.0.1:{port}"
    assert fetch(f"{url}/health") == (200, "ok")
    status, body = fetch(f"{url}/")
    assert (status, json.loads(body)) == (502, {"error": "store answered HTTP 404"})
    assert fetch(f"{store_url}/kv/greeting", "PUT", "hi")[0] == 204
    status, body = fetch(f"{url}/")
    assert (status, json.loads(body)) == (200, {"greeting": "hi"})
    assert store.stop() == 0
    status, body = fetch(f"{url}/")
    assert status == 502
    assert json.loads(body)["error"].startswith("store unreachable")
    assert api.stop() == 0
    assert "api: GET / -> 502" in api.output
    assert api.output[-1] == "api: stopped"


def test_worker_reads_its_jobs_then_works(start: Callable[..., Program]) -> None:
    store, url = start_store(start)
    assert fetch(f"{url}/kv/jobs", "PUT", "3")[0] == 204
    worker = start("worker.py", url)
    assert worker.expect("worker ready") == "worker ready: 3 jobs queued"
    worker.expect("worker: job 1 done")
    assert worker.stop() == 0
    assert worker.output[-1].startswith("worker: stopped after ")
    assert store.stop() == 0


def test_worker_fails_without_a_store(start: Callable[..., Program]) -> None:
    worker = start("worker.py", f"http://127.0.0.1:{free_port()}")
    assert worker.wait() == 1
    assert worker.output[-1].startswith("worker: cannot read 'jobs' from the store at ")


def test_the_stack_end_to_end(start: Callable[..., Program]) -> None:
    """What demo.toml starts, in its order, on free ports: the smoke check's URL answers."""
    store, store_url = start_store(start)
    assert start("migrate.py", store_url).wait() == 0
    port = free_port()
    api = start("api.py", str(port), store_url)
    worker = start("worker.py", store_url)
    api.expect("api listening")
    assert worker.expect("worker ready") == "worker ready: 3 jobs queued"
    status, body = fetch(f"http://127.0.0.1:{port}/")
    assert (status, json.loads(body)) == (200, {"greeting": "hello from the store"})
    assert [worker.stop(), api.stop(), store.stop()] == [0, 0, 0]


def test_demo_toml_runs_the_scripts_next_to_it() -> None:
    with (DEMO / "demo.toml").open("rb") as file:
        services = tomllib.load(file)["services"]
    assert list(services) == ["store", "migrate", "api", "worker", "smoke"]
    for name, service in services.items():
        assert set(service.get("requires", [])) <= set(services), name
        if "command" in service:
            assert service["command"][0] == "python3"
            assert (DEMO / service["command"][1]).is_file(), name
