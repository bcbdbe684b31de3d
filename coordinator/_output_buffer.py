"""The recent output of each entry: a ring buffer per entry, and its followers.

Each buffer keeps the latest lines of one entry, bounded both by a number
of lines and by their bytes, dropping the oldest (and counting them). A
follower is a cursor into the buffers, not a queue of its own: it holds no
line that the buffers have let go, so a reader that falls behind costs no
memory, never slows the pumps that append, and learns how many lines it
lost. Lines are numbered per entry from the start (`dropped + position`),
which is what the cursors count.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import anyio
import anyio.lowlevel

__all__ = ["OutputBuffers", "OutputFollower", "OutputLine", "OutputStream"]

OutputStream = Literal["stdout", "stderr"]


@dataclass(frozen=True, slots=True)
class OutputLine:
    """One line an entry's command wrote, without its line ending."""

    at: float
    """When it was read, on the clock of the events (`anyio.current_time()`)."""
    wall_time: float
    """The same moment as seconds since the epoch (`time.time()`), for display."""
    entry: str
    stream: OutputStream
    text: str
    """As the pumps decode it: undecodable bytes become U+FFFD, and a line
    longer than 64 KiB comes in pieces."""


def _size(text: str) -> int:
    """The line's bytes as written, its newline included: empty lines count too."""
    return (len(text) if text.isascii() else len(text.encode(errors="surrogatepass"))) + 1


class _Buffer:
    """The latest lines of one entry."""

    __slots__ = ("bytes", "dropped", "lines", "rank")

    def __init__(self, rank: int) -> None:
        self.lines: deque[OutputLine] = deque()
        self.bytes = 0
        self.dropped = 0
        """Lines let go to keep within the bounds, since the start."""
        self.rank = rank
        """Its place among the buffers: the order of lines read at the same moment."""

    @property
    def end(self) -> int:
        """The number the next line will get."""
        return self.dropped + len(self.lines)

    def tail(self, count: int) -> list[OutputLine]:
        count = min(count, len(self.lines))
        return list(itertools.islice(reversed(self.lines), count))[::-1]


class OutputBuffers:
    """The output buffers of one running system, created at an entry's first line."""

    __slots__ = ("_buffers", "_changed", "_finished", "max_bytes", "max_lines")

    def __init__(self, max_lines: int | None, max_bytes: int | None) -> None:
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self._buffers: dict[str, _Buffer] = {}
        self._changed: anyio.Event | None = None
        self._finished = False

    def append(self, entry_id: str, stream: OutputStream, text: str) -> None:
        """Keep a line of `entry_id`'s output, letting the oldest go if need be."""
        buffer = self._buffers.get(entry_id)
        if buffer is None:
            buffer = self._buffers[entry_id] = _Buffer(len(self._buffers))
        max_bytes = self.max_bytes
        if max_bytes == 0 or self.max_lines == 0:
            buffer.dropped += 1
            self._notify()
            return
        size = _size(text)
        if max_bytes is not None and size > max_bytes:
            # Alone beyond the bound: its start is kept, as much as fits.
            cut = text.encode(errors="surrogatepass")[: max_bytes - 1]
            text = cut.decode(errors="ignore")
            size = _size(text)
        line = OutputLine(anyio.current_time(), time.time(), entry_id, stream, text)
        lines = buffer.lines
        lines.append(line)
        buffer.bytes += size
        max_lines = self.max_lines
        while (max_lines is not None and len(lines) > max_lines) or (
            max_bytes is not None and buffer.bytes > max_bytes
        ):
            buffer.bytes -= _size(lines.popleft().text)
            buffer.dropped += 1
        self._notify()

    def dropped(self, entry_id: str) -> int:
        """How many of the entry's oldest lines were let go to keep within the bounds."""
        buffer = self._buffers.get(entry_id)
        return 0 if buffer is None else buffer.dropped

    def tail(self, entry_ids: Iterable[str], count: int | None) -> list[OutputLine]:
        """The latest `count` lines (all kept if `None`) of these entries, oldest first."""
        buffers = sorted(self._select(entry_ids), key=_rank)
        if count is None:
            count = sum(len(buffer.lines) for buffer in buffers)
        if len(buffers) == 1:
            return buffers[0].tail(count)
        # Stable: lines read at the same moment come in the order of the buffers.
        merged = list(heapq.merge(*(buffer.tail(count) for buffer in buffers), key=_at))
        return merged[len(merged) - min(count, len(merged)) :]

    def follow(self, entry_ids: Iterable[str], count: int | None) -> OutputFollower:
        """A follower of these entries, starting with their latest `count` lines."""
        ids = tuple(entry_ids)
        cursors = {entry_id: self._end(entry_id) for entry_id in ids}
        for line in self.tail(ids, count):
            cursors[line.entry] -= 1
        return OutputFollower(self, cursors)

    def finish(self) -> None:
        """No line comes any more: followers end once they have read the rest."""
        self._finished = True
        self._notify()

    @property
    def finished(self) -> bool:
        return self._finished

    def buffer(self, entry_id: str) -> _Buffer | None:
        return self._buffers.get(entry_id)

    async def wait(self) -> None:
        """Until the next line, or the end."""
        if self._changed is None:
            self._changed = anyio.Event()
        await self._changed.wait()

    def _select(self, entry_ids: Iterable[str]) -> list[_Buffer]:
        return [b for b in map(self._buffers.get, entry_ids) if b is not None]

    def _end(self, entry_id: str) -> int:
        buffer = self._buffers.get(entry_id)
        return 0 if buffer is None else buffer.end

    def _notify(self) -> None:
        # Followers create the event; output nobody follows allocates nothing.
        if self._changed is not None:
            self._changed.set()
            self._changed = None


