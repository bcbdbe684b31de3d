"""Bad input and misbehaving services: each is reported, and the rest runs on."""

from __future__ import annotations

import itertools
import os
import stat
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from coordinator import (
    Command,
    Daemons,
    ErrorReported,
    HealthStatus,
    LifecycleState,
    ProcessSpawned,
)
from coordinator._command_process import SpawnError, open_session

from .helpers import Collected, always_ready, exits, pids, poll_until, sleeper, stopped_order

# Every test here, on both ways of running a child (the conftest).
pytestmark = pytest.mark.usefixtures("process_layer")

READY = LifecycleState.READY


def _not_executable(tmp_path: Path) -> str:
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\nexec sleep 1000\n")
    script.chmod(stat.S_IRUSR | stat.S_IWUSR)
    return str(script)


BAD_COMMANDS: dict[str, tuple[Callable[[Path], Command], str]] = {
    "missing program": (
        lambda tmp: Command(["no-such-program-here"]),
        "could not start: no such file or directory: 'no-such-program-here'",
    ),
    "missing program under init": (
        lambda tmp: Command(["no-such-program-here"], run_as_init=True),
        "could not start: no such file or directory: 'no-such-program-here'",
    ),
    "not executable": (
        lambda tmp: Command([_not_executable(tmp)]),
        "could not start: permission denied: '{tmp}/script.sh'",
    ),
    "bad cwd": (
        lambda tmp: Command(["true"], cwd=tmp / "nowhere"),
        "could not start: cwd '{tmp}/nowhere' is not a directory",
    ),
    "unknown user": (
        lambda tmp: Command(["true"], user="no-such-user-here"),
        "could not start: unknown user 'no-such-user-here'",
    ),
}


@pytest.mark.parametrize("case", list(BAD_COMMANDS))
async def test_a_command_that_cannot_start_fails_its_entry_only(tmp_path: Path, case: str) -> None:
    make, message = BAD_COMMANDS[case]
    message = message.format(tmp=tmp_path)
    system = (
        Daemons.of()
        .add_daemon("good", exec=sleeper(), ready=always_ready())
        .add_daemon("bad", exec=make(tmp_path), ready=always_ready("Bad"))
        .add_daemon("after", exec=sleeper(), ready=always_ready(), requires=["bad"])
    )
    async with system.build() as running:
        assert await running.wait_until(
            lambda: (
                running.health("bad") is not None
                and running.health("bad").result is HealthStatus.STARTING  # type: ignore[union-attr]
                and running.state("good") is READY
            ),
            10,
        )
        health = running.health("bad")
        assert health is not None
        assert health.message == f"bad daemon {message}"
        errors = [e.message for e in running.history if isinstance(e, ErrorReported)]
        assert message in errors
        assert running.state("after") is LifecycleState.WAITING
        assert not pids(running.history, "bad")
        with anyio.fail_after(10):
            await running.term()
    assert stopped_order(running.history)[-1] in ("good", "bad")


async def test_running_as_another_user_needs_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    async with anyio.create_task_group() as group:
        with pytest.raises(SpawnError, match="cannot run as user 'nobody': that needs root"):
            await open_session(
                Command(["id"], user="nobody"),
                ["id"],
                task_group=group,
                stdout=Collected(),
                stderr=Collected(),
                name="t",
            )


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")
async def test_user_drops_privileges() -> None:
    lines: list[str] = []
    command = Command('id -u; echo "$HOME $USER"', user="nobody", on_stdout=lines.append)
    system = Daemons.of().add_oneshot("as-nobody", exec=command)
    async with system.build() as running:
        await running.wait_ready(timeout=10)
    assert lines[0] == "65534"
    assert lines[1].endswith(" nobody")


