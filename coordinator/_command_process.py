"""Operating-system processes: spawned in their own session, stopped as a group.

Each command becomes the leader of a new session and process group
(`start_new_session`), so signals go to the group, and a service that runs
`kill -TERM 0` reaches only its own tree. A process counts as gone when its
leader has exited and no live member of its group is left: zombies that a
non-reaping PID 1 keeps around do not count.
"""

from __future__ import annotations

import errno
import logging
import os
import pwd
import resource
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import anyio
import anyio.abc
from anyio.abc import TaskGroup

from ._announced import Announcement, LogLineReadiness, NotifyReadiness
from ._child_process import ChildProcess, OutputSink, spawn_child
from ._command import Command
from ._defaults import OUTPUT_TAIL_TIMEOUT
from ._log_file import LogWriter
from ._orphans import note_spawned
from ._output_buffer import OutputStream
from ._process_handle import ExitStatus
from ._process_table import children, group_alive, read_stat
from ._programs import program_problem
from ._stop_signal import resolve_stop_signal, signal_name
from ._subcontainer import SubContainer

__all__ = [
    "OUTPUT_LOGGER",
    "CommandProcess",
    "SpawnError",
    "SpawnSettings",
    "open_session",
    "wait_group_gone",
]

OUTPUT_LOGGER = logging.getLogger("healthdaemons.output")
"""Where a command's output lines go, at INFO as `[id] line`, when it has no
`on_stdout` / `on_stderr` callback (`healthdaemons up` prints them from here);
each record's `stream` attribute says `stdout` or `stderr`."""
INIT_SCRIPT = str(Path(__file__).with_name("_minimal_init.py"))
MAX_LINE = 64 * 1024
"""Longer lines are cut into pieces, so a flood without newlines stays bounded."""


class SpawnError(Exception):
    """A command could not be started; the text says why, for the entry's health."""


@dataclass(frozen=True, slots=True)
class SpawnSettings:
    """What a spawn needs from the system and the entry, besides the command."""

    entry_id: str
    task_group: TaskGroup
    report_error: Callable[[str], None]
    announcement: Announcement | None = None
    on_ready: Callable[[str | None], None] | None = None
    subcontainer: SubContainer | None = None
    guard_fd: int | None = None
    on_output: Callable[[OutputStream, str], None] | None = None
    """Receives every line of both outputs (the entry's ring buffer), besides
    the logger or the command's own callbacks."""


