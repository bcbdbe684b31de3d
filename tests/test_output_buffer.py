"""The output ring buffers on their own: bounds, drop counts, order, followers, memory.

The same buffers with real processes writing into them are tested in
tests/processes/test_output.py.
"""

from __future__ import annotations

import gc
import tracemalloc

import anyio
import pytest

from coordinator._output_buffer import OutputBuffers, OutputLine


def texts(lines: list[OutputLine]) -> list[str]:
    return [line.text for line in lines]


async def test_the_oldest_lines_go_beyond_the_line_bound_and_are_counted() -> None:
    buffers = OutputBuffers(max_lines=3, max_bytes=None)
    for i in range(10):
        buffers.append("web", "stdout", f"line {i}")
    assert texts(buffers.tail(["web"], None)) == ["line 7", "line 8", "line 9"]
    assert buffers.dropped("web") == 7
    assert texts(buffers.tail(["web"], 2)) == ["line 8", "line 9"]
    assert buffers.tail(["web"], 0) == []
    assert buffers.tail(["db"], None) == []
    assert buffers.dropped("db") == 0


async def test_the_oldest_lines_go_beyond_the_byte_bound() -> None:
    """A line counts its bytes as written, newline included, so even empty
    lines are bounded by bytes alone."""
    buffers = OutputBuffers(max_lines=None, max_bytes=10)
    for text in ("aaaa", "bbbb", "cc"):  # 5 + 5 + 3 bytes
        buffers.append("web", "stdout", text)
    assert texts(buffers.tail(["web"], None)) == ["bbbb", "cc"]
    for _ in range(20):
        buffers.append("web", "stdout", "")
    assert texts(buffers.tail(["web"], None)) == [""] * 10
    assert buffers.dropped("web") == 13
    buffers.append("web", "stdout", "é" * 4)  # 9 bytes in UTF-8
    assert texts(buffers.tail(["web"], None)) == ["", "é" * 4]


async def test_a_line_beyond_the_byte_bound_alone_keeps_its_start() -> None:
    buffers = OutputBuffers(max_lines=None, max_bytes=8)
    buffers.append("web", "stdout", "0123456789")
    buffers.append("db", "stdout", "ééééé")  # cut inside a character: it goes
    assert texts(buffers.tail(["web"], None)) == ["0123456"]
    assert texts(buffers.tail(["db"], None)) == ["ééé"]
    # What a spawn function of the user's own may hand over: a lone surrogate.
    buffers.append("api", "stdout", "\udcff")
    assert texts(buffers.tail(["api"], None)) == ["\udcff"]


@pytest.mark.parametrize(("max_lines", "max_bytes"), [(0, None), (None, 0), (0, 0)])
async def test_a_zero_bound_keeps_nothing_and_counts_everything(
    max_lines: int | None, max_bytes: int | None
) -> None:
    buffers = OutputBuffers(max_lines, max_bytes)
    for _ in range(5):
        buffers.append("web", "stderr", "x")
    assert buffers.tail(["web"], None) == []
    assert buffers.dropped("web") == 5


async def test_lines_of_several_entries_merge_in_time_order() -> None:
    buffers = OutputBuffers(max_lines=100, max_bytes=None)
    buffers.append("db", "stdout", "db 1")
    await anyio.sleep(0.01)
    buffers.append("web", "stderr", "web 1")
    await anyio.sleep(0.01)
    buffers.append("db", "stdout", "db 2")
    buffers.append("web", "stdout", "web 2")  # the same moment on a mock clock
    merged = buffers.tail(["web", "db"], None)
    assert texts(merged) == ["db 1", "web 1", "db 2", "web 2"]
    assert [line.at for line in merged] == sorted(line.at for line in merged)
    assert [line.wall_time for line in merged] == sorted(line.wall_time for line in merged)
    assert [line.stream for line in merged] == ["stdout", "stderr", "stdout", "stdout"]
    assert texts(buffers.tail(["web", "db"], 2)) == ["db 2", "web 2"]
    assert texts(buffers.tail(["web"], None)) == ["web 1", "web 2"]


