"""The built-in polled checks against real sockets, servers and processes
(docs/spec.md section 5)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import anyio
import pytest

from coordinator import Command, Daemons, HealthCheckResult, HealthStatus, Ready, checks
from coordinator.checks import check_port_listening, check_web_url, run_health_script

# Every test here, on both ways of running a child (the conftest).
pytestmark = pytest.mark.usefixtures("process_layer")

# Helpers.


def free_port() -> int:
    """A TCP port nothing listens on (bound to 0, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def tcp_listener() -> Iterator[socket.socket]:
    """A listening IPv4 socket that never accepts: connections wait in its backlog."""
    listener = socket.socket()
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener
    finally:
        listener.close()


def port_of(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


@asynccontextmanager
async def directory_server(directory: Path) -> AsyncIterator[int]:
    """`python -m http.server` in a real subprocess, serving `directory`; yields its port."""
    port = free_port()
    process = await anyio.open_process(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=directory,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with anyio.fail_after(10):
            while not (await check_port_listening(port)).is_success:
                assert process.returncode is None, "http.server exited before listening"
                await anyio.sleep(0.01)
        yield port
    finally:
        with anyio.CancelScope(shield=True):
            if process.returncode is None:
                process.terminate()
            await process.aclose()


class StatusHandler(BaseHTTPRequestHandler):
    """Answers `GET /status/NNN` with status NNN (and an empty body)."""

    def do_GET(self) -> None:
        status = int(self.path.rpartition("/")[2])
        self.send_response(status)
        if 300 <= status < 400:
            self.send_header("Location", "http://127.0.0.1:1/")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def status_server() -> Iterator[int]:
    """An in-test `http.server` in a thread, answering any chosen status; yields its port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), StatusHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def gone(pid: int) -> bool:
    """The process has exited (a zombie waiting to be reaped counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            state = stat.read().rpartition(b")")[2].split()[0]
    except FileNotFoundError:
        return True
    return state in (b"Z", b"X")


# check_port_listening


async def test_a_listening_ipv4_socket_is_success() -> None:
    with tcp_listener() as listener:
        port = port_of(listener)
        result = await check_port_listening(port)
        assert result.result is HealthStatus.SUCCESS
        assert result.message == f"Port {port} is listening"
        custom = await check_port_listening(port, success_message="db up")
        assert custom.is_success
        assert custom.message == "db up"


async def test_a_listening_ipv6_socket_is_success() -> None:
    listener = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        listener.bind(("::1", 0))
    except OSError as error:
        listener.close()
        pytest.skip(f"no IPv6 loopback here: {error}")
    try:
        listener.listen()
        port = port_of(listener)
        assert (await check_port_listening(port)).is_success
    finally:
        listener.close()
    assert not (await check_port_listening(port)).is_success


async def test_a_closed_port_is_failure() -> None:
    port = free_port()
    result = await check_port_listening(port)
    assert result.result is HealthStatus.FAILURE
    assert result.message == f"Port {port} is not listening"
    custom = await check_port_listening(port, error_message="db down")
    assert custom == HealthCheckResult.failure("db down")


async def test_a_udp_socket_or_a_bound_tcp_socket_does_not_count() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        port = port_of(udp)
        assert not (await check_port_listening(port)).is_success
        with socket.socket() as bound:  # bound to the same port number, never listening
            bound.bind(("127.0.0.1", port))
            assert not (await check_port_listening(port)).is_success


async def test_only_the_listen_state_counts() -> None:
    """Upstream matched any socket state: a connection using the port counted too."""
    with tcp_listener() as listener:
        port = port_of(listener)
        with socket.create_connection(("127.0.0.1", port)) as client:
            accepted, _ = listener.accept()
            with accepted:
                # The client's side of an established connection is no listener.
                assert not (await check_port_listening(port_of(client))).is_success
                assert (await check_port_listening(port)).is_success
                listener.close()
                # The accepted connection still has local port `port`, established.
                assert not (await check_port_listening(port)).is_success


async def test_the_timeout_gives_the_timeout_message() -> None:
    with tcp_listener() as listener:
        port = port_of(listener)
        # Too short to count against the clock: over before the check begins.
        result = await check_port_listening(port, timeout=1e-300)
        assert result == HealthCheckResult.failure(f"Timeout trying to check port {port}")
        custom = await check_port_listening(port, timeout=1e-300, timeout_message="slow")
        assert custom.message == "slow"


@pytest.mark.parametrize("port", [0, -1, 65536, True, 80.0, "80"])
async def test_an_impossible_port_is_a_value_error(port: object) -> None:
    with pytest.raises(ValueError, match="port must be an integer"):
        await check_port_listening(port)  # type: ignore[arg-type]


async def test_a_timeout_not_above_zero_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="timeout must be a number > 0"):
        await check_port_listening(80, timeout=-1)
    with pytest.raises(ValueError, match="timeout must be a number > 0"):
        await check_web_url("http://127.0.0.1/", timeout=float("nan"))
    with pytest.raises(ValueError, match="timeout must be a number > 0"):
        await run_health_script("true", timeout=-0.5)
    with pytest.raises(ValueError, match="timeout must be a number > 0, not 0"):
        await check_port_listening(80, timeout=0)


# check_web_url


async def test_statuses_below_500_from_a_real_http_server_are_success(tmp_path: Path) -> None:
    (tmp_path / "health.txt").write_text("ok\n")
    async with directory_server(tmp_path) as port:
        found = f"http://127.0.0.1:{port}/health.txt"
        result = await check_web_url(found)
        assert result.result is HealthStatus.SUCCESS
        assert result.message == f"Reached {found}"
        missing = f"http://127.0.0.1:{port}/missing"
        assert await check_web_url(missing) == HealthCheckResult.success(f"Reached {missing}")
        custom = await check_web_url(found, success_message="web up")
        assert custom.message == "web up"


async def test_a_5xx_is_failure_and_a_redirect_is_not_followed() -> None:
    with status_server() as port:
        url = f"http://127.0.0.1:{port}/status/503"
        result = await check_web_url(url)
        assert result == HealthCheckResult.failure(f"Error while fetching URL: {url}: HTTP 503")
        assert not (await check_web_url(f"http://127.0.0.1:{port}/status/500")).is_success
        custom = await check_web_url(url, error_message="web down")
        assert custom == HealthCheckResult.failure("web down")
        # Its Location is a refused port: following it would fail.
        assert (await check_web_url(f"http://127.0.0.1:{port}/status/302")).is_success
        assert (await check_web_url(f"http://127.0.0.1:{port}/status/401")).is_success


async def test_proxy_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    refused = f"http://127.0.0.1:{free_port()}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, refused)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    with status_server() as port:
        assert (await check_web_url(f"http://127.0.0.1:{port}/status/200")).is_success


async def test_a_refused_connection_is_failure() -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    result = await check_web_url(url)
    assert result == HealthCheckResult.failure(
        f"Error while fetching URL: {url}: connection refused"
    )


async def test_https_to_a_plain_http_server_is_failure() -> None:
    with status_server() as port:
        url = f"https://127.0.0.1:{port}/status/200"
        result = await check_web_url(url)
        assert result.result is HealthStatus.FAILURE
        assert result.message is not None
        assert result.message.startswith(f"Error while fetching URL: {url}: ")
    assert checks._ssl_context() is checks._ssl_context()  # created once, then shared


async def test_a_server_that_never_answers_times_out() -> None:
    with tcp_listener() as listener:
        url = f"http://127.0.0.1:{port_of(listener)}/"
        started = time.monotonic()
        result = await check_web_url(url, timeout=0.3)
        elapsed = time.monotonic() - started
    assert result == HealthCheckResult.failure(
        f"Error while fetching URL: {url}: timed out after 0.3 s"
    )
    assert 0.25 < elapsed < 1.5


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1/", "127.0.0.1:80", "/health", "", "http://", "http://[::1/"]
)
async def test_a_url_that_can_never_work_is_a_value_error(url: str) -> None:
    with pytest.raises(ValueError, match="url"):
        await check_web_url(url)


# run_health_script


async def test_exit_0_is_success_with_the_output(tmp_path: Path) -> None:
    result = await run_health_script("echo '  all good  '")
    assert result == HealthCheckResult.success("Script echo '  all good  ' succeeded: all good")
    argv = [sys.executable, "-c", "print('from argv')"]
    by_argv = await run_health_script(argv)
    assert by_argv.message == f"Script {' '.join(argv)} succeeded: from argv"
    command = Command("echo $PROBE; pwd", env={"PROBE": "probed"}, cwd=tmp_path)
    by_command = await run_health_script(command, success_message="fine")
    assert by_command == HealthCheckResult.success("fine")
    detailed = await run_health_script(command)
    assert detailed.message == f"Script {command} succeeded: probed\n{tmp_path}"
    silent = await run_health_script("true")
    assert silent.message == "Script true succeeded"


async def test_long_output_is_cut_in_the_message() -> None:
    result = await run_health_script([sys.executable, "-c", "print('x' * 100_000)"])
    assert result.is_success
    assert result.message is not None
    assert result.message.endswith("x...")
    assert len(result.message) < 300


async def test_a_non_zero_exit_is_failure_with_the_last_stderr_line() -> None:
    script = "echo progress; echo first >&2; echo 'disk full' >&2; echo >&2; exit 3"
    result = await run_health_script(script)
    assert result == HealthCheckResult.failure(
        f"Error while running command: {script}: exit code 3: disk full"
    )
    quiet = await run_health_script("exit 4")
    assert quiet.message == "Error while running command: exit 4: exit code 4"
    custom = await run_health_script("exit 4", error_message="probe failed")
    assert custom == HealthCheckResult.failure("probe failed")
    killed = await run_health_script("kill -KILL $$")
    assert killed.message == "Error while running command: kill -KILL $$: killed by signal SIGKILL"


async def test_a_missing_program_is_failure(tmp_path: Path) -> None:
    result = await run_health_script(["no-such-program-for-healthdaemons", "--check"])
    assert result == HealthCheckResult.failure(
        "Error while running command: no-such-program-for-healthdaemons --check: "
        "no such file or directory: 'no-such-program-for-healthdaemons'"
    )
    by_shell = await run_health_script("no-such-program-for-healthdaemons")
    assert by_shell.result is HealthStatus.FAILURE
    assert by_shell.message is not None
    assert "exit code 127" in by_shell.message
    assert "not found" in by_shell.message
    in_missing_dir = await run_health_script(Command("true", cwd=tmp_path / "missing"))
    assert in_missing_dir.result is HealthStatus.FAILURE
    assert in_missing_dir.message is not None
    assert in_missing_dir.message.endswith("missing' is not a directory")


async def test_a_timeout_kills_the_whole_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild"
    script = f"sleep 60 & echo $! > {pid_file}; sleep 60"
    started = time.monotonic()
    result = await run_health_script(script, timeout=0.5)
    elapsed = time.monotonic() - started
    assert result == HealthCheckResult.failure(
        f"Error while running command: {script}: timed out after 0.5 s"
    )
    assert 0.4 < elapsed < 1.8
    grandchild = int(pid_file.read_text())
    assert gone(grandchild)


async def test_what_the_script_leaves_running_is_killed(tmp_path: Path) -> None:
    """A background process holding stdout neither delays the result nor survives it."""
    pid_file = tmp_path / "grandchild"
    script = f"sleep 60 & echo $! > {pid_file}; echo ready"
    started = time.monotonic()
    result = await run_health_script(script, timeout=10)
    assert time.monotonic() - started < 1.5
    assert result.message == f"Script {script} succeeded: ready"
    assert gone(int(pid_file.read_text()))


async def test_cancelling_the_check_kills_the_whole_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild"
    script = f"sleep 60 & echo $! > {pid_file}; sleep 60"
    with anyio.move_on_after(0.4) as scope:
        await run_health_script(script, timeout=30)
    assert scope.cancelled_caught
    assert gone(int(pid_file.read_text()))


@pytest.mark.parametrize("command", ["", "   ", [], [""]])
async def test_an_empty_command_is_a_value_error(command: str | list[str]) -> None:
    with pytest.raises(ValueError, match="empty"):
        await run_health_script(command)


# A check's own timeout and the bound on each call (`Ready.timeout`).


async def test_a_script_check_that_hangs_is_ended_by_the_ready_timeout() -> None:
    ready = Ready("Script", lambda: run_health_script("sleep 1000"), grace_period=0, timeout=0.5)
    system = Daemons.of().add_health_check("script", ready=ready)
    timed_out = HealthCheckResult.failure("health check timed out after 0.5 s")
    async with system.build() as running:
        assert await running.wait_until(lambda: running.health("script") == timed_out, timeout=10)
    # (No `sleep` is left: the fixture checks that the script's group was killed.)


async def test_a_check_with_a_shorter_timeout_of_its_own_ends_first_with_its_message() -> None:
    ready = Ready("Script", lambda: run_health_script("sleep 1000", 0.3), grace_period=0)
    system = Daemons.of().add_health_check("script", ready=ready)
    own = HealthCheckResult.failure(
        "Error while running command: sleep 1000: timed out after 0.3 s"
    )
    async with system.build() as running:
        assert await running.wait_until(lambda: running.health("script") == own, timeout=10)
