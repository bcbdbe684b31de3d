"""Ready-made health checks, and readiness that a process announces itself.

Polled checks (for `Ready.fn`, each bounded by its own timeout):
`check_port_listening`, `check_web_url`, `run_health_script`. A check
returns its failure (a `HealthCheckResult`); it raises only `ValueError`, at
once, for an argument that can never work (a port out of range, a URL that
is not http(s), a timeout that is not a finite number > 0).

Announced readiness (also for `Ready.fn`; no polling): `log_line(pattern)`
and `sd_notify()`.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import signal
import ssl
from collections.abc import Iterator, Sequence

import anyio
import anyio.lowlevel
import httpx

from ._announced import LogLineReadiness as LogLineReadiness
from ._announced import NotifyReadiness as NotifyReadiness
from ._announced import log_line as log_line
from ._announced import sd_notify as sd_notify
from ._checked import CHECKED_ENTRY
from ._child_process import ChildProcess
from ._command import Command
from ._command_process import SpawnError, open_session, wait_group_gone
from ._defaults import CHECK_TIMEOUT, KILL_WAIT, OUTPUT_TAIL_TIMEOUT, SCRIPT_TIMEOUT
from ._ownership import answering, is_local, listeners, ownership_problem, peer_address
from ._process_table import group_alive
from ._results import HealthCheckResult
from ._urls import url_problem
from ._validation import require_option

__all__ = [
    "LogLineReadiness",
    "NotifyReadiness",
    "check_port_listening",
    "check_web_url",
    "log_line",
    "run_health_script",
    "sd_notify",
]

_MESSAGE_LIMIT = 200
"""Script output longer than this many characters is cut in the message."""

_KEPT_OUTPUT = 64 * 1024
"""Bytes of a script's stdout (its start) and stderr (its end) kept for the message."""


# check_port_listening


async def check_port_listening(
    port: int,
    *,
    timeout: float = CHECK_TIMEOUT,
    owned: bool = False,
    success_message: str | None = None,
    error_message: str | None = None,
    timeout_message: str | None = None,
) -> HealthCheckResult:
    """Success when a TCP socket is listening on `port` (IPv4 or IPv6).

    Asks the kernel's socket diagnostics (netlink), or reads `/proc/net/tcp`
    and `/proc/net/tcp6` where it cannot (either of this process's network
    namespace) and looks for a socket in LISTEN state whose local port is
    `port`, on any address. A connected socket that merely uses that port,
    or a UDP socket, does not count (upstream matched any socket state).

    `owned=True`: as the check of an entry that runs a process, the socket
    must also belong to that entry, i.e. be held by a live member of its
    process group (for an `ExecFn`, by the supervisor itself); a port held
    by anyone else fails, naming the holder. Outside such a check (a
    `add_health_check` entry, a direct call) it has no effect. See
    docs/checks.md for what it can and cannot see.

    Messages, unless given: `"Port {port} is listening"` on success,
    `"Port {port} is not listening"` or `"Port {port} is held by pid N
    (name), not by ID's processes"` on failure, and
    `"Timeout trying to check port {port}"` once `timeout` seconds (default
    1.0) have passed. Raises `ValueError` for a port outside 1..65535.
    """
    require_option("port", port)
    require_option("timeout", timeout)
    with anyio.move_on_after(timeout):
        await anyio.lowlevel.checkpoint()
        # The tables are small files in procfs: read in place, not in a thread.
        try:
            found = listeners(port)
        except OSError as error:
            return HealthCheckResult.failure(
                error_message or f"Cannot check port {port}: {error.strerror or error}"
            )
        if not found:
            return HealthCheckResult.failure(error_message or f"Port {port} is not listening")
        inodes = [listener.inode for listener in found]
        if owned and (problem := ownership_problem(f"Port {port}", inodes, every=False)):
            return HealthCheckResult.failure(error_message or problem)
        return HealthCheckResult.success(success_message or f"Port {port} is listening")
    return HealthCheckResult.failure(timeout_message or f"Timeout trying to check port {port}")


# check_web_url


