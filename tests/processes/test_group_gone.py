"""When a process group is gone: no live member left, zombies not counted.
The supervisor (`group_alive`, `wait_group_gone`) and the minimal init (its
own reading of /proc: it imports nothing but the standard library) agree."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import anyio
import pytest

from coordinator import _minimal_init
from coordinator._command_process import group_alive, read_stat, wait_group_gone

from .helpers import alive, poll_until


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


async def test_the_supervisor_and_the_init_count_a_groups_members_alike() -> None:
    with zombie_leader_and_a_live_member() as (pgid, member):
        await poll_until(lambda: _zombie_or_gone(pgid))
        assert group_alive(pgid)
        assert _minimal_init._group_members(pgid) == [member]
        os.kill(member, signal.SIGKILL)
        await poll_until(lambda: _zombie_or_gone(member))
        # Only zombies are left (the leader's, and the member's until this
        # process, its subreaper, reaps it): the group is gone for both.
        assert not group_alive(pgid)
        assert _minimal_init._group_members(pgid) == []


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
