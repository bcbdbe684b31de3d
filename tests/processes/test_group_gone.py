"""When a process group is gone: no live member left, zombies not counted.
One reading of /proc (`_process_table`) for the supervisor and the minimal
init, which loads it from its folder when it runs as a script."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import anyio
import pytest

from coordinator import _minimal_init
from coordinator._command_process import wait_group_gone
from coordinator._process_table import group_alive, group_members, read_stat

from .helpers import alive, poll_until

# Every test here, on both ways of running a child (the conftest).
pytestmark = pytest.mark.usefixtures("process_layer")


@contextmanager
def zombie_leader_and_a_live_member() -> Iterator[tuple[int, int]]:
    """A process group whose leader has exited (a zombie, not reaped yet) and
    whose other member, a `sleep`, runs on; its pgid and the member's pid."""
    leader = subprocess.Popen(
        ["sh", "-c", "sleep 60 >/dev/null 2>&1 & echo $!"],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    assert leader.stdout is not None
    member = int(leader.stdout.readline())
    try:
        yield leader.pid, member
    finally:
        if alive(member):
            os.kill(member, signal.SIGKILL)
        leader.stdout.close()
        leader.wait()


def _zombie_or_gone(pid: int) -> bool:
    found = read_stat(pid)
    return found is None or not found.alive


async def test_zombies_do_not_count_as_members() -> None:
    with zombie_leader_and_a_live_member() as (pgid, member):
        await poll_until(lambda: _zombie_or_gone(pgid))
        assert group_alive(pgid)
        assert group_members(pgid) == [member]
        os.kill(member, signal.SIGKILL)
        await poll_until(lambda: _zombie_or_gone(member))
        # Only zombies are left (the leader's, and the member's until this
        # process, its subreaper, reaps it): the group is gone.
        assert not group_alive(pgid)
        assert group_members(pgid) == []


async def test_wait_group_gone_returns_once_no_live_member_is_left() -> None:
    with zombie_leader_and_a_live_member() as (pgid, member):
        gone = anyio.Event()

        async def wait() -> None:
            await wait_group_gone(pgid)
            gone.set()

        async with anyio.create_task_group() as group:
            group.start_soon(wait)
            await anyio.sleep(0.2)
            assert not gone.is_set()  # the member still runs
            os.kill(member, signal.SIGKILL)
            with anyio.fail_after(10):
                await gone.wait()


@pytest.mark.parametrize("arguments", [["--", "true"], ["--term-timeout", "1"]])
def test_the_init_needs_a_term_timeout_and_a_command(arguments: list[str]) -> None:
    assert _minimal_init.main(arguments) == 2


def test_the_init_script_loads_the_process_table_from_its_folder() -> None:
    """As the supervisor runs it: `-I -S`, from another directory, in a session
    of its own (its group is the one it stops); and without the modules that
    would slow its start (`typing` and `dataclasses` take longer than the
    init itself)."""
    script = _minimal_init.__file__
    assert script is not None
    init = [sys.executable, "-I", "-S", "-X", "importtime", script, "--term-timeout", "1"]
    done = subprocess.run(
        [*init, "--", "sh", "-c", "exit 3"],
        cwd="/",
        start_new_session=True,
        capture_output=True,
        timeout=30,
    )
    assert done.returncode == 3
    imported = {line.rpartition("|")[2].strip() for line in done.stderr.decode().splitlines()}
    assert "_process_table" in imported
    assert not imported & {"typing", "dataclasses", "anyio", "coordinator"}
