"""The control server of `up`: its sockets, and Hypercorn serving the control
API on them, on the event loop of the supervisor (asyncio or trio).

`open()` runs before anything starts: it takes the pid lock (a second `up` of
the same file is refused), creates the unix socket (0600, in the 0700
runtime directory), with `--listen`, the TCP socket and its token, and with
`--web`, the web console's TCP socket and its token (`_web_page`). The
server then runs in a task group of its own: whatever goes wrong in it is
reported and ends the server, never supervision. It keeps answering while
the system stops, and closes once everything has stopped; `release()`
removes the socket, the token and the pid file.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import resource
import secrets
import socket
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import sniffio
from hypercorn.config import Config
from starlette.types import ASGIApp

from ._control_api import ControlState, build_app
from ._control_guard import RequestGuard
from ._control_options import ControlOptions
from ._control_paths import PidLock, write_private
from ._web_page import WebConsole, web_url
from ._web_token import web_token

__all__ = ["IDLE_TIMEOUT", "ControlServer", "raise_file_limit", "serve_on", "tcp_socket"]

IDLE_TIMEOUT = 5.0
"""Seconds a connection may stay without a request (before its first one,
or between two): a client that never finishes its request headers is
dropped then."""
GRACEFUL_TIMEOUT = 2.0
"""Seconds the server gives open requests once the system has stopped (the
streams have ended by then)."""
BACKLOG = 1024
"""Connections waiting to be accepted: a burst of clients is queued, not refused."""


FILE_LIMIT = 65536
"""Open files `up` raises its soft limit to, at most. The services inherit
it: a program that closes every descriptor up to the limit at start would
crawl under the 2**20 or 2**30 hard limits some containers set."""


def raise_file_limit() -> int:
    """Raise this process's soft limit of open files towards its hard limit
    (at most `FILE_LIMIT`), so that many clients at once cannot leave the
    supervisor unable to open the pipes of a spawn; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = FILE_LIMIT if hard == resource.RLIM_INFINITY else min(hard, FILE_LIMIT)
    if soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            pass
    return soft


class ControlServer:
    def __init__(self, options: ControlOptions, report: Callable[[str], None]) -> None:
        self.options = options
        self._report = report
        self._lock = PidLock(options.paths, options.config or str(options.paths.socket))
        self._unix: socket.socket | None = None
        self._tcp: socket.socket | None = None
        self._web: socket.socket | None = None
        self.token: str | None = None
        self.web_token: str | None = None

    @property
    def tcp_address(self) -> tuple[str, int] | None:
        return _address(self._tcp)

    @property
    def web_address(self) -> tuple[str, int] | None:
        return _address(self._web)

    @property
    def web_base(self) -> str | None:
        """The web console's address, without the token."""
        address = self.web_address
        return None if address is None else web_url(*address, token=None)

    def open(self) -> None:
        """Take the pid lock and create the sockets; `ValueError` (nothing
        created) if another `up` runs for these paths or a socket cannot be made."""
        paths = self.options.paths
        try:
            self._lock.acquire()
        except OSError as error:
            raise ValueError(f"control files {paths.pid}: {error.strerror or error}") from error
        try:
            raise_file_limit()
            self._unix = _unix_socket(paths.socket)
            if self.options.listen is not None:
                self._tcp = tcp_socket(*self.options.listen)
                self.token = secrets.token_urlsafe(32)
                write_private(paths.token, self.token + "\n")
            if self.options.web is not None:
                self._web = tcp_socket(*self.options.web, flag="--web")
                self.web_token = web_token(paths.web_token)
        except BaseException:
            self.release()
            raise

    def announce(self) -> list[str]:
        """What `up` prints once at the start."""
        lines = [f"control socket: {self.options.paths.socket}"]
        address = self.tcp_address
        if address is not None:
            host, port = address
            shown = f"[{host}]" if ":" in host else host
            lines.append(
                f"control API on http://{shown}:{port} (token {self.token}, "
                f"also in {self.options.paths.token})"
            )
            if not ipaddress.ip_address(host).is_loopback:
                lines.append(
                    "warning: the control API listens beyond this machine: anyone who "
                    "reaches it with the token controls the system (plain HTTP, no TLS)"
                )
        web = self.web_address
        if web is not None and self.web_token is not None:
            lines.append(f"web console: {web_url(*web, token=self.web_token)}")
            if not ipaddress.ip_address(web[0]).is_loopback:
                lines.append(
                    "warning: the web console listens beyond this machine: anyone who "
                    "reaches it with the token controls the system (plain HTTP, no TLS)"
                )
        return lines

    async def serve(self, state: ControlState, closing: anyio.Event) -> None:
        """Serve until `closing` is set; report, and return, if serving fails."""
        try:
            api = build_app(state)
            async with anyio.create_task_group() as tasks:
                if self._unix is not None:
                    app = RequestGuard(api, token=None, listen_host=None, report=self._report)
                    tasks.start_soon(serve_on, app, self._unix, closing, self._report)
                if self._tcp is not None and self.options.listen is not None:
                    host = self.options.listen[0]
                    app = RequestGuard(api, token=self.token, listen_host=host, report=self._report)
                    tasks.start_soon(serve_on, app, self._tcp, closing, self._report)
                if self._web is not None and self.options.web is not None:
                    assert self.web_token is not None
                    console = WebConsole(api, token=self.web_token, config=self.options.config)
                    host = self.options.web[0]
                    app = RequestGuard(console, token=None, listen_host=host, report=self._report)
                    tasks.start_soon(serve_on, app, self._web, closing, self._report)
        except Exception as error:
            while isinstance(error, ExceptionGroup) and len(error.exceptions) == 1:
                error = error.exceptions[0]
            self._report(f"control API stopped: {error!r} (a bug); the system runs on without it")
            # Clients are refused at once rather than left waiting in the backlog.
            for listener in (self._unix, self._tcp, self._web):
                if listener is not None:
                    listener.close()

    def release(self) -> None:
        """Remove the socket and the token, close the sockets, release the pid
        lock. The web token stays, for the next `up --web` of the file."""
        paths = self.options.paths
        for listener in (self._unix, self._tcp, self._web):
            if listener is not None:
                listener.close()
        if self._unix is not None:
            paths.socket.unlink(missing_ok=True)
        if self.token is not None:
            paths.token.unlink(missing_ok=True)
        self._unix = self._tcp = self._web = None
        self._lock.release()