def _rank(buffer: _Buffer) -> int:
    return buffer.rank


def _at(line: OutputLine) -> float:
    return line.at


class OutputFollower:
    """The output of some entries from a point on, as it comes (`async for line in ...`).

    It ends once the system has stopped and every line is read. A reader
    that falls behind by more than the buffers keep skips ahead to the
    oldest line still kept; `lost` counts the lines it missed.
    """

    __slots__ = ("_buffers", "_cursors", "_pending", "lost")

    def __init__(self, buffers: OutputBuffers, cursors: dict[str, int]) -> None:
        self._buffers = buffers
        self._cursors = cursors
        """Per entry, the number of the next line to read."""
        self._pending: list[tuple[float, int, str, int, int]] = []
        """A heap of the next line of each entry that had lines unread when it
        was filled: (at, rank, entry, number, end), `end` the entry's first
        line not yet written then. Later lines wait for the next filling, so
        that lines of different entries come out in time order."""
        self.lost = 0
        """Lines this follower missed because the buffers let them go first."""

    def __aiter__(self) -> OutputFollower:
        return self

    async def __anext__(self) -> OutputLine:
        await anyio.lowlevel.checkpoint()
        while True:
            line = self._next()
            if line is not None:
                return line
            if self._buffers.finished:
                raise StopAsyncIteration
            await self._buffers.wait()

    def available(self, limit: int) -> list[OutputLine]:
        """Up to `limit` of the next lines that can be read without waiting, in
        the order `async for` gives them: for a reader that passes them on
        in batches rather than one at a time."""
        lines: list[OutputLine] = []
        while len(lines) < limit:
            line = self._next()
            if line is None:
                break
            lines.append(line)
        return lines

    def _next(self) -> OutputLine | None:
        if not self._pending:
            self._fill()
        pending = self._pending
        while pending:
            _, rank, entry_id, number, end = heapq.heappop(pending)
            buffer = self._buffers.buffer(entry_id)
            assert buffer is not None
            if number < buffer.dropped:
                self.lost += buffer.dropped - number
                self._cursors[entry_id] = number = buffer.dropped
                if number < end:
                    at = buffer.lines[number - buffer.dropped].at
                    heapq.heappush(pending, (at, rank, entry_id, number, end))
                continue
            line = buffer.lines[number - buffer.dropped]
            self._cursors[entry_id] = number + 1
            if number + 1 < end:
                at = buffer.lines[number + 1 - buffer.dropped].at
                heapq.heappush(pending, (at, rank, entry_id, number + 1, end))
            return line
        return None

    def _fill(self) -> None:
        for entry_id, cursor in self._cursors.items():
            buffer = self._buffers.buffer(entry_id)
            if buffer is None or cursor >= buffer.end:
                continue
            if cursor < buffer.dropped:
                self.lost += buffer.dropped - cursor
                self._cursors[entry_id] = cursor = buffer.dropped
            at = buffer.lines[cursor - buffer.dropped].at
            self._pending.append((at, buffer.rank, entry_id, cursor, buffer.end))
        heapq.heapify(self._pending)
