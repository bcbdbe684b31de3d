"""The process layer itself: a child spawned, its outputs read, its exit reaped,
and nothing of it left (descriptors, tasks); on pidfds and on the fallback."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from anyio.abc import TaskGroup

from coordinator import _child_process
from coordinator._child_process import ChildProcess, pidfd_works, spawn_child

from .helpers import Collected, poll_until

ROOT = Path(__file__).parents[2]


def open_fds() -> set[int]:
    return {int(name) for name in os.listdir("/proc/self/fd")}


@pytest.fixture
def no_descriptor_left() -> Iterator[None]:
    before = open_fds()
    yield
    # (A descriptor the event loop opened meanwhile, its wake-up pipe say, would
    # be there from the start: the loop runs before the fixture.)
    assert open_fds() <= before


async def spawn(
    group: TaskGroup, script: str, stdout: Collected, stderr: Collected
) -> ChildProcess:
    return await spawn_argv(group, ["sh", "-c", script], stdout, stderr)


async def spawn_argv(
    group: TaskGroup, argv: list[str], stdout: Collected, stderr: Collected
) -> ChildProcess:
    return await spawn_child(
        argv,
        cwd=None,
        env=os.environ,
        pass_fds=(),
        user=None,
        group=None,
        extra_groups=None,
        stdout=stdout,
        stderr=stderr,
        task_group=group,
        name="test",
    )


@pytest.mark.usefixtures("process_layer", "no_descriptor_left")
@pytest.mark.parametrize(
    ("script", "returncode"),
    [("exit 3", 3), ("exit 0", 0), ("kill -TERM $$", -signal.SIGTERM), ("kill -9 $$", -9)],
)
async def test_a_child_gives_its_outputs_then_its_exit(script: str, returncode: int) -> None:
    stdout, stderr = Collected(), Collected()
    async with anyio.create_task_group() as group:
        child = await spawn(group, f"printf 'out\\nput'; printf err >&2; {script}", stdout, stderr)
        assert child.returncode is None or child.returncode == returncode
        assert await child.wait() == returncode
        assert child.returncode == returncode
        await poll_until(lambda: bool(stdout.closed and stderr.closed))
        await child.aclose()
        assert await child.wait() == returncode  # (again: the same)
    assert (bytes(stdout.data), bytes(stderr.data)) == (b"out\nput", b"err")
    assert (stdout.closed, stderr.closed) == (1, 1)


@pytest.mark.usefixtures("process_layer", "no_descriptor_left")
async def test_when_ended_calls_back_once_the_child_is_reaped() -> None:
    """What lets the supervisor check an entry in the task that waits for it."""
    stdout, stderr = Collected(), Collected()
    ended: list[int | None] = []
    async with anyio.create_task_group() as group:
        child = await spawn(group, "exec sleep 1000", stdout, stderr)
        child.when_ended(lambda: ended.append(child.returncode))
        await anyio.sleep(0.05)
        assert ended == []  # still running
        os.kill(child.pid, signal.SIGTERM)
        await poll_until(lambda: bool(ended))
        assert ended == [-signal.SIGTERM]
        child.when_ended(lambda: ended.append(child.returncode))  # at once, now
        assert ended == [-signal.SIGTERM] * 2
        await child.aclose()
    assert ended == [-signal.SIGTERM] * 2


@pytest.mark.usefixtures("process_layer", "no_descriptor_left")
async def test_a_spawn_that_fails_leaves_no_descriptor() -> None:
    stdout, stderr = Collected(), Collected()
    async with anyio.create_task_group() as group:
        with pytest.raises(FileNotFoundError):
            await spawn_argv(group, ["/nonexistent/program"], stdout, stderr)
    assert (stdout.closed, stderr.closed) == (0, 0)


@pytest.mark.usefixtures("process_layer", "no_descriptor_left")
async def test_outputs_held_by_what_the_child_left_are_closed_by_aclose() -> None:
    stdout, stderr = Collected(), Collected()
    async with anyio.create_task_group() as group:
        child = await spawn(group, "echo before; sleep 1000 & echo $! >&2", stdout, stderr)
        assert await child.wait() == 0
        await poll_until(lambda: stderr.data.endswith(b"\n"))
        left = int(stderr.data)
        try:
            assert not stdout.closed  # the `sleep` holds the pipes open
            await child.aclose()
            assert (stdout.closed, stderr.closed) == (1, 1)
        finally:
            os.kill(left, signal.SIGKILL)
    # The task group ended: nothing reads any more.
    assert bytes(stdout.data) == b"before\n"


@pytest.mark.usefixtures("process_layer", "no_descriptor_left")
async def test_a_cancelled_close_kills_the_child() -> None:
    stdout, stderr = Collected(), Collected()
    async with anyio.create_task_group() as group:
        child = await spawn(group, "exec sleep 1000", stdout, stderr)
        with anyio.move_on_after(0.1):
            await child.aclose()
        assert child.returncode == -signal.SIGKILL


@pytest.mark.usefixtures("no_descriptor_left")
async def test_a_child_whose_reader_was_cancelled_is_still_reaped(process_layer: str) -> None:
    stdout, stderr = Collected(), Collected()
    ended: list[int | None] = []
    async with anyio.create_task_group() as outer:
        async with anyio.create_task_group() as group:
            child = await spawn(group, "exec sleep 1000", stdout, stderr)
            child.when_ended(lambda: ended.append(child.returncode))
            await anyio.sleep(0.01)
            group.cancel_scope.cancel()
        assert (stdout.closed, stderr.closed) == (1, 1)
        assert ended == []  # not reaped yet: no call back
        os.kill(child.pid, signal.SIGTERM)
        with anyio.fail_after(10):
            assert await child.wait() == -signal.SIGTERM
        if process_layer == "pidfd":  # (anyio's calls back from a task of the group)
            assert ended == [-signal.SIGTERM]
        await child.aclose()
        outer.cancel_scope.cancel()


def reader_tasks() -> int:
    return sum(task.name == _child_process.READER_NAME for task in anyio.get_running_tasks())


async def test_children_cost_no_task_no_thread_and_three_descriptors_each() -> None:
    """anyio's layer: a task per pipe, and on asyncio 3.11 a thread per child;
    the pidfd layer: one task and one epoll set for all the children of a group."""
    assert pidfd_works()
    children: list[ChildProcess] = []
    tasks = len(anyio.get_running_tasks())
    async with anyio.create_task_group() as group:
        # The first spawn starts the worker thread that every spawn then uses,
        # and the reader of the group, with its epoll set.
        children.append(await spawn(group, "exec sleep 1000", Collected(), Collected()))
        await anyio.sleep(0.01)
        assert len(anyio.get_running_tasks()) == tasks + 1
        assert reader_tasks() == 1
        threads = len(os.listdir("/proc/self/task"))
        fds = len(open_fds())
        for _ in range(5):
            children.append(await spawn(group, "exec sleep 1000", Collected(), Collected()))
        await anyio.sleep(0.01)
        assert len(anyio.get_running_tasks()) == tasks + 1
        assert len(os.listdir("/proc/self/task")) == threads
        assert len(open_fds()) - fds == 5 * 3  # two pipes and a pidfd
        for child in children:
            os.kill(child.pid, signal.SIGKILL)
        for child in children:
            assert await child.wait() == -signal.SIGKILL
            await child.aclose()


@pytest.mark.usefixtures("no_descriptor_left")
async def test_many_children_share_one_reader_each_output_before_its_exit() -> None:
    count = 60
    outputs = [(Collected(), Collected()) for _ in range(count)]
    seen_at_exit: dict[int, tuple[bytes, bytes]] = {}
    async with anyio.create_task_group() as group:
        children: list[ChildProcess] = []
        for i, (stdout, stderr) in enumerate(outputs):
            # Some say more than a pipe holds: read while the child runs.
            size = 100_000 if i % 10 == 0 else 10
            script = f"head -c {size} /dev/zero; printf 'e{i}' >&2; exit {i}"
            child = await spawn(group, script, stdout, stderr)

            def ended(i: int = i, stdout: Collected = stdout, stderr: Collected = stderr) -> None:
                seen_at_exit[i] = (bytes(stdout.data), bytes(stderr.data))

            child.when_ended(ended)
            children.append(child)
        assert reader_tasks() == 1
        with anyio.fail_after(30):
            codes = [await child.wait() for child in children]
            await poll_until(lambda: reader_tasks() == 0)
    assert codes == list(range(count))
    for i, (stdout, stderr) in enumerate(outputs):
        size = 100_000 if i % 10 == 0 else 10
        assert seen_at_exit[i] == (b"\0" * size, f"e{i}".encode())
        assert (stdout.closed, stderr.closed) == (1, 1)


class FailingSink(Collected):
    def __init__(self, fail_in: str) -> None:
        super().__init__()
        self.fail_in = fail_in
        self.writes = 0

    def write(self, data: bytes) -> None:
        super().write(data)
        self.writes += 1
        if self.fail_in == "write":
            raise RuntimeError("broken sink")

    def close(self) -> None:
        super().close()
        if self.fail_in == "close":
            raise RuntimeError("broken sink")


@pytest.mark.usefixtures("no_descriptor_left")
async def test_one_childs_broken_pipe_or_sink_leaves_the_others_read(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    broken_fds: set[int] = set()
    real_read = os.read

    def read(fd: int, size: int) -> bytes:
        if fd in broken_fds:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real_read(fd, size)

    monkeypatch.setattr(os, "read", read)
    quiet_out, quiet_err = Collected(), Collected()
    async with anyio.create_task_group() as group:
        # Watched all along, by the same reader as the broken ones.
        quiet = await spawn(
            group, "trap 'echo bye; exit 5' TERM; sleep 1000 & wait", quiet_out, quiet_err
        )
        ended: list[int | None] = []
        quiet.when_ended(lambda: ended.append(quiet.returncode))
        broken: list[tuple[ChildProcess, Collected, set[int]]] = []
        failing = [FailingSink("write"), FailingSink("close")]
        # (A pipe no longer read is closed: a write to it then gets SIGPIPE.)
        for sink, codes in zip(failing, [{4, -signal.SIGPIPE}, {4}], strict=True):
            child = await spawn(group, "echo one; sleep 0.01; echo two; exit 4", sink, Collected())
            broken.append((child, sink, codes))
        eio = Collected()
        child = await spawn(group, "echo lost; exec sleep 1000", eio, Collected())
        broken_fds.update(child._outputs)  # type: ignore[attr-defined]
        broken.append((child, eio, {-signal.SIGTERM}))
        await poll_until(lambda: bool(eio.closed))
        os.kill(child.pid, signal.SIGTERM)
        with anyio.fail_after(10):
            for child, output, codes in broken:
                assert await child.wait() in codes
                await poll_until(lambda output=output: bool(output.closed))  # type: ignore[misc]
                await child.aclose()
                assert output.closed == 1
        assert ended == []  # the quiet child is still read, and not yet reaped
        assert reader_tasks() == 1
        os.killpg(quiet.pid, signal.SIGTERM)
        await poll_until(lambda: bool(ended))
        await quiet.aclose()
    assert ended == [5]
    assert (bytes(quiet_out.data), quiet_out.closed, quiet_err.closed) == (b"bye\n", 1, 1)
    assert failing[0].writes == 1  # no more after it failed
    assert bytes(failing[1].data) == b"one\ntwo\n"
    assert bytes(broken[2][1].data) == b""
    failures = [r.getMessage() for r in caplog.records if r.name == "healthdaemons.process"]
    assert failures == [
        f"output of process {broken[0][0].pid}: its sink failed; no longer read",
        f"output of process {broken[1][0].pid}: its sink failed to close",
    ]


@pytest.mark.usefixtures("no_descriptor_left")
async def test_a_child_whose_reaping_fails_is_dropped_and_can_still_be_waited_for(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """What cannot happen (a descriptor closed behind the reader's back, say)
    costs that child its reader, and no other child theirs."""
    failing: set[int] = set()
    real_waitid = os.waitid

    def waitid(idtype: int, ident: int, options: int) -> object:
        if ident in failing:
            failing.discard(ident)  # once
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        return real_waitid(idtype, ident, options)

    monkeypatch.setattr(os, "waitid", waitid)
    other_out = Collected()
    async with anyio.create_task_group() as group:
        other = await spawn(group, "exec sleep 1000", other_out, Collected())
        stdout = Collected()
        child = await spawn(group, "exec sleep 1000", stdout, Collected())
        failing.add(child.pidfd)  # type: ignore[attr-defined]
        os.kill(child.pid, signal.SIGTERM)
        await poll_until(lambda: bool(stdout.closed))  # dropped: its outputs end
        assert child.returncode is None
        with anyio.fail_after(10):
            assert await child.wait() == -signal.SIGTERM  # reaped by itself
            await child.aclose()
            assert reader_tasks() == 1  # the other child's
            assert not other_out.closed
            os.kill(other.pid, signal.SIGTERM)
            assert await other.wait() == -signal.SIGTERM
            await other.aclose()
    failures = [r.getMessage() for r in caplog.records if r.name == "healthdaemons.process"]
    assert failures == [f"process {child.pid}: reading it failed; no longer read"]


@pytest.mark.usefixtures("no_descriptor_left")
async def test_the_reader_ends_when_its_last_child_is_gone() -> None:
    async with anyio.create_task_group() as group:
        for _ in range(2):  # the next spawn starts another reader
            first = await spawn(group, "exit 0", Collected(), Collected())
            second = await spawn(group, "exec sleep 1000", Collected(), Collected())
            assert reader_tasks() == 1
            with anyio.fail_after(10):
                assert await first.wait() == 0
                await first.aclose()
                assert reader_tasks() == 1  # (for the second)
                os.kill(second.pid, signal.SIGTERM)
                # Reaped, and its outputs ended, by the reader: its last child.
                await poll_until(lambda: reader_tasks() == 0)
                assert second.returncode == -signal.SIGTERM
                await second.aclose()


@pytest.mark.usefixtures("no_descriptor_left")
async def test_the_reader_ends_when_its_last_child_is_closed_by_another_task() -> None:
    """Reaped, but its outputs held by what it left: the close comes from
    outside the reader, which is waiting, and must end."""
    stderr = Collected()
    async with anyio.create_task_group() as group:
        child = await spawn(group, "sleep 1000 & echo $! >&2", Collected(), stderr)
        with anyio.fail_after(10):
            assert await child.wait() == 0
            await poll_until(lambda: stderr.data.endswith(b"\n"))
            try:
                assert reader_tasks() == 1
                await child.aclose()
                await poll_until(lambda: reader_tasks() == 0)
            finally:
                os.kill(int(stderr.data), signal.SIGKILL)


def test_without_pidfds_children_go_through_anyio(monkeypatch: pytest.MonkeyPatch) -> None:
    for number in (errno.ENOSYS, errno.EPERM):

        def refused(pid: int, flags: int = 0, number: int = number) -> int:
            raise OSError(number, os.strerror(number))

        monkeypatch.setattr(os, "pidfd_open", refused)
        assert pidfd_works.__wrapped__() is False
    # Not for want of descriptors: that says nothing of the kernel.
    monkeypatch.setattr(os, "pidfd_open", _fails(errno.EMFILE))
    with pytest.raises(OSError, match="Too many open files"):
        pidfd_works.__wrapped__()
    monkeypatch.delattr(os, "pidfd_open")
    assert pidfd_works.__wrapped__() is False


async def test_the_fallback_is_anyios_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_child_process, "pidfd_works", lambda: False)
    async with anyio.create_task_group() as group:
        child = await spawn(group, "exit 0", Collected(), Collected())
        assert isinstance(child, _child_process._AnyioChild)
        assert await child.wait() == 0
        await child.aclose()


@pytest.mark.usefixtures("no_descriptor_left")
async def test_a_child_whose_pidfd_cannot_be_had_is_killed_and_reaped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert pidfd_works()  # (asked before the failure comes)
    spawned: list[int] = []
    real_popen = subprocess.Popen

    def popen(*args: object, **kwargs: object) -> subprocess.Popen[bytes]:
        process = real_popen(*args, **kwargs)  # type: ignore[call-overload]
        spawned.append(process.pid)
        return process  # type: ignore[no-any-return]

    monkeypatch.setattr(subprocess, "Popen", popen)
    monkeypatch.setattr(os, "pidfd_open", _fails(errno.EMFILE))
    async with anyio.create_task_group() as group:
        with pytest.raises(OSError, match="Too many open files"):
            await spawn(group, "exec sleep 1000", Collected(), Collected())
    (pid,) = spawned
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # noqa: ASYNC222 (reaped already: no wait)


def _fails(number: int) -> object:
    def fail(pid: int, flags: int = 0) -> int:
        raise OSError(number, os.strerror(number))

    return fail


@pytest.mark.parametrize("layer", ["pidfd", "anyio"])
def test_a_spawn_out_of_descriptors_says_which_limit_to_raise(layer: str) -> None:
    script = textwrap.dedent(
        f"""
        import anyio, os, resource
        from coordinator import Command
        from coordinator import _child_process
        from coordinator._command_process import SpawnError, open_session
        if {layer == "anyio"}:
            _child_process.pidfd_works = lambda: False

        class Sink:
            def write(self, data): pass
            def close(self): pass

        async def main():
            async with anyio.create_task_group() as group:
                used = len(os.listdir("/proc/self/fd"))
                hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
                resource.setrlimit(resource.RLIMIT_NOFILE, (used + 1, hard))
                try:
                    await open_session(Command("true"), ["true"], task_group=group,
                                       stdout=Sink(), stderr=Sink(), name="t")
                except SpawnError as error:
                    print(error)

        anyio.run(main)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("too many open files (limit "), result.stdout
    assert result.stdout.strip().endswith("): raise the limit (ulimit -n)"), result.stdout
