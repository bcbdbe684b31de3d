"""Child processes of commands and scripts: spawned, read and reaped with one task each.

On Linux with pidfds, a child is spawned with `subprocess.Popen` and
watched through an epoll set of its own holding its pidfd and its two
output pipes (non-blocking). The event loop waits on that one descriptor,
so the exit and every chunk of output wake one task, which reaps with
`waitid(P_PIDFD)` and hands the chunks to the output sinks as they come.
anyio's process API costs several times more per process: on asyncio 3.11
a `waitpid` thread per child, and on both backends a task, a stream and a
few callbacks per pipe (docs/performance.md).

Where `os.pidfd_open` is missing (ENOSYS: an old kernel) or refused (EPERM:
a seccomp filter), children go through anyio's process API instead, the
same sinks fed by a task per pipe. The kernel is asked once per process.
"""

from __future__ import annotations

import errno
import functools
import os
import select
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import anyio
import anyio.abc
import anyio.to_thread
from anyio.abc import ByteReceiveStream, TaskGroup

__all__ = ["ChildProcess", "OutputSink", "pidfd_works", "spawn_child"]

CHUNK = 64 * 1024
"""Bytes read from a pipe at a time (as anyio's streams do)."""

_EXITED_FOR_NOBODY = 255
"""The exit code of a child that something else reaped (as asyncio's watchers say)."""


class OutputSink(Protocol):
    """Where one output of a child goes, chunk by chunk, then its end."""

    def write(self, data: bytes) -> None: ...

    def close(self) -> None:
        """The output has ended (end of file, or no longer read); called once."""
        ...


class ChildProcess(Protocol):
    """A spawned child, whose outputs go to sinks while it runs."""

    pid: int

    @property
    def returncode(self) -> int | None:
        """Its exit code, or minus the signal that ended it; `None` until it is reaped."""
        ...

    async def wait(self) -> int:
        """Wait until it has exited and is reaped; its return code."""
        ...

    def when_ended(self, callback: Callable[[], None]) -> None:
        """Call `callback` once it has exited and is reaped (at once if it
        has already): so a task can do other work meanwhile, not only `wait`."""
        ...

    async def aclose(self) -> None:
        """Stop reading its outputs (each sink is closed) and wait until it is
        reaped: stop it first. If cancelled meanwhile, it is killed."""
        ...


@functools.cache
def pidfd_works() -> bool:
    """Whether children can be watched through pidfds here (asked once, on this process's pid)."""
    if not (hasattr(os, "pidfd_open") and hasattr(os, "P_PIDFD") and hasattr(select, "epoll")):
        return False
    try:
        probe = os.pidfd_open(os.getpid())
    except OSError as error:
        if error.errno in (errno.EMFILE, errno.ENFILE, errno.ENOMEM):
            raise  # says nothing of the kernel: not to be remembered
        return False  # ENOSYS, EPERM (seccomp), EINVAL
    os.close(probe)
    return True


async def spawn_child(
    argv: Sequence[str],
    *,
    cwd: str | None,
    env: Mapping[str, str],
    pass_fds: Sequence[int],
    user: int | None,
    group: int | None,
    extra_groups: list[int] | None,
    stdout: OutputSink,
    stderr: OutputSink,
    task_group: TaskGroup,
    name: str,
) -> ChildProcess:
    """Start `argv` as the leader of a new session, stdin from /dev/null and
    both outputs piped to `stdout` and `stderr`; its reading runs in
    `task_group`, as `name`. Raises `OSError` or `ValueError` as `Popen` does.

    Call it shielded from cancellation: a spawn cut short could leave a
    child nobody knows of.
    """
    # The same for both layers, but for where the outputs go.
    options: dict[str, Any] = {
        "stdin": subprocess.DEVNULL,
        "cwd": cwd,
        "env": env,
        "start_new_session": True,
        "pass_fds": pass_fds,
        "user": user,
        "group": group,
        "extra_groups": extra_groups,
    }
    if not pidfd_works():
        process = await anyio.open_process(
            list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, **options
        )
        return _AnyioChild(process, stdout, stderr, task_group, name)
    outputs: dict[int, OutputSink] = {}
    ends: list[int] = []
    epoll = None
    try:
        for sink in (stdout, stderr):
            reading, writing = os.pipe2(os.O_CLOEXEC)
            os.set_blocking(reading, False)
            outputs[reading] = sink
            ends.append(writing)
        epoll = select.epoll()

        def spawn() -> subprocess.Popen[bytes]:
            return subprocess.Popen(list(argv), stdout=ends[0], stderr=ends[1], **options)

        # In a worker thread: the exec of one child then overlaps the next
        # spawn and the loop's own work (200 daemons ready 3x sooner than
        # with every spawn in the loop, on a busy 2-core machine). Shielded:
        # a child spawned for a cancelled caller would be left unwatched.
        with anyio.CancelScope(shield=True):
            popen = await anyio.to_thread.run_sync(spawn)
    except BaseException:
        for fd in outputs:
            os.close(fd)
        if epoll is not None:
            epoll.close()
        raise
    finally:
        for fd in ends:
            os.close(fd)
        ends.clear()
    try:
        pidfd = os.pidfd_open(popen.pid)
    except OSError:
        # (EMFILE, say) Not to be left running unwatched.
        _kill_and_reap(popen)
        for fd in outputs:
            os.close(fd)
        epoll.close()
        raise
    child = _PidfdChild(popen, pidfd, epoll, outputs)
    task_group.start_soon(child.serve, name=name)
    return child


