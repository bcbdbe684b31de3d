"""The output of real commands in each entry's ring buffer: bounds, streams,
timestamps, followers, and the logger that still gets every line."""

from __future__ import annotations

import logging
from pathlib import Path

import anyio
import pytest

from coordinator import Command, Daemons, ExecFn, LifecycleState

from .helpers import always_ready, poll_until, python

# Every test here, on both ways of running a child (the conftest).
pytestmark = pytest.mark.usefixtures("process_layer")

READY = LifecycleState.READY


def logged(caplog: pytest.LogCaptureFixture, entry: str) -> list[str]:
    prefix = f"[{entry}] "
    return [
        r.getMessage().removeprefix(prefix)
        for r in caplog.records
        if r.name == "healthdaemons.output" and r.getMessage().startswith(prefix)
    ]


async def _idle(_: object) -> None:
    await anyio.sleep_forever()


async def test_a_buffer_keeps_the_latest_lines_and_the_logger_gets_every_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="healthdaemons.output")
    system = (
        Daemons.of()
        .add_oneshot("talker", exec=python("for i in range(2000): print(f'line {i}')"))
        .add_daemon("quiet", exec=ExecFn(_idle), ready=always_ready())
    )
    async with system.build(output_lines=500) as running:
        await running.wait_ready(timeout=20)
        kept = running.output("talker")
        assert [line.text for line in kept] == [f"line {i}" for i in range(1500, 2000)]
        assert {(line.entry, line.stream) for line in kept} == {("talker", "stdout")}
        assert [line.at for line in kept] == sorted(line.at for line in kept)
        assert [line.wall_time for line in kept] == sorted(line.wall_time for line in kept)
        assert [line.text for line in running.output("talker", 2)] == ["line 1998", "line 1999"]
        assert running.output("quiet") == []  # an `ExecFn` has no output
        assert running.statistics().output_dropped == {"talker": 1500, "quiet": 0}
    assert logged(caplog, "talker") == [f"line {i}" for i in range(2000)]


async def test_a_buffer_keeps_at_most_its_bytes() -> None:
    """100 characters a line, 101 bytes with the newline: 10,100 bytes hold 100 lines."""
    code = "for i in range(1000): print(f'{i:04d}'.ljust(100, 'x'))"
    system = Daemons.of().add_oneshot("talker", exec=python(code))
    async with system.build(output_bytes=10_100) as running:
        await running.wait_ready(timeout=20)
        kept = [line.text for line in running.output("talker")]
        assert kept == [f"{i:04d}".ljust(100, "x") for i in range(900, 1000)]
        assert running.statistics().output_dropped["talker"] == 900


async def test_both_streams_of_every_entry_in_time_order(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="healthdaemons.output")
    on_stdout: list[str] = []
    system = (
        Daemons.of()
        .add_oneshot("first", exec=Command(r"echo hello; echo there >&2; printf 'bad \377\n'"))
        .add_oneshot(
            "second",
            exec=Command("echo after; echo warning >&2", on_stdout=on_stdout.append),
            requires=["first"],
        )
    )
    async with system.build() as running:
        await running.wait_ready(timeout=20)
        every = running.output()
    assert sorted((line.entry, line.stream, line.text) for line in every) == [
        ("first", "stderr", "there"),
        ("first", "stdout", "bad \ufffd"),
        ("first", "stdout", "hello"),
        ("second", "stderr", "warning"),
        ("second", "stdout", "after"),
    ]
    # `second` ran only once `first` had exited, its output all read.
    assert [line.entry for line in every] == ["first"] * 3 + ["second"] * 2
    assert [line.at for line in every] == sorted(line.at for line in every)
    # The callbacks and the logger get what they got before.
    assert on_stdout == ["after"]
    assert sorted(logged(caplog, "first")) == ["bad \ufffd", "hello", "there"]
    assert logged(caplog, "second") == ["warning"]


def _print_when(trigger: Path, lines: int, then: str) -> Command:
    """Says `before`, then, once `trigger` exists, prints `lines` lines and `then`, and waits."""
    return python(
        "import os, sys, time\n"
        "print('before', flush=True)\n"
        f"while not os.path.exists({str(trigger)!r}): time.sleep(0.01)\n"
        f"for i in range({lines}): print(f'line {{i}}')\n"
        f"print({then!r}, flush=True)\n"
        "time.sleep(1000)\n"
    )


async def test_a_follower_sees_the_lines_printed_after_it_started(tmp_path: Path) -> None:
    trigger = tmp_path / "go"
    system = Daemons.of().add_daemon(
        "web", exec=_print_when(trigger, 0, "after"), ready=always_ready()
    )
    async with system.build() as running:
        await poll_until(lambda: bool(running.output("web")), timeout=20)
        follower = running.follow_output("web")
        everyone = running.follow_output(lines=1)  # every entry, from the latest line on
        trigger.touch()
        with anyio.fail_after(20):
            line = await anext(follower)
            assert (line.entry, line.stream, line.text) == ("web", "stdout", "after")
            assert [(await anext(everyone)).text for _ in range(2)] == ["before", "after"]
        assert follower.lost == everyone.lost == 0
    # The system has stopped: a follower ends.
    with anyio.fail_after(5):
        assert [line async for line in follower] == []


async def test_a_slow_follower_loses_lines_and_nothing_else(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="healthdaemons.output")
    trigger = tmp_path / "go"
    system = Daemons.of().add_daemon(
        "web", exec=_print_when(trigger, 5000, "done"), ready=always_ready()
    )
    async with system.build(output_lines=100) as running:
        await poll_until(lambda: bool(running.output("web")), timeout=20)
        follower = running.follow_output("web")
        trigger.touch()
        # The follower reads nothing while 5,000 lines go by: the pumps went on.
        await poll_until(lambda: running.output("web", 1)[0].text == "done", timeout=20)
        kept = running.output("web")
        assert len(kept) == 100
        with anyio.fail_after(20):
            seen = [await anext(follower) for _ in range(100)]
        assert seen == kept
        assert follower.lost == 5001 - 100  # 5,000 lines and `done`, `before` came earlier
        assert running.state("web") is READY
    assert logged(caplog, "web") == ["before", *(f"line {i}" for i in range(5000)), "done"]
