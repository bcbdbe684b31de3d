"""`up` as PID 1, as in a container: orphans reaped, SIGTERM stops in order.

Run in a new PID namespace (`unshare --pid --fork --mount-proc`), where
`up` is PID 1 and every orphan of the namespace is reparented to it. From
outside, the test sees `up` by its host pid (the child of `unshare`), and
the namespace's processes in its own `/proc`. `reap_orphans` itself is also
tried in this process, which the conftest makes a child subreaper.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import pytest
from anyio.abc import TaskGroup

from coordinator import (
    Command,
    LifecycleState,
    ProcessExited,
    Transitioned,
    load_events,
    reap_orphans,
)
from coordinator._child_process import ChildProcess
from coordinator._command_process import open_session
from coordinator._process_table import read_stat

from .helpers import Collected, children_of, poll_until

COMMAND = str(Path(sys.executable).with_name("healthdaemons"))
UNSHARE = ("unshare", "--pid", "--fork", "--mount-proc")

# `orphaner` leaves a grandchild (a subshell whose parent exits at once)
# that waits for the file `go`, then exits: a zombie of whoever adopted it.
CONFIG = """
[services.base]
command = "echo base up; exec sleep 600"
ready.log_line = "base up"

[services.orphaner]
requires = ["base"]
command = "sh -c '(while [ ! -e {go} ]; do sleep 0.02; done) &'; echo forked; exec sleep 600"
ready.log_line = "forked"
"""


def _unshare_problem() -> str | None:
    if shutil.which("unshare") is None:
        return "no unshare command on this machine"
    try:
        tried = subprocess.run(
            [*UNSHARE, "true"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"unshare failed: {error}"
    if tried.returncode != 0:
        return f"a new PID namespace is not permitted here: {tried.stderr.strip()}"
    return None


def _wait(condition: Callable[[], object], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _ready(record: Path) -> set[str]:
    try:
        events = load_events(record)
    except (OSError, ValueError):
        return set()  # not written yet, or a line half-written
    return {
        e.entry for e in events if isinstance(e, Transitioned) and e.dest is LifecycleState.READY
    }


@pytest.mark.parametrize("name", ["SIGTERM", "SIGINT"])
def test_up_as_pid_1_reaps_orphans_and_stops_in_order_on_a_signal(
    tmp_path: Path, name: str
) -> None:
    problem = _unshare_problem()
    if problem is not None:
        pytest.skip(problem)
    go = tmp_path / "go"
    config = tmp_path / "system.toml"
    config.write_text(CONFIG.format(go=go))
    record = tmp_path / "run.jsonl"
    log = tmp_path / "up.log"
    with log.open("w") as output:
        unshare = subprocess.Popen(
            [*UNSHARE, COMMAND, "up", str(config), "--record", str(record)],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait(lambda: children_of(unshare.pid), "unshare's child")
        (up,) = children_of(unshare.pid)  # PID 1 of the namespace, by its host pid
        _wait(lambda: _ready(record) == {"base", "orphaner"}, "both services ready")

        def orphans() -> list[int]:
            # Adopted by `up`: children of it that lead no session of their own.
            return [p for p in children_of(up) if (s := read_stat(p)) and s.session != p]

        _wait(orphans, "the orphan adopted by up")
        (orphan,) = orphans()
        go.touch()
        # Once it exits, it is reaped: not left as a zombie of PID 1.
        _wait(lambda: read_stat(orphan) is None, f"orphan {orphan} reaped")

        os.kill(up, signal.Signals[name])  # as `docker stop` does, from outside
        code = unshare.wait(timeout=60)
    finally:
        if unshare.poll() is None:
            unshare.kill()
            unshare.wait()
    text = log.read_text()
    assert code == 0, text
    assert f"{name}: stopping in order" in text
    events = load_events(record)
    stopped = [
        e.entry for e in events if isinstance(e, Transitioned) and e.dest is LifecycleState.STOPPED
    ]
    assert stopped == ["orphaner", "base"]
    # Its own children's exits were not stolen by the reaper: each is as it was.
    exited = {e.entry: e for e in events if isinstance(e, ProcessExited)}
    assert {e.description for e in exited.values()} == {"signal SIGTERM"}
    assert all(e.clean for e in exited.values())
    # (The conftest fails the test if anything of the namespace outlived it.)


async def test_reap_orphans_takes_adopted_zombies_but_not_spawned_children() -> None:
    # This process is a child subreaper (the conftest): a subshell's
    # background child, orphaned, is adopted by it.
    async with anyio.create_task_group() as group:
        await reaped_by_their_owner_only(group)


async def reaped_by_their_owner_only(group: TaskGroup) -> None:
    def session(argv: list[str]) -> Awaitable[ChildProcess]:
        outputs = Collected(), Collected()
        return open_session(
            Command(argv), argv, task_group=group, stdout=outputs[0], stderr=outputs[1], name="t"
        )

    ours = await session(["sh", "-c", "exit 7"])
    orphaner = await session(["sh", "-c", "(sleep 0.05 &) ; exit 0"])
    await orphaner.wait()
    await orphaner.aclose()

    def adopted() -> list[int]:
        return [
            p
            for p in children_of(os.getpid())
            if (s := read_stat(p)) and s.session != p and s.session == orphaner.pid
        ]

    await poll_until(lambda: bool(adopted()))
    (orphan,) = adopted()
    await poll_until(lambda: (s := read_stat(orphan)) is not None and s.state == "Z")
    await poll_until(lambda: (s := read_stat(ours.pid)) is None or s.state == "Z")
    assert orphan in reap_orphans()
    assert read_stat(orphan) is None
    assert await ours.wait() == 7  # its exit status is still its owner's
    await ours.aclose()