class _PidfdChild:
    """A child watched through its pidfd, its pipes read by one task (`serve`)."""

    __slots__ = (
        "__weakref__",
        "_ended",
        "_ended_callback",
        "_epoll",
        "_outputs",
        "_pidfd",
        "_popen",
        "_serving",
        "pid",
        "returncode",
    )

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        pidfd: int,
        epoll: select.epoll,
        outputs: dict[int, OutputSink],
    ) -> None:
        self.pid = popen.pid
        self.returncode: int | None = None
        # Held until reaped: dropped before, its `__del__` would reap the child itself.
        self._popen: subprocess.Popen[bytes] | None = popen
        self._pidfd = pidfd
        self._epoll = epoll
        self._outputs = outputs
        epoll.register(pidfd, select.EPOLLIN)
        for fd in outputs:
            epoll.register(fd, select.EPOLLIN)
        self._serving = True
        self._ended = anyio.Event()
        """Set once reaped, or once `serve` has stopped (then `wait` reaps by itself)."""
        self._ended_callback: Callable[[], None] | None = None

    async def serve(self) -> None:
        """Read the outputs until their end and reap the child, as things happen."""
        epoll = self._epoll
        try:
            while (self._outputs or self.returncode is None) and not epoll.closed:
                try:
                    await anyio.wait_readable(epoll.fileno())
                except anyio.ClosedResourceError:  # `aclose`
                    return
                if epoll.closed:  # (by `aclose`, once this task was woken already)
                    return
                ready = epoll.poll(0)
                # The outputs first: what the child wrote comes before its exit.
                for fd, _ in ready:
                    if fd in self._outputs:
                        self._read(fd)
                if self.returncode is None and any(fd == self._pidfd for fd, _ in ready):
                    self._reap()
        finally:
            self._serving = False
            self._close_outputs()
            epoll.close()
            self._end()

    def when_ended(self, callback: Callable[[], None]) -> None:
        if self._ended.is_set():
            callback()
        else:
            self._ended_callback = callback

    def _end(self) -> None:
        self._ended.set()
        callback, self._ended_callback = self._ended_callback, None
        if callback is not None:
            callback()

    async def wait(self) -> int:
        if self.returncode is None and self._serving:
            await self._ended.wait()
        while self.returncode is None:
            await anyio.wait_readable(self._pidfd)
            self._reap()
        return self.returncode

    async def aclose(self) -> None:
        self._close_outputs()
        try:
            await self.wait()
        except BaseException:
            self._kill()
            with anyio.CancelScope(shield=True):
                await self.wait()
            raise
        finally:
            if self._serving and not self._epoll.closed:
                anyio.notify_closing(self._epoll.fileno())
                self._epoll.close()

    def _read(self, fd: int) -> None:
        try:
            data = os.read(fd, CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self._outputs[fd].write(data)
        else:
            self._close_output(fd)

    def _close_output(self, fd: int) -> None:
        sink = self._outputs.pop(fd)
        os.close(fd)  # (which takes it out of the epoll set)
        sink.close()

    def _close_outputs(self) -> None:
        for fd in list(self._outputs):
            self._close_output(fd)

    def _reap(self) -> None:
        try:
            result = os.waitid(os.P_PIDFD, self._pidfd, os.WEXITED | os.WNOHANG)
        except ChildProcessError:
            returncode = _EXITED_FOR_NOBODY
        else:
            if result is None:
                return  # not yet
            status = result.si_status
            returncode = status if result.si_code == os.CLD_EXITED else -status
        self.returncode = returncode
        if self._popen is not None:
            self._popen.returncode = returncode
            self._popen = None
        os.close(self._pidfd)  # (which takes it out of the epoll set)
        self._pidfd = -1
        self._end()

    def _kill(self) -> None:
        if self.returncode is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _kill_and_reap(popen: subprocess.Popen[bytes]) -> None:
    """Stop a child just spawned, at once (it can have done nothing yet)."""
    try:
        os.killpg(popen.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    popen.wait()


class _AnyioChild:
    """A child through anyio's process API: where pidfds cannot be had."""

    __slots__ = ("__weakref__", "_name", "_process", "_task_group", "pid")

    def __init__(
        self,
        process: anyio.abc.Process,
        stdout: OutputSink,
        stderr: OutputSink,
        task_group: TaskGroup,
        name: str,
    ) -> None:
        self._process = process
        self.pid = process.pid
        self._task_group = task_group
        self._name = name
        assert process.stdout is not None
        assert process.stderr is not None
        task_group.start_soon(_pump, process.stdout, stdout, name=name)
        task_group.start_soon(_pump, process.stderr, stderr, name=name)

    @property
    def returncode(self) -> int | None:
        return self._process.returncode

    async def wait(self) -> int:
        return await self._process.wait()

    def when_ended(self, callback: Callable[[], None]) -> None:
        if self._process.returncode is not None:
            callback()
        else:
            # anyio reaps only in `wait`: a task of its own waits (this layer
            # is the fallback where pidfds cannot be had).
            self._task_group.start_soon(self._call_when_ended, callback, name=self._name)

    async def _call_when_ended(self, callback: Callable[[], None]) -> None:
        await self._process.wait()
        callback()

    async def aclose(self) -> None:
        await self._process.aclose()


async def _pump(stream: ByteReceiveStream, sink: OutputSink) -> None:
    try:
        async for chunk in stream:
            sink.write(chunk)
    except (anyio.ClosedResourceError, anyio.BrokenResourceError):
        pass
    finally:
        sink.close()
