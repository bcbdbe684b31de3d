"""Child processes of commands and scripts: spawned, then read and reaped by
one task for all the children of a task group.

On Linux with pidfds, a child is spawned with `subprocess.Popen`; its pidfd
and its two output pipes (non-blocking) go into one epoll set shared by every
child spawned into the same task group, three descriptors per child. One task
waits on that set, reads whatever output is ready, hands it to the child's
sinks, and reaps the children that exited with `waitid(P_PIDFD)`; it ends
once no child is left to watch, and the next spawn starts another. So a
system's daemons cost no task each, and a script check (its own task group)
one task, as before. anyio's process API costs several times more per
process: on asyncio 3.11 a `waitpid` thread per child, and on both backends a
task, a stream and a few callbacks per pipe (docs/performance.md).

The set is shared per task group, not per event loop: its task then runs
where the caller's children are read, so cancelling that group stops reading
them (each can still be waited for) and touches no other group's children,
and nothing outlives the groups that started it.

Where `os.pidfd_open` is missing (ENOSYS: an old kernel) or refused (EPERM:
a seccomp filter), children go through anyio's process API instead, the
same sinks fed by a task per pipe. The kernel is asked once per process.
"""

from __future__ import annotations

import errno
import functools
import logging
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

DRAIN_CHUNKS = 16
"""At most this many chunks are read from each output of a child that has
exited, before it is reaped: 1 MiB, the largest pipe buffer by default
(`/proc/sys/fs/pipe-max-size`), so what the child wrote comes before its exit
while a grandchild that writes on cannot hold the reader."""

READER_NAME = "healthdaemons:children"
"""The task that reads and reaps the children of one task group."""

_EXITED_FOR_NOBODY = 255
"""The exit code of a child that something else reaped (as asyncio's watchers say)."""

_LOGGER = logging.getLogger("healthdaemons.process")
"""Where an output sink or an exit callback that failed is reported: the
reader goes on for the other children (and this one's other output)."""


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
    both outputs piped to `stdout` and `stderr`; it is read in `task_group`,
    by the one task that reads every child spawned there (on anyio's layer,
    by tasks of its own, named `name`). Raises `OSError` or `ValueError` as
    `Popen` does.

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
    try:
        for sink in (stdout, stderr):
            reading, writing = os.pipe2(os.O_CLOEXEC)
            os.set_blocking(reading, False)
            outputs[reading] = sink
            ends.append(writing)

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
        raise
    finally:
        for fd in ends:
            os.close(fd)
        ends.clear()
    pidfd = -1
    try:
        pidfd = os.pidfd_open(popen.pid)
        # Looked up after the spawn: the reader may have ended meanwhile.
        reader = _reader_of(task_group)
        return _PidfdChild(popen, pidfd, outputs, reader)
    except BaseException:
        # (EMFILE, say) Not to be left running unwatched.
        _kill_and_reap(popen)
        for fd in [*outputs, pidfd]:
            if fd >= 0:
                os.close(fd)
        raise


_READERS: dict[TaskGroup, _Reader] = {}
"""The reader of each task group, while it has children to watch."""


def _reader_of(task_group: TaskGroup) -> _Reader:
    reader = _READERS.get(task_group)
    if reader is None:
        reader = _Reader(task_group)
        try:
            task_group.start_soon(reader.serve, name=READER_NAME)
        except BaseException:  # (a task group that has ended)
            reader.close()
            raise
        _READERS[task_group] = reader
    return reader


class _Reader:
    """The epoll set of every child read in one task group (their pidfds and
    pipes), and what its task does when something is ready: the outputs go
    to their sinks, and the children that exited are reaped."""

    __slots__ = ("_dispatching", "_epoll", "_group", "_watched")

    def __init__(self, group: TaskGroup) -> None:
        self._epoll = select.epoll()
        self._group = group
        self._watched: dict[int, _PidfdChild] = {}
        """Every descriptor in the set, and whose it is."""
        self._dispatching = False

    def watch(self, child: _PidfdChild, fds: Sequence[int]) -> None:
        """Put `fds` of `child` in the set: all of them, or none (then raises)."""
        done: list[int] = []
        try:
            for fd in fds:
                self._epoll.register(fd, select.EPOLLIN)
                done.append(fd)
                self._watched[fd] = child
        except BaseException:
            for fd in done:
                self.unwatch(fd)
            raise

    def unwatch(self, fd: int) -> None:
        """Take `fd` out of the set, before it is closed.

        Explicitly: a copy of it in a child being forked meanwhile would keep
        it in the set after the close. The last one out wakes the task to end.
        """
        del self._watched[fd]
        self._epoll.unregister(fd)
        if not self._watched and not self._dispatching:
            self.close()

    def close(self) -> None:
        """No more children here: the task ends (woken if it waits), and the
        next spawn into the group starts another."""
        if _READERS.get(self._group) is self:
            del _READERS[self._group]
        if not self._epoll.closed:
            anyio.notify_closing(self._epoll.fileno())
            self._epoll.close()

    async def serve(self) -> None:
        """Wait on the set and dispatch what is ready, until no child is left
        or the task group is cancelled."""
        epoll = self._epoll
        try:
            while self._watched and not epoll.closed:
                try:
                    await anyio.wait_readable(epoll.fileno())
                except anyio.ClosedResourceError:  # the last child left
                    return
                if epoll.closed:  # (the same, once this task was woken already)
                    return
                self._dispatching = True
                try:
                    self._dispatch(epoll.poll(0))
                finally:
                    self._dispatching = False
        finally:
            self._stop()

    def _dispatch(self, ready: list[tuple[int, int]]) -> None:
        watched = self._watched
        exited: list[_PidfdChild] = []
        # The outputs first: what a child wrote comes before its exit.
        for fd, _ in ready:
            child = watched.get(fd)
            if child is None:  # (closed by an earlier one of this batch)
                continue
            if fd == child.pidfd:
                exited.append(child)
            else:
                try:
                    child.read(fd)
                except Exception:
                    self._drop(child)
        for child in exited:
            if watched.get(child.pidfd) is child:  # (not dropped meanwhile)
                try:
                    child.exited()
                except Exception:
                    self._drop(child)

    def _drop(self, child: _PidfdChild) -> None:
        """What cannot happen did (say, a descriptor closed behind our back):
        this child is no longer read, as if its reader had stopped, and can
        still be waited for; the others are read on."""
        _LOGGER.exception("process %d: reading it failed; no longer read", child.pid)
        for fd in [fd for fd, owner in self._watched.items() if owner is child]:
            del self._watched[fd]
            try:
                self._epoll.unregister(fd)
            except OSError:
                pass
        try:
            child.unread()
        except Exception:
            _LOGGER.exception("process %d: closing its outputs failed", child.pid)

    def _stop(self) -> None:
        """The task ends: the children still here are no longer read (each
        output's sink closed), and each can still be waited for."""
        children = list(dict.fromkeys(self._watched.values()))
        self._watched.clear()
        self.close()
        for child in children:
            child.unread()