class CommandProcess:
    """A running `Command`, as a `ProcessHandle`."""

    def __init__(
        self,
        command: Command,
        settings: SpawnSettings,
        via_init: bool,
        notify_dir: str | None,
        log: LogWriter | None = None,
    ) -> None:
        self._child: ChildProcess | None = None
        self._log = log
        self.pid: int | None = None
        self.sigterm_timeout = command.sigterm_timeout
        self._stop_signal = resolve_stop_signal(command.stop_signal)
        self._settings = settings
        self._via_init = via_init
        self._notify_dir = notify_dir
        self._notify_socket: anyio.abc.UNIXDatagramSocket | None = None
        self._sent: set[int] = set()
        self._returncode: int | None = None
        self._gone = False
        self._announced = False
        self._open_outputs = 2
        self._outputs_done = anyio.Event()

    @classmethod
    async def start(cls, command: Command, settings: SpawnSettings) -> CommandProcess:
        """Spawn `command`; raises `SpawnError` with a readable reason."""
        argv = command.argv
        if settings.subcontainer is not None:
            try:
                argv = settings.subcontainer.wrap(argv)
            except Exception as error:  # user code: this entry cannot start, the rest runs on
                raise SpawnError(repr(error)) from error
            if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv) or not argv:
                raise SpawnError(f"subcontainer.wrap returned {argv!r}, not a list of strings")
        via_init = command.run_as_init or settings.guard_fd is not None
        notify_dir = None
        notify_socket = None
        extra_env = {}
        log = _open_log(command)
        try:
            if isinstance(settings.announcement, NotifyReadiness):
                notify_dir = _short_temporary_directory()
                path = os.path.join(notify_dir, "notify")
                try:
                    notify_socket = await anyio.create_unix_datagram_socket(local_path=path)
                    _hand_over(notify_dir, path, command.user)
                except OSError as error:
                    raise SpawnError(f"cannot create NOTIFY_SOCKET {path!r}: {error}") from error
                extra_env["NOTIFY_SOCKET"] = path
            handle = cls(command, settings, via_init, notify_dir, log)
            handle._child = await open_session(
                command,
                argv,
                task_group=settings.task_group,
                stdout=_Lines(handle, "stdout", command.on_stdout),
                stderr=_Lines(handle, "stderr", command.on_stderr),
                name=f"healthdaemons:{settings.entry_id}",
                extra_env=extra_env,
                via_init=via_init,
                guard_fd=settings.guard_fd,
            )
            handle.pid = handle._child.pid
        except SpawnError:
            if notify_socket is not None:
                await notify_socket.aclose()
            _remove(notify_dir)
            if log is not None:
                log.close()
            raise
        if notify_socket is not None:
            handle._notify_socket = notify_socket
            settings.task_group.start_soon(
                handle._listen, notify_socket, name=f"healthdaemons:{settings.entry_id}:notify"
            )
        return handle

    @property
    def running(self) -> bool:
        return not self._gone

    @property
    def _process(self) -> ChildProcess:
        assert self._child is not None  # (from `start` on)
        return self._child

    async def wait(self) -> ExitStatus:
        """Wait for the leader to exit; its exit code or signal, and whether it was clean."""
        if self._returncode is None:
            self._returncode = await self._process.wait()
            if not group_alive(self._process.pid):
                await self._finish()
        return self._classify(self._returncode)

    def when_ended(self, callback: Callable[[], None]) -> None:
        """Call back once the leader has exited: when `wait` would return."""
        self._process.when_ended(callback)

    async def wait_gone(self) -> None:
        await self.wait()
        if not self._gone:
            await wait_group_gone(self._process.pid)
        await self._finish()

    def terminate(self) -> str:
        # Under the init, only the init is told: it forwards to the command,
        # then stops the rest of the group itself.
        leader_only = self._via_init and self._returncode is None
        stop = self._stop_signal
        sent = self._signal(stop.number, group=not leader_only)
        if sent == stop.name:
            # A stopped process sees the SIGTERM only once continued.
            self._signal(signal.SIGCONT, group=True)
        return sent

    def kill(self) -> str:
        return self._signal(signal.SIGKILL, group=True)

    def stopped(self) -> str | None:
        """Why the process cannot be serving if it is stopped (SIGSTOP, SIGTSTP), else `None`.

        Looks at the leader and, under the init, at the init's children in
        its group (the command): a few small reads, no scan of `/proc`.
        """
        if self._gone:
            return None
        leader = self._process.pid
        pids = [leader, *children(leader)] if self._via_init else [leader]
        for pid in pids:
            found = read_stat(pid)
            # (A tracing stop, "t", is a debugger's business, and brief under strace.)
            if found is not None and found.pgrp == leader and found.state == "T":
                return f"process {pid} is stopped (SIGSTOP)"
        return None

    def _signal(self, number: int, group: bool) -> str:
        name = signal_name(number)
        self._sent.add(number)
        if not self._gone:
            try:
                if group:
                    os.killpg(self._process.pid, number)
                else:
                    os.kill(self._process.pid, number)
            except ProcessLookupError:
                pass
            except PermissionError:
                # Something in the group changed its user (setuid, sudo).
                self._settings.report_error(
                    f"{name} to process group {self._process.pid} was not permitted"
                )
                return f"{name} (not permitted)"
        return name

    def _classify(self, returncode: int) -> ExitStatus:
        if returncode >= 0:
            return ExitStatus(returncode, returncode == 0, f"exit code {returncode}")
        number = -returncode
        return ExitStatus(returncode, number in self._sent, f"signal {signal_name(number)}")

    async def _finish(self) -> None:
        if self._gone:
            return
        self._gone = True
        process = self._process
        if process.returncode is not None and self._outputs_done.is_set() and not self._notify_dir:
            # The usual stop: nothing left to wait for, so no shield to pay
            # for (3 to 9 us a stop). A child's `aclose` shields its own
            # closing: at most a cancellation could come, once it is closed.
            await process.aclose()
            return
        with anyio.CancelScope(shield=True):
            if not self._outputs_done.is_set():  # (usually it is: a scope less per stop)
                with anyio.move_on_after(OUTPUT_TAIL_TIMEOUT):
                    await self._outputs_done.wait()
            await self._process.aclose()
            if self._notify_socket is not None:
                await self._notify_socket.aclose()
            _remove(self._notify_dir)

    # Output and announcements.

    def _write_log(self, write: Callable[..., None], *line: str) -> None:
        """A write or flush of the log file; one that fails is reported, and
        the file closed: the lines go on to the buffers and the logger."""
        assert self._log is not None
        try:
            write(*line)
        except OSError as error:
            path = self._log.path
            self._log = None
            reason = (error.strerror or str(error)).lower()
            self._settings.report_error(
                f"log file {path}: cannot write: {reason}; no more lines go there"
            )

    async def _listen(self, socket: anyio.abc.UNIXDatagramSocket) -> None:
        status: str | None = None
        try:
            async for packet, _ in socket:
                ready = False
                for field in packet.decode(errors="replace").splitlines():
                    key, _, value = field.partition("=")
                    if key == "STATUS":
                        status = value
                    elif key == "READY" and value == "1":
                        ready = True
                if ready:
                    self._announce(status)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass

    def _announce(self, message: str | None) -> None:
        if not self._announced and self._settings.on_ready is not None:
            self._announced = True
            self._settings.on_ready(message)


