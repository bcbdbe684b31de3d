"""Readiness by port or URL counts only when the entry's own processes answer (issue 11, item 6).

A stranger (a server started by the test, outside the system) already on the
port must not make the entry ready, whatever check asks; the entry's own
server, or one started by a grandchild in its process group, must.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from types import SimpleNamespace

import anyio
import pytest
from anyio.abc import Process

from coordinator import (
    CheckFn,
    Command,
    Daemons,
    ExecFn,
    HealthCheckResult,
    HealthReported,
    LifecycleState,
    ProcessExited,
    Ready,
    RunningDaemons,
    Transitioned,
)
from coordinator._checked import CHECKED_ENTRY, CheckedEntry
from coordinator._ownership import listeners
from coordinator._process_table import group_alive
from coordinator.checks import check_port_listening, check_web_url

from .helpers import PYTHON, always_ready, pids, quick, sleeper

COMMAND = str(Path(sys.executable).with_name("healthdaemons"))


def _ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def _hosts() -> list[object]:
    return [
        "127.0.0.1",
        pytest.param("::1", marks=pytest.mark.skipif(not _ipv6(), reason="no IPv6 loopback")),
    ]


def free_port(host: str = "127.0.0.1") -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def server_argv(port: int, host: str) -> list[str]:
    return [PYTHON, "-I", "-S", "-m", "http.server", str(port), "--bind", host]


def url_of(port: int, host: str) -> str:
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def owned_check(source: str, port: int, host: str) -> CheckFn:
    if source == "url":
        url = url_of(port, host)
        return lambda: check_web_url(url, owned=True)
    return lambda: check_port_listening(port, owned=True)


def system(app: Command | ExecFn, check: CheckFn) -> Daemons:
    """`app`, ready by `check`, and `web`, which requires it."""
    return (
        Daemons.of()
        .add_daemon("app", exec=app, ready=quick(check))
        .add_daemon("web", exec=sleeper(), ready=always_ready(), requires=["app"])
    )


@asynccontextmanager
async def stranger(port: int, host: str) -> AsyncIterator[Process]:
    """A server on `port` that is none of the system's business."""
    process = await anyio.open_process(
        server_argv(port, host), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        with anyio.fail_after(10):
            while not listeners(port):
                assert process.returncode is None, "the stranger exited before listening"
                await anyio.sleep(0.01)
        yield process
    finally:
        with anyio.CancelScope(shield=True):
            process.terminate()
            await process.aclose()


def health_messages(running: RunningDaemons, entry: str) -> list[str]:
    return [
        e.message
        for e in running.history
        if isinstance(e, HealthReported) and e.entry == entry and e.message
    ]


def became_ready(running: RunningDaemons, entry: str) -> bool:
    return any(
        isinstance(e, Transitioned) and e.entry == entry and e.dest is LifecycleState.READY
        for e in running.history
    )


# A stranger on the port


@pytest.mark.anyio
@pytest.mark.parametrize("host", _hosts())
@pytest.mark.parametrize("source", ["port", "url"])
async def test_a_stranger_on_the_port_never_makes_the_entry_ready(source: str, host: str) -> None:
    port = free_port(host)
    async with stranger(port, host) as other:
        app = Command(server_argv(port, host))
        async with system(app, owned_check(source, port, host)).build() as running:
            held = f"port {port} is held by pid {other.pid} (python"
            not_ours = "not by app's processes"

            def named() -> bool:
                return any(
                    held in m.lower() and not_ours in m for m in health_messages(running, "app")
                )

            def crashed_twice() -> bool:
                exits = [e for e in running.history if isinstance(e, ProcessExited)]
                return sum(e.entry == "app" and not e.clean for e in exits) >= 2

            # Its own server fails with "address already in use", and is restarted.
            assert await running.wait_until(lambda: named() and crashed_twice(), timeout=20)
            assert not became_ready(running, "app")
            assert running.state("web") is LifecycleState.WAITING
            assert pids(running.history, "web") == []  # the dependent never started


@pytest.mark.anyio
async def test_without_owned_a_stranger_still_counts() -> None:
    """The library's checks keep their old meaning unless asked."""
    port = free_port()
    async with stranger(port, "127.0.0.1"):
        app = Command(server_argv(port, "127.0.0.1"))
        check = lambda: check_port_listening(port)  # noqa: E731
        async with system(app, check).build() as running:
            await running.wait_ready(timeout=20)


# The entry's own server


@pytest.mark.anyio
@pytest.mark.parametrize("host", _hosts())
@pytest.mark.parametrize("source", ["port", "url"])
async def test_the_entrys_own_server_makes_it_ready(source: str, host: str) -> None:
    port = free_port(host)
    app = Command(server_argv(port, host))
    async with system(app, owned_check(source, port, host)).build() as running:
        await running.wait_ready(timeout=20)
        assert running.health("app") is not None


@pytest.mark.anyio
@pytest.mark.parametrize("source", ["port", "url"])
async def test_a_server_started_by_a_grandchild_in_the_group_counts(source: str) -> None:
    port = free_port()
    argv = " ".join(server_argv(port, "127.0.0.1"))
    # The shell stays (it waits), so the server is its child, not the group's leader.
    app = Command(["sh", "-c", f"{argv} & wait"])
    async with system(app, owned_check(source, port, "127.0.0.1")).build() as running:
        await running.wait_ready(timeout=20)


@pytest.mark.anyio
@pytest.mark.parametrize("source", ["port", "url"])
async def test_under_the_init_the_command_still_owns_the_port(source: str) -> None:
    port = free_port()
    app = Command(server_argv(port, "127.0.0.1"), run_as_init=True)
    async with system(app, owned_check(source, port, "127.0.0.1")).build() as running:
        await running.wait_ready(timeout=20)


@pytest.mark.anyio
async def test_an_exec_fn_owns_what_the_supervisor_itself_listens_on() -> None:
    port = free_port()

    async def serve(_: object) -> None:
        async with await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=port):
            await anyio.sleep_forever()

    check = owned_check("port", port, "127.0.0.1")
    async with system(ExecFn(serve), check).build() as running:
        await running.wait_ready(timeout=20)