async def check_web_url(
    url: str,
    *,
    timeout: float = CHECK_TIMEOUT,
    owned: bool = False,
    success_message: str | None = None,
    error_message: str | None = None,
) -> HealthCheckResult:
    """Success when a GET of `url` gets an HTTP response with a status below 500.

    Any answer below 500 counts (a 404 or a 401 still shows the server is
    up; upstream counted 5xx too); redirects are not followed (a 3xx is an
    answer). Only the status line and headers are read, not the body. A 5xx,
    a connection error or no answer within `timeout` seconds (default 1.0,
    for the whole request) is a failure.

    The request goes straight to the service: proxy variables (`HTTP_PROXY`,
    `ALL_PROXY`...) and `.netrc` are ignored (`trust_env=False`). HTTPS
    certificates are verified against the system's trust store.

    `owned=True`: as the check of an entry that runs a process, an answer
    from an address of this machine must also come from that entry: the
    listening socket that took the connection must be held by a live member
    of its process group (for an `ExecFn`, by the supervisor itself), or the
    check fails naming the holder (reason `port N is held by pid N (name),
    not by ID's processes`). A remote address cannot be checked: any answer
    counts, as without `owned`. Outside a check of an entry that runs a
    process it has no effect. See docs/checks.md.

    Messages, unless given: `"Reached {url}"` on success, and
    `"Error while fetching URL: {url}: {reason}"` on failure, the reason being
    e.g. `HTTP 503`, `connection refused` or `timed out after 1 s`. A given
    `error_message` replaces the whole failure message. Raises `ValueError`
    for a URL that is not an absolute http:// or https:// URL.
    """
    _require_url(url)
    require_option("timeout", timeout)
    reason = f"timed out after {timeout:g} s"
    with anyio.move_on_after(timeout):
        try:
            async with (
                httpx.AsyncClient(
                    verify=_ssl_context(), trust_env=False, timeout=None, follow_redirects=False
                ) as client,
                client.stream("GET", url) as response,
            ):
                status = response.status_code
                server = _server_address(response) if owned else None
        except (httpx.HTTPError, OSError) as error:
            reason = _describe_request_error(error)
        else:
            if status >= 500:
                reason = f"HTTP {status}"
            elif server is not None and (problem := _answered_by_stranger(server)):
                reason = problem
            else:
                return HealthCheckResult.success(success_message or f"Reached {url}")
    return HealthCheckResult.failure(error_message or f"Error while fetching URL: {url}: {reason}")


def _server_address(response: httpx.Response) -> tuple[str, int]:
    """The address and port the request went to (after name resolution), or
    the URL's host and port if the connection cannot tell."""
    stream = response.extensions.get("network_stream")
    try:
        peer = stream.get_extra_info("server_addr") if stream is not None else None
    except OSError:  # the server has reset the connection already
        peer = None
    if peer is None:
        url = response.request.url
        return url.host, url.port or (443 if url.scheme == "https" else 80)
    return str(peer[0]), int(peer[1])


def _answered_by_stranger(server: tuple[str, int]) -> str | None:
    """Why the local listener that took the connection to `server` is not the
    checked entry's; `None` if it is, or if that cannot be known (a remote
    address, a name, no `/proc`)."""
    host, port = server
    address = peer_address(host)
    if address is None or not is_local(address):
        return None
    try:
        found = answering(listeners(port), address)
    except OSError:
        return None
    return ownership_problem(f"port {port}", [s.inode for s in found], every=True)


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One verifying context for every request: creating one takes tens of milliseconds."""
    return ssl.create_default_context()


def _require_url(url: str) -> None:
    if not isinstance(url, str):
        raise ValueError(f"url must be a string, not {type(url).__name__}")
    problem = url_problem(url)
    if problem is not None:
        raise ValueError(f"url {problem}")


def _describe_request_error(error: BaseException) -> str:
    """A short reason: `connection refused` rather than `All connection attempts failed`."""
    causes = list(_causes(error))
    for cause in causes:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"certificate verify failed: {cause.verify_message}"
        if isinstance(cause, ssl.SSLError):
            reason = cause.reason.replace("_", " ").lower() if cause.reason else str(cause)
            return f"TLS error: {reason}"
    for cause in causes:
        # The backends rewrite `strerror` ("Connect call failed ..."); errno is exact.
        if isinstance(cause, OSError) and cause.errno is not None and cause.errno > 0:
            return os.strerror(cause.errno).lower()
    for cause in causes:
        if isinstance(cause, OSError) and cause.strerror:  # getaddrinfo's errors
            return cause.strerror.lower()
    return str(error) or type(error).__name__


def _causes(error: BaseException) -> Iterator[BaseException]:
    """`error`, then what it wraps: causes, contexts, group members, exception arguments."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                pending.append(linked)


# run_health_script