class _Lines:
    """One output of a command, cut into lines for the entry's buffer, its
    log file, its readiness pattern and its callback (or the logger)."""

    __slots__ = ("_buffer", "_callback", "_failed", "_matcher", "_name", "_owner")

    def __init__(
        self,
        owner: CommandProcess,
        name: OutputStream,
        callback: Callable[[str], object] | None,
    ) -> None:
        announcement = owner._settings.announcement
        self._owner = owner
        self._name: OutputStream = name
        self._callback = callback
        self._matcher = (
            announcement
            if isinstance(announcement, LogLineReadiness) and announcement.watches(name)
            else None
        )
        self._failed = False
        self._buffer = bytearray()

    def write(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        start = 0
        while (end := buffer.find(b"\n", start)) >= 0:
            self._deliver(buffer[start:end])
            start = end + 1
        del buffer[:start]
        while len(buffer) > MAX_LINE:
            self._deliver(buffer[:MAX_LINE])
            del buffer[:MAX_LINE]
        owner = self._owner
        if owner._log is not None:
            owner._write_log(owner._log.flush)

    def close(self) -> None:
        if self._buffer:
            self._deliver(self._buffer)
            self._buffer = bytearray()
        owner = self._owner
        owner._open_outputs -= 1
        if not owner._open_outputs:
            if owner._log is not None:
                owner._write_log(owner._log.flush)
                owner._log.close()
            owner._outputs_done.set()

    def _deliver(self, raw: bytes | bytearray) -> None:
        owner = self._owner
        settings = owner._settings
        name = self._name
        line = raw.decode(errors="replace").rstrip("\r")
        if settings.on_output is not None:
            settings.on_output(name, line)
        if owner._log is not None:
            owner._write_log(owner._log.write, name, line)
        if self._matcher is not None and self._matcher.pattern.search(line):
            self._matcher = None
            owner._announce(line)
        callback = self._callback
        if callback is None:
            OUTPUT_LOGGER.info("[%s] %s", settings.entry_id, line, extra={"stream": name})
            return
        try:
            callback(line)
        except Exception as error:
            if not self._failed:  # once per stream: a broken callback must not flood events
                self._failed = True
                settings.report_error(f"on_{name} failed: {error!r}")


def _open_log(command: Command) -> LogWriter | None:
    if command.log is None:
        return None
    try:
        return LogWriter.open(command.log)
    except OSError as error:
        path = os.fspath(command.log.path)
        raise SpawnError(f"cannot open log file {path!r}: {_describe_os_error(error)}") from error


async def open_session(
    command: Command,
    argv: list[str],
    *,
    task_group: TaskGroup,
    stdout: OutputSink,
    stderr: OutputSink,
    name: str,
    extra_env: Mapping[str, str] | None = None,
    via_init: bool = False,
    guard_fd: int | None = None,
) -> ChildProcess:
    """Start `argv` with `command`'s environment, directory and user, in a new
    session, stdin from /dev/null and both outputs going to `stdout` and
    `stderr` (read in `task_group`, as `name`). Raises `SpawnError`.

    Call it shielded from cancellation: a spawn cut short could leave a
    child nobody knows of.
    """
    env = dict(os.environ)
    # The supervisor's own notify socket belongs to its own supervisor.
    env.pop("NOTIFY_SOCKET", None)
    env.update(command.env or {})
    env.update(extra_env or {})
    account = _account(command, env)
    cwd = os.fspath(command.cwd) if command.cwd is not None else None
    if cwd is not None and not os.path.isdir(cwd):  # noqa: ASYNC240 (a stat, no I/O wait)
        raise SpawnError(f"cwd {cwd!r} is not a directory")
    if via_init:
        _require_program(argv[0], env, cwd, account)
        init = [sys.executable, "-I", "-S", INIT_SCRIPT]
        init += ["--term-timeout", repr(command.sigterm_timeout)]
        init += ["--stop-signal", str(resolve_stop_signal(command.stop_signal).number)]
        if guard_fd is not None:
            init += ["--guard", str(guard_fd)]
        if account is not None:
            # The init keeps this process's user, whose Python the service's
            # user may not be allowed to run; it drops privileges for the
            # command alone.
            groups = os.getgrouplist(account.pw_name, account.pw_gid)
            init += ["--uid", str(account.pw_uid), "--gid", str(account.pw_gid)]
            init += ["--groups", ",".join(map(str, groups))]
            account = None
        argv = [*init, "--", *argv]
    try:
        process = await spawn_child(
            argv,
            cwd=cwd,
            env=env,
            pass_fds=() if guard_fd is None else (guard_fd,),
            user=None if account is None else account.pw_uid,
            group=None if account is None else account.pw_gid,
            extra_groups=(
                None if account is None else os.getgrouplist(account.pw_name, account.pw_gid)
            ),
            stdout=stdout,
            stderr=stderr,
            task_group=task_group,
            name=name,
        )
    except OSError as error:
        raise SpawnError(_describe_os_error(error)) from error
    except ValueError as error:  # what validation cannot see: say, a NUL in the environment
        raise SpawnError(str(error)) from error
    note_spawned(process.pid, process)  # not an orphan for `reap_orphans` to take
    return process


async def wait_group_gone(pgid: int) -> None:
    """Wait until no live process is left in group `pgid`.

    Polled, more slowly as it lasts (2 ms doubling to 50 ms): a process
    group has no exit to wait for, and its members may not be our children.
    """
    delay = 0.002
    while group_alive(pgid):
        await anyio.sleep(delay)
        delay = min(delay * 2, 0.05)


def _account(command: Command, env: dict[str, str]) -> pwd.struct_passwd | None:
    """The account to run as (filling in its HOME, USER and LOGNAME), or `None`."""
    user = command.user
    if user is None:
        return None
    try:
        account = pwd.getpwuid(user) if isinstance(user, int) else pwd.getpwnam(user)
    except KeyError:
        raise SpawnError(f"unknown user {user!r}") from None
    euid = os.geteuid()
    if euid != 0 and account.pw_uid != euid:
        raise SpawnError(f"cannot run as user {user!r}: that needs root, and this is uid {euid}")
    given = command.env or {}
    for name, value in (
        ("HOME", account.pw_dir),
        ("USER", account.pw_name),
        ("LOGNAME", account.pw_name),
    ):
        if name not in given:
            env[name] = value
    return account


def _require_program(
    program: str,
    env: Mapping[str, str],
    cwd: str | None,
    account: pwd.struct_passwd | None = None,
) -> None:
    """Fail as the spawn itself would, before the init hides it behind exit
    code 127: the init runs as this process's user, the program as `account`."""
    problem = program_problem(
        program, search_path=env.get("PATH", os.defpath), cwd=cwd, account=account
    )
    if problem is not None:
        raise SpawnError(problem)


def _describe_os_error(error: OSError) -> str:
    if error.errno == errno.EMFILE:
        limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        return f"too many open files (limit {limit}): raise the limit (ulimit -n)"
    if error.errno == errno.ENFILE:
        return "too many open files in the system: raise the limit (sysctl fs.file-max)"
    if error.errno == errno.EAGAIN:
        limit = resource.getrlimit(resource.RLIMIT_NPROC)[0]
        if limit == resource.RLIM_INFINITY:
            return "too many processes: the cgroup's pids.max or kernel.pid_max allows no more"
        return f"too many processes (limit {limit}): raise the limit (ulimit -u)"
    reason = (error.strerror or str(error)).lower()
    if error.filename is not None:
        return f"{reason}: {os.fsdecode(error.filename)!r}"
    return reason


def _short_temporary_directory() -> str:
    """A private directory whose socket path fits in a `sockaddr_un` (108 bytes)."""
    directory = tempfile.mkdtemp(prefix="healthdaemons-")
    if len(directory) > 90 and os.path.isdir("/tmp"):
        os.rmdir(directory)
        directory = tempfile.mkdtemp(prefix="healthdaemons-", dir="/tmp")
    return directory


def _hand_over(directory: str, socket_path: str, user: str | int | None) -> None:
    """Let a command that runs as `user` reach the socket (the directory is 0700)."""
    if user is None:
        return
    try:
        account = pwd.getpwuid(user) if isinstance(user, int) else pwd.getpwnam(user)
    except KeyError:
        return  # the spawn itself reports the unknown user
    for path in (directory, socket_path):
        os.chown(path, account.pw_uid, account.pw_gid)


def _remove(directory: str | None) -> None:
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)