@pytest.mark.anyio
async def test_a_health_check_entry_has_no_processes_so_any_owner_counts() -> None:
    port = free_port()
    async with stranger(port, "127.0.0.1"):
        gate = Ready("Gate", owned_check("url", port, "127.0.0.1"))
        async with Daemons.of().add_health_check("gate", ready=gate).build() as running:
            await running.wait_ready(timeout=20)


@pytest.mark.anyio
async def test_outside_a_system_owned_checks_behave_as_before() -> None:
    port = free_port()
    async with stranger(port, "127.0.0.1"):
        assert await check_port_listening(port, owned=True) == HealthCheckResult.success(
            f"Port {port} is listening"
        )
        url = url_of(port, "127.0.0.1")
        assert (await check_web_url(url, owned=True)).is_success


# Through a config file and `healthdaemons up`


@contextmanager
def stranger_process(port: int) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        server_argv(port, "127.0.0.1"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while not listeners(port):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        yield process
    finally:
        process.terminate()
        process.wait()


def write_config(tmp_path: Path, port: int, source: str) -> Path:
    """`app` serves on `port`, ready by `source` (port or url); `web` requires it."""
    argv = ", ".join(f'"{arg}"' for arg in server_argv(port, "127.0.0.1"))
    target = f'"{url_of(port, "127.0.0.1")}"' if source == "url" else str(port)
    config = tmp_path / "system.toml"
    config.write_text(
        f"""
[services.app]
command = [{argv}]
ready = {{ {source} = {target} }}

[services.web]
command = "exec sleep 600"
requires = ["app"]
ready = {{ script = "true" }}
"""
    )
    return config


def up_until_ready(config: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [COMMAND, "up", "--until-ready", "--timeout", str(timeout), str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("source", ["port", "url"])
def test_up_until_ready_fails_with_a_stranger_on_the_port(tmp_path: Path, source: str) -> None:
    port = free_port()
    config = write_config(tmp_path, port, source)
    with stranger_process(port) as other:
        run = up_until_ready(config, 3)
    output = run.stdout + run.stderr
    assert run.returncode == 1, output
    assert f"held by pid {other.pid} (python" in output, output
    assert "not by app's processes" in output
    assert re.search(r"\bweb +spawned", output) is None, output
    assert re.search(r"\bapp +starting -> ready", output) is None, output


@pytest.mark.parametrize("source", ["port", "url"])
def test_up_until_ready_passes_with_the_services_own_server(tmp_path: Path, source: str) -> None:
    run = up_until_ready(write_config(tmp_path, free_port(), source), 20)
    assert run.returncode == 0, run.stdout + run.stderr


# What the check cannot see


@contextmanager
def own_group() -> Iterator[int]:
    """A process leading its own group, as an entry's command does; yields its pid."""
    process = subprocess.Popen(["sleep", "1000"], start_new_session=True)
    try:
        yield process.pid
    finally:
        process.kill()
        process.wait()


@contextmanager
def listening() -> Iterator[int]:
    """A socket listening on a port, held by the test itself; yields the port."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield int(server.getsockname()[1])


async def check_for(entry_pid: int | None, port: int) -> HealthCheckResult:
    """`check_port_listening(port, owned=True)` as the check of entry `app`, whose
    process leads group `entry_pid` (`None`: no process running)."""
    process = None if entry_pid is None else SimpleNamespace(pid=entry_pid)
    token = CHECKED_ENTRY.set(CheckedEntry("app", SimpleNamespace(process=process)))
    try:
        return await check_port_listening(port, owned=True)
    finally:
        CHECKED_ENTRY.reset(token)


def hide_fds(monkeypatch: pytest.MonkeyPatch, visible: Callable[[str], bool]) -> None:
    """`/proc/PID/fd` unreadable unless `visible(path)`, as for another user's
    processes when the supervisor is not root."""
    listdir = os.listdir

    def guarded(path: str) -> list[str]:
        if path.startswith("/proc/") and path.endswith("/fd") and not visible(path):
            raise PermissionError(13, "Permission denied", path)
        return listdir(path)

    monkeypatch.setattr(os, "listdir", guarded)


@pytest.mark.anyio
async def test_a_visible_holder_is_named() -> None:
    with own_group() as group, listening() as port:
        result = await check_for(group, port)
    assert result == HealthCheckResult.failure(
        f"Port {port} is held by pid {os.getpid()} ({comm(os.getpid())}), not by app's processes"
    )


@pytest.mark.anyio
async def test_a_holder_nobody_can_see_fails_when_the_group_is_seen_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with own_group() as group, listening() as port:
        hide_fds(monkeypatch, lambda path: path == f"/proc/{group}/fd")
        result = await check_for(group, port)
    assert result == HealthCheckResult.failure(
        f"Port {port} is held by a process this supervisor cannot see, not by app's processes"
    )


@pytest.mark.anyio
async def test_what_cannot_be_told_apart_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    """A member of the group that cannot be looked at may hold the socket: not failed."""
    with own_group() as group, listening() as port:
        hide_fds(monkeypatch, lambda path: False)
        assert (await check_for(group, port)).is_success


@pytest.mark.anyio
async def test_between_two_processes_nothing_is_the_entrys() -> None:
    with listening() as port:
        result = await check_for(None, port)
    assert result == HealthCheckResult.failure(f"Port {port}: app has no process running")


def comm(pid: int) -> str:
    return Path(f"/proc/{pid}/comm").read_text().strip()


def test_a_member_whose_parent_is_gone_still_counts() -> None:
    """The leader has exited and the server, its orphan, is still in the group:
    found by the full scan, not by walking down from the leader."""
    port = free_port()
    listen = (
        "import socket, time; s = socket.socket(); "
        f"s.bind(('127.0.0.1', {port})); s.listen(); time.sleep(1000)"
    )
    leader = subprocess.Popen(
        ["sh", "-c", f'"{PYTHON}" -I -S -c "{listen}" &'], start_new_session=True
    )
    leader.wait()
    try:
        deadline = time.monotonic() + 10
        while not listeners(port):
            assert time.monotonic() < deadline, "the orphan never listened"
            time.sleep(0.01)
        assert anyio.run(check_for, leader.pid, port).is_success
    finally:
        os.killpg(leader.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while group_alive(leader.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
