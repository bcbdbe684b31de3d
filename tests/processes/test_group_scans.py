"""`group_alive` with many groups at once: one scan of /proc answers for all
the groups it saw, never wrongly (a member forked after it, a group it never saw)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from coordinator import _process_table
from coordinator._process_table import ProcessStat, group_alive, read_stat

GROUPS = 20
LEAVES_A_MEMBER = "sleep 60 >/dev/null 2>&1 & echo $!"


def _zombie_or_gone(pid: int) -> bool:
    found = read_stat(pid)
    return found is None or not found.alive


def _wait_until(condition: Callable[[int], bool], pid: int) -> None:
    """Poll a condition about /proc, at most 10 s (no event announces it)."""
    deadline = time.monotonic() + 10
    while not condition(pid):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


@contextmanager
def groups_of_a_leader_and_a_member(
    count: int, stdin: int | None = None, script: str = LEAVES_A_MEMBER
) -> Iterator[tuple[list[tuple[subprocess.Popen[str], int | None]], list[int]]]:
    """Leaders (shells, not reaped) each leaving a `sleep` in its group, and
    the members' pids, to which a test adds those it learns later: with
    `stdin`, the shells wait for a line before they start it (member `None`)."""
    made: list[tuple[subprocess.Popen[str], int | None]] = []
    members: list[int] = []
    try:
        for _ in range(count):
            leader = subprocess.Popen(
                ["sh", "-c", script],
                stdin=stdin,
                stdout=subprocess.PIPE,
                start_new_session=True,
                text=True,
            )
            member = None
            if stdin is None:
                assert leader.stdout is not None
                member = int(leader.stdout.readline())
                members.append(member)
            made.append((leader, member))
        yield made, members
    finally:
        for leader, _ in made:
            if leader.stdin is not None:
                leader.stdin.close()
            assert leader.stdout is not None
            leader.stdout.close()
        for member in members:
            # Orphans: this process is their subreaper (the conftest).
            try:
                os.kill(member, signal.SIGKILL)
                os.waitpid(member, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        for leader, _ in made:
            leader.kill()
            leader.wait()


@pytest.fixture
def scans(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the scans of /proc: one item per scan."""
    counted: list[int] = []
    scan = _process_table.all_processes

    def counting() -> Iterator[ProcessStat]:
        counted.append(1)
        return scan()

    monkeypatch.setattr(_process_table, "all_processes", counting)
    return counted


def test_one_scan_answers_for_every_group_left_with_zombies(scans: list[int]) -> None:
    with groups_of_a_leader_and_a_member(GROUPS + 1) as (made, _):
        *ending, (kept, kept_member) = made
        for leader, _ in made:
            _wait_until(_zombie_or_gone, leader.pid)
        for _, member in ending:
            assert member is not None
            os.kill(member, signal.SIGKILL)
        for _, member in ending:
            assert member is not None
            _wait_until(_zombie_or_gone, member)
        # The leader's zombie, and the member's until it is reaped: gone.
        assert [group_alive(leader.pid) for leader, _ in ending] == [False] * GROUPS
        assert group_alive(kept.pid)
        assert len(scans) == 1  # was one a group
        assert kept_member is not None
        os.kill(kept_member, signal.SIGKILL)
        _wait_until(_zombie_or_gone, kept_member)
        # The member seen alive has ended: only a new scan can tell.
        assert not group_alive(kept.pid)
        assert len(scans) == 2


def test_a_member_forked_after_the_scan_is_found(scans: list[int]) -> None:
    script = "read line; " + LEAVES_A_MEMBER
    with groups_of_a_leader_and_a_member(1, stdin=subprocess.PIPE, script=script) as (
        made,
        members,
    ):
        [(leader, _)] = made
        assert group_alive(leader.pid)  # the shell, waiting for its line
        assert leader.stdin is not None and leader.stdout is not None
        leader.stdin.write("go\n")
        leader.stdin.flush()
        member = int(leader.stdout.readline())
        members.append(member)
        _wait_until(_zombie_or_gone, leader.pid)
        assert group_alive(leader.pid)  # the sleep, which the first scan never saw
        os.kill(member, signal.SIGKILL)
        _wait_until(_zombie_or_gone, member)
        assert not group_alive(leader.pid)
        assert len(scans) == 3