async def run_health_script(
    command: str | Sequence[str] | Command,
    timeout: float = SCRIPT_TIMEOUT,
    *,
    success_message: str | None = None,
    error_message: str | None = None,
) -> HealthCheckResult:
    """Run `command`; success when it exits with code 0 within `timeout` seconds (default 30).

    A string runs as `sh -c STRING`, a sequence is an argv, and a `Command`
    adds `env`, `cwd` and `user` (its other options do not apply here). The
    script starts in its own session and process group, with stdin from
    `/dev/null`; both outputs are read to the end. When it exits, whatever
    it left running in its group is killed; on timeout, or if the check is
    cancelled, the whole group is killed (SIGKILL) and waited for, so no
    process outlives the check. Run by a check of a system built with
    `orphan_guard=True`, the script runs under the init and its guard.

    Messages, unless given: `"Script {command} succeeded: {stdout}"` on
    success (the output stripped, cut to about 200 characters; without
    output, just `"Script {command} succeeded"`), and
    `"Error while running command: {command}: {reason}"` on failure, the
    reason being `exit code N` and the last line of stderr, `killed by signal
    SIGxxx`, `timed out after 30 s`, or why it could not start (a missing
    program, say). A given `error_message` replaces the whole failure message.
    Raises `ValueError` for an empty command or a timeout that is not a finite
    number > 0.
    """
    spec = command if isinstance(command, Command) else Command(command)
    problem = spec.problem()
    if problem is not None:
        raise ValueError(problem)
    require_option("timeout", timeout)
    name = str(spec)

    def failure(reason: str) -> HealthCheckResult:
        return HealthCheckResult.failure(
            error_message or f"Error while running command: {name}: {reason}"
        )

    # Under a system's orphan guard, the script runs under the init, which
    # kills what the script leaves behind at once (no grace period).
    checked = CHECKED_ENTRY.get()
    guard_fd = None if checked is None else checked.guard_fd
    stdout = _Output(keep_start=True)
    stderr = _Output(keep_start=False)
    returncode: int | None = None
    async with anyio.create_task_group() as group:
        try:
            # Shielded: a spawn cancelled half-way could leave a process nobody kills.
            with anyio.CancelScope(shield=True):
                process = await open_session(
                    dataclasses.replace(spec, sigterm_timeout=0.0),
                    spec.argv,
                    task_group=group,
                    stdout=stdout,
                    stderr=stderr,
                    name="healthdaemons:script",
                    via_init=guard_fd is not None,
                    guard_fd=guard_fd,
                )
        except SpawnError as error:
            return failure(str(error))
        try:
            with anyio.move_on_after(timeout):
                returncode = await process.wait()
                # Whatever the script left behind would hold the pipes open.
                _kill_group(process.pid)
                with anyio.move_on_after(OUTPUT_TAIL_TIMEOUT):
                    await stdout.done.wait()
                    await stderr.done.wait()
        finally:
            with anyio.CancelScope(shield=True):
                await _stop(process)

    if returncode is None:
        return failure(f"timed out after {timeout:g} s")
    if returncode == 0:
        output = _shorten(stdout.text().strip())
        return HealthCheckResult.success(
            success_message or f"Script {name} succeeded" + (f": {output}" if output else "")
        )
    if returncode < 0:
        try:
            signal_name = signal.Signals(-returncode).name
        except ValueError:
            signal_name = str(-returncode)
        return failure(f"killed by signal {signal_name}")
    last_line = next((line for line in reversed(stderr.text().splitlines()) if line.strip()), "")
    detail = f": {_shorten(last_line.strip())}" if last_line else ""
    return failure(f"exit code {returncode}{detail}")


class _Output:
    """One output pipe, read to the end, keeping its start or its end (bounded)."""

    def __init__(self, keep_start: bool) -> None:
        self._keep_start = keep_start
        self._data = bytearray()
        self.done = anyio.Event()

    def write(self, data: bytes) -> None:
        if self._keep_start:
            self._data += data[: _KEPT_OUTPUT - len(self._data)]
        else:
            self._data += data
            del self._data[:-_KEPT_OUTPUT]

    def close(self) -> None:
        self.done.set()

    def text(self) -> str:
        return self._data.decode(errors="replace")


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


async def _stop(process: ChildProcess) -> None:
    """Kill what is left of the script's group, wait until it is gone, and reap the script."""
    pid = process.pid
    if process.returncode is None or group_alive(pid):
        _kill_group(pid)
    with anyio.move_on_after(KILL_WAIT):
        await wait_group_gone(pid)
    await process.aclose()


def _shorten(text: str) -> str:
    if len(text) <= _MESSAGE_LIMIT:
        return text
    return text[:_MESSAGE_LIMIT].rstrip() + "..."