async def serve_on(
    app: ASGIApp, listener: socket.socket, closing: anyio.Event, report: Callable[[str], None]
) -> None:
    """Serve `app` with Hypercorn on `listener` until `closing` is set; its
    error log goes to `report`."""
    config = Config()
    # Hypercorn's own copy of the socket, which it closes; ours stays open.
    config.bind = [f"fd://{os.dup(listener.fileno())}"]
    config.backlog = BACKLOG
    config.keep_alive_timeout = IDLE_TIMEOUT
    config.graceful_timeout = GRACEFUL_TIMEOUT
    config.accesslog = None
    config.errorlog = _reporting_logger(report)
    config.include_server_header = False
    # Not read_timeout: a client following a stream sends nothing for hours.
    if sniffio.current_async_library() == "trio":
        from hypercorn.trio import serve as trio_serve

        await trio_serve(app, config, shutdown_trigger=closing.wait, mode="asgi")  # type: ignore[arg-type]
    else:
        from hypercorn.asyncio import serve as asyncio_serve

        _quiet_cancelled_connections()
        await asyncio_serve(app, config, shutdown_trigger=closing.wait, mode="asgi")  # type: ignore[arg-type]


def _quiet_cancelled_connections() -> None:
    """On Python 3.11, asyncio's streams report a connection task cancelled
    (Hypercorn's, for a request still open when the server closes) as an
    error, with a traceback on stderr; Python 3.12 no longer does. Such
    reports are left out; every other goes where it went."""
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    if getattr(previous, "quiets_cancelled", False):
        return

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if isinstance(context.get("exception"), asyncio.CancelledError):
            return
        if previous is None:
            loop.default_exception_handler(context)
        else:
            previous(loop, context)

    handler.quiets_cancelled = True  # type: ignore[attr-defined]
    loop.set_exception_handler(handler)


def _unix_socket(path: Path) -> socket.socket:
    """A listening unix socket at `path`, mode 0600. Called with the pid lock
    held: a socket file already there was left by an `up` that died."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        pass
    else:
        if not stat.S_ISSOCK(info.st_mode):
            raise ValueError(f"control socket {path}: exists and is not a socket")
        path.unlink()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # Created 0600 (umask), so that no one else can connect even for a moment.
    mask = os.umask(0o177)
    try:
        listener.bind(os.fspath(path))
    except OSError as error:
        listener.close()
        raise ValueError(f"control socket {path}: {error.strerror or error}") from error
    finally:
        os.umask(mask)
    listener.listen(BACKLOG)
    return listener


def _address(listener: socket.socket | None) -> tuple[str, int] | None:
    if listener is None:
        return None
    host, port = listener.getsockname()[:2]
    return str(host), int(port)


def tcp_socket(host: str, port: int, flag: str = "--listen") -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        shown = f"[{host}]" if ":" in host else host
        raise ValueError(f"{flag} {shown}:{port}: {error.strerror or error}") from error
    listener.listen(BACKLOG)
    return listener


class _Reported(logging.Handler):
    def __init__(self, report: Callable[[str], None]) -> None:
        super().__init__(logging.WARNING)
        self._report = report

    def emit(self, record: logging.LogRecord) -> None:
        self._report(f"control API: {record.getMessage()}")


def _reporting_logger(report: Callable[[str], None]) -> logging.Logger:
    """Hypercorn's error log, said by `up` as its other notes are."""
    logger = logging.Logger("healthdaemons.control", logging.WARNING)
    logger.addHandler(_Reported(report))
    return logger