async def test_a_follower_starts_with_the_latest_lines_then_follows() -> None:
    buffers = OutputBuffers(max_lines=100, max_bytes=None)
    for i in range(3):
        buffers.append("db", "stdout", f"db {i}")
    follower = buffers.follow(["db", "web"], 2)
    buffers.append("web", "stdout", "web 0")
    assert [await anext(follower) for _ in range(3)] == buffers.tail(["db", "web"], 3)

    async def later() -> None:
        await anyio.sleep(1)
        buffers.append("db", "stdout", "db 3")
        buffers.finish()

    async with anyio.create_task_group() as group:
        group.start_soon(later)
        assert texts([line async for line in follower]) == ["db 3"]
    assert follower.lost == 0


async def test_a_follower_behind_the_buffer_skips_ahead_and_counts_what_it_lost() -> None:
    buffers = OutputBuffers(max_lines=10, max_bytes=None)
    everyone = buffers.follow(["db", "web"], 0)
    only_web = buffers.follow(["web"], 0)
    for i in range(25):
        buffers.append("web", "stdout", f"web {i}")
        buffers.append("db", "stdout", f"db {i}")
    # Read one line, then fall further behind while it is being read.
    assert (await anext(only_web)).text == "web 15"
    for i in range(25, 30):
        buffers.append("web", "stdout", f"web {i}")
    buffers.finish()
    rest = texts([line async for line in only_web])
    assert rest == [f"web {i}" for i in range(20, 30)]
    assert only_web.lost == 15 + 4
    # In the order of the merged tail, which is time order.
    assert [line async for line in everyone] == buffers.tail(["db", "web"], None)
    assert everyone.lost == 15 + 20
    # The buffers are as if nobody had followed.
    assert texts(buffers.tail(["web"], None)) == [f"web {i}" for i in range(20, 30)]


async def test_a_follower_hands_over_what_is_ready_without_waiting() -> None:
    """`available` gives the lines `async for` would, in the same order, up to
    a limit, and an empty list rather than waiting."""
    buffers = OutputBuffers(max_lines=10, max_bytes=None)
    follower = buffers.follow(["db", "web"], 0)
    assert follower.available(5) == []
    for i in range(4):
        await anyio.sleep(0.01)
        buffers.append("web" if i % 2 else "db", "stdout", f"line {i}")
    assert texts(follower.available(3)) == ["line 0", "line 1", "line 2"]
    for i in range(4, 20):
        buffers.append("db", "stdout", f"line {i}")
    # db's lines 4 to 9 went before they were read; web's line 3 was kept.
    assert texts(follower.available(5)) == ["line 3", "line 10", "line 11", "line 12", "line 13"]
    assert follower.lost == 6
    buffers.finish()
    assert texts([line async for line in follower]) == [f"line {i}" for i in range(14, 20)]


async def test_a_follower_of_a_finished_system_gives_what_is_left_and_ends() -> None:
    buffers = OutputBuffers(max_lines=10, max_bytes=None)
    buffers.append("db", "stdout", "last words")
    buffers.finish()
    assert texts([line async for line in buffers.follow(["db"], None)]) == ["last words"]
    assert [line async for line in buffers.follow(["db"], 0)] == []


def test_a_full_buffer_stays_within_its_bound_fed_ten_times_as_much() -> None:
    """1 MiB of text plus, per line, about 180 bytes (its `OutputLine`, two
    floats, the text's header, its place in the deque), as docs/guide.md says."""
    max_bytes = 1024 * 1024
    buffers = OutputBuffers(max_lines=None, max_bytes=max_bytes)

    async def feed() -> None:
        # 1,000 bytes a line with its newline, each line its own string.
        for i in range(10 * max_bytes // 1000):
            buffers.append("web", "stdout", f"{i:08d}".ljust(999, "x"))

    anyio.run(anyio.sleep, 0)  # the event loop's own first allocations
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        anyio.run(feed)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    kept = buffers.tail(["web"], None)
    assert len(kept) == max_bytes // 1000
    assert buffers.dropped("web") == 10 * max_bytes // 1000 - len(kept)
    assert held <= max_bytes + len(kept) * 250, held