class _PidfdChild:
    """A child watched through its pidfd, its pipes read by its task group's `_Reader`."""

    __slots__ = (
        "__weakref__",
        "_ended",
        "_ended_callback",
        "_outputs",
        "_popen",
        "_reader",
        "pid",
        "pidfd",
        "returncode",
    )

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        pidfd: int,
        outputs: dict[int, OutputSink],
        reader: _Reader,
    ) -> None:
        self.pid = popen.pid
        self.returncode: int | None = None
        # Held until reaped: dropped before, its `__del__` would reap the child itself.
        self._popen: subprocess.Popen[bytes] | None = popen
        self.pidfd = pidfd
        self._outputs = outputs
        reader.watch(self, [pidfd, *outputs])
        self._reader: _Reader | None = reader
        """While the reader watches a descriptor of this child: until it is
        reaped and its outputs have ended, or until the reader stops."""
        self._ended: anyio.Event | None = None
        """Set once reaped, or once the reader has stopped (then `wait` reaps
        by itself); made by the first `wait` that needs it (a supervisor told
        by `when_ended` needs none: three objects fewer for the collector)."""
        self._ended_callback: Callable[[], None] | None = None

    def when_ended(self, callback: Callable[[], None]) -> None:
        if self.returncode is not None:
            callback()
        else:
            self._ended_callback = callback

    async def wait(self) -> int:
        if self.returncode is None and self._reader is not None:
            if self._ended is None:
                self._ended = anyio.Event()
            await self._ended.wait()
        while self.returncode is None:
            await anyio.wait_readable(self.pidfd)
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

    # Called by the reader.

    def read(self, fd: int) -> bool:
        """Read a chunk of output `fd` into its sink; whether one came (more may)."""
        try:
            data = os.read(fd, CHUNK)
        except BlockingIOError:
            return False
        except OSError:
            data = b""
        if not data:
            self._close_output(fd)
            return False
        try:
            self._outputs[fd].write(data)
        except Exception:
            _LOGGER.exception("output of process %d: its sink failed; no longer read", self.pid)
            self._close_output(fd)
            return False
        return True

    def exited(self) -> None:
        """Its pidfd is readable: what is left in its pipes, then its exit."""
        for fd in list(self._outputs):
            for _ in range(DRAIN_CHUNKS):
                if not self.read(fd):
                    break
        self._reap()

    def unread(self) -> None:
        """The reader has stopped: the outputs end here, and `wait` reaps by itself."""
        self._reader = None
        self._close_outputs()
        if self._ended is not None:
            self._ended.set()

    # Inner workings.

    def _close_output(self, fd: int) -> None:
        sink = self._outputs.pop(fd)
        self._unwatch(fd)
        os.close(fd)
        try:
            sink.close()
        except Exception:
            _LOGGER.exception("output of process %d: its sink failed to close", self.pid)

    def _close_outputs(self) -> None:
        for fd in list(self._outputs):
            self._close_output(fd)

    def _unwatch(self, fd: int) -> None:
        reader = self._reader
        if reader is not None:
            if not self._outputs and self.returncode is not None:
                self._reader = None  # (its last descriptor there)
            reader.unwatch(fd)

    def _reap(self) -> None:
        try:
            result = os.waitid(os.P_PIDFD, self.pidfd, os.WEXITED | os.WNOHANG)
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
        self._unwatch(self.pidfd)
        os.close(self.pidfd)
        self.pidfd = -1
        if self._ended is not None:
            self._ended.set()
        callback, self._ended_callback = self._ended_callback, None
        if callback is not None:
            try:
                callback()
            except Exception:
                _LOGGER.exception("process %d: its exit callback failed", self.pid)

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