async def test_a_crash_loop_backs_off_exponentially() -> None:
    system = Daemons.of().add_daemon("crasher", exec=Command("exit 3"), ready=always_ready())
    async with system.build() as running:

        def spawns() -> list[float]:
            return [
                e.at
                for e in running.history
                if isinstance(e, ProcessSpawned) and e.entry == "crasher"
            ]

        assert await running.wait_until(lambda: len(spawns()) >= 4, 15)
        times = spawns()
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    # 0, 1, 2 s between spawns; lower bounds exact, upper bounds generous.
    assert gaps[0] < 0.5
    assert 1.0 <= gaps[1] < 1.8
    assert 2.0 <= gaps[2] < 2.8
    assert exits(running.history, "crasher")[0].description == "exit code 3"


async def test_max_restarts_ends_in_giving_up() -> None:
    system = Daemons.of().add_daemon(
        "crasher", exec=Command("exit 3"), ready=always_ready("Crasher"), max_restarts=1
    )
    async with system.build() as running:
        assert await running.wait_until(
            lambda: (
                running.state("crasher") is LifecycleState.FAILING
                and len(exits(running.history, "crasher")) == 2
            ),
            10,
        )
        health = running.health("crasher")
        assert health is not None
        assert health.message == "gave up after 1 restarts"


async def test_a_oneshot_is_retried_and_gates_its_dependent(tmp_path: Path) -> None:
    marker = tmp_path / "tried"
    flaky = Command(f"if [ -e {marker} ]; then exit 0; else touch {marker}; exit 1; fi")
    system = (
        Daemons.of()
        .add_oneshot("migrate", exec=flaky)
        .add_daemon("api", exec=sleeper(), ready=always_ready(), requires=["migrate"])
    )
    async with system.build() as running:
        await running.wait_ready(timeout=10)
    history = running.history
    assert [e.description for e in exits(history, "migrate")] == ["exit code 1", "exit code 0"]
    ready_at = next(
        i
        for i, e in enumerate(history)
        if e.entry == "migrate" and getattr(e, "dest", None) is READY
    )
    launched_at = next(
        i
        for i, e in enumerate(history)
        if e.entry == "api" and getattr(e, "dest", None) is LifecycleState.STARTING
    )
    assert ready_at < launched_at


async def test_a_flood_of_output_never_blocks_the_service_or_the_supervisor() -> None:
    lines = 0

    def count(_: str) -> None:
        nonlocal lines
        lines += 1

    system = (
        Daemons.of()
        .add_daemon("chatty", exec=Command(["yes", "flood"], on_stdout=count), ready=always_ready())
        .add_oneshot("no-newlines", exec=Command("head -c 1000000 /dev/zero", on_stdout=count))
    )
    async with system.build() as running:
        await running.wait_ready(timeout=10)
        await poll_until(lambda: lines > 100_000, 20)
        with anyio.fail_after(10):
            await running.term()
    assert exits(running.history, "chatty")[-1].clean


async def test_cut_lines_of_a_flood_without_newlines_are_delivered_in_pieces() -> None:
    pieces: list[int] = []
    command = Command(
        "head -c 200000 /dev/zero | tr '\\0' x", on_stdout=lambda s: pieces.append(len(s))
    )
    system = Daemons.of().add_oneshot("blob", exec=command)
    async with system.build() as running:
        await running.wait_ready(timeout=10)
    assert sum(pieces) == 200_000
    assert max(pieces) == 64 * 1024


async def test_a_raising_output_callback_is_reported_once() -> None:
    def broken(_: str) -> None:
        raise RuntimeError("no thanks")

    system = Daemons.of().add_oneshot("talker", exec=Command("echo a; echo b", on_stdout=broken))
    async with system.build() as running:
        await running.wait_ready(timeout=10)
    errors = [e.message for e in running.history if isinstance(e, ErrorReported)]
    assert errors == ["on_stdout failed: RuntimeError('no thanks')"]


async def test_term_ends_a_backoff_sleep_at_once() -> None:
    system = Daemons.of().add_daemon("crasher", exec=Command("exit 3"), ready=always_ready())
    async with system.build() as running:
        # Exits 1 and 2 come at once and after 1 s; then a 2 s backoff starts.
        assert await running.wait_until(lambda: len(exits(running.history, "crasher")) == 3, 10)
        started = anyio.current_time()
        await running.term()
        assert anyio.current_time() - started < 1.5
    assert len(exits(running.history, "crasher")) == 3
