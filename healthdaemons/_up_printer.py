"""What `healthdaemons up` prints, written from a thread of its own.

Supervision never waits for a terminal. The event loop only hands lines to
the printer: an append to a bounded buffer under a lock. A thread writes
them in batches, at most `BATCHES_PER_SECOND` times a second, each batch in
writes of at most `CHUNK` characters (and, on a terminal, one redraw of the
live table). The services'
output lines that do not fit in the buffer are dropped and counted, and a
note says how many, at most once a second; messages (events, signals, the
outcome) are dropped only when `MAX_MESSAGES` of them wait. A write that
fails (EIO from a terminal that was closed, EPIPE from a reader that went
away) ends printing for the rest of the run: the standard streams are
pointed at /dev/null and supervision, the shutdown included, goes on
silently.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import IO

from rich.console import Console, RenderableType
from rich.live import Live
from rich.text import Text

__all__ = ["Printer"]

MAX_PENDING = 256 * 1024
"""Characters of service output waiting to be written, at most; more is dropped."""
MAX_MESSAGES = 10_000
"""Messages waiting to be written, at most: only a sink that takes nothing
for a long time (a terminal paused by Ctrl-S) gets there."""
BATCHES_PER_SECOND = 20
NOTE_INTERVAL = 1.0
"""Seconds between two notes about dropped lines, at least."""
CHUNK = 64 * 1024
"""Characters of output lines written at once, at most: a slow terminal (an
SSH session) then shows progress every chunk, not once a batch of seconds.
Not smaller: on a terminal, each write also redraws the live table."""
CLOSE_LIMIT = 30.0
"""Seconds that `close` waits for a writer that progresses, at most."""


@dataclass(frozen=True, slots=True)
class _Output:
    entry: str
    line: str


@dataclass(frozen=True, slots=True)
class _Message:
    text: str
    markup: bool


class Printer:
    """Prints for `up`: the services' output lines, messages, and (on a
    terminal) the live table, without ever blocking the caller."""

    def __init__(
        self, console: Console, *, live: bool, width: int, max_pending: int = MAX_PENDING
    ) -> None:
        self._console = console
        self._live = live
        self._width = width
        self._max_pending = max_pending
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._items: list[_Output | _Message] = []
        self._pending = 0
        self._messages = 0
        self._dropped: dict[str, int] = {}
        """Lines dropped since the last note, by entry ("" for messages)."""
        self._table: RenderableType | None = None
        self._closing = False
        self._progressed = 0.0
        """When a write last completed (`time.monotonic()`)."""
        self._last: str | None = None
        self.failed: OSError | None = None
        """Why printing stopped, if a write failed."""
        self._thread = threading.Thread(
            target=self._run, name="healthdaemons-up-output", daemon=True
        )

    def start(self) -> None:
        _replace_unencodable(self._console.file)
        self._thread.start()

    def output(self, entry: str, line: str) -> None:
        """A line a service printed; dropped if the buffer is full."""
        with self._lock:
            if self._pending + len(line) > self._max_pending or self.failed is not None:
                self._dropped[entry] = self._dropped.get(entry, 0) + 1
                return
            self._pending += len(line)
            self._items.append(_Output(entry, line))
        self._wake.set()

    def say(self, text: str, *, markup: bool = True) -> None:
        """A message of `up` itself (rich markup unless `markup=False`)."""
        with self._lock:
            if self.failed is not None:
                return
            if self._messages >= MAX_MESSAGES:
                self._dropped[""] = self._dropped.get("", 0) + 1
                return
            self._messages += 1
            self._items.append(_Message(text, markup))
        self._wake.set()

    @property
    def height(self) -> int:
        """The terminal's lines now (it may be resized)."""
        return self._console.size.height

    def show(self, table: RenderableType) -> None:
        """The live table to draw next (on a terminal); replaces one not drawn yet."""
        with self._lock:
            self._table = table
        self._wake.set()

    def say_last(self, text: str) -> None:
        """The message to write at the very end, below the final live table."""
        self._last = text

    def close(self, timeout: float = 2.0) -> bool:
        """Write what is left and stop; `False` if the writer is stuck: no
        write completed for `timeout` seconds (a terminal that takes nothing,
        say), or still writing after `CLOSE_LIMIT` seconds. A slow terminal
        that keeps taking output gets to show the end."""
        with self._lock:
            self._closing = True
        self._wake.set()
        started = time.monotonic()
        while True:
            self._thread.join(0.05)
            if not self._thread.is_alive():
                return True
            now = time.monotonic()
            if now - max(started, self._progressed) > timeout or now - started > CLOSE_LIMIT:
                return False

    # The writing thread.

    def _run(self) -> None:
        live: Live | None = None
        last_note = 0.0
        try:
            if self._live:
                # Not redirecting stdout and stderr: a stray write from the
                # event loop must not wait for this thread's console.
                live = Live(
                    console=self._console,
                    auto_refresh=False,
                    redirect_stdout=False,
                    redirect_stderr=False,
                )
                live.start()
            while True:
                started = time.monotonic()
                self._wake.wait(NOTE_INTERVAL / 4)
                self._wake.clear()
                with self._lock:
                    items, self._items = self._items, []
                    self._pending = self._messages = 0
                    table, self._table = self._table, None
                    closing = self._closing
                self._write(items)
                # Counted after the batch: what was dropped while it was
                # written is said right below it, at the end too.
                with self._lock:
                    dropped: dict[str, int] = {}
                    if self._dropped and (closing or started - last_note >= NOTE_INTERVAL):
                        dropped, self._dropped = self._dropped, {}
                if dropped:
                    last_note = started
                    self._write_note(dropped)
                if live is not None and table is not None:
                    live.update(table, refresh=True)
                if closing:
                    break
                time.sleep(max(0.0, started + 1 / BATCHES_PER_SECOND - time.monotonic()))
        except OSError as error:
            self._give_up(error)
        finally:
            try:
                if live is not None:
                    live.stop()
                if self._last is not None and self.failed is None:
                    self._console.print(self._last)
            except OSError as error:
                self._give_up(error)

    def _write(self, items: list[_Output | _Message]) -> None:
        console = self._console
        lines: list[_Output | _Message] = []
        size = 0
        for item in items:
            if isinstance(item, _Message) and item.markup:
                self._write_lines(lines)
                lines, size = [], 0
                console.print(item.text)
                self._progressed = time.monotonic()
                continue
            lines.append(item)
            size += len(item.line if isinstance(item, _Output) else item.text)
            if size >= CHUNK:
                self._write_lines(lines)
                lines, size = [], 0
        self._write_lines(lines)

    def _write_lines(self, lines: list[_Output | _Message]) -> None:
        """Output lines and plain messages, in one write."""
        if not lines:
            return
        if not self._console.is_terminal:
            text = "".join(
                f"{item.entry:<{self._width}} | {item.line}\n"
                if isinstance(item, _Output)
                else f"{item.text}\n"
                for item in lines
            )
            self._console.file.write(text)
            self._console.file.flush()
            self._progressed = time.monotonic()
            return
        batch = Text()
        for item in lines:
            if isinstance(item, _Output):
                batch.append(f"{item.entry:<{self._width}} | ", style="bold")
                batch.append(item.line)
            else:
                batch.append(item.text)
            batch.append("\n")
        batch.rstrip()
        self._console.print(batch, highlight=False, soft_wrap=True)
        self._progressed = time.monotonic()

    def _write_note(self, dropped: dict[str, int]) -> None:
        total = sum(dropped.values())
        each = ", ".join(f"{entry or 'up'} {count}" for entry, count in dropped.items())
        self._console.print(
            f"[yellow]... {total} output line{'s' if total != 1 else ''} dropped "
            f"({each}): the output could not keep up[/]",
            highlight=False,
        )

    def _give_up(self, error: OSError) -> None:
        """Writing failed: nothing more is printed, and later writes to the
        same streams (Python flushing them at exit, say) go to /dev/null."""
        with self._lock:
            if self.failed is None:
                self.failed = error
            self._items = []
        for stream in _streams(self._console.file):
            try:
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, stream)
                os.close(null)
            except OSError:
                pass


def _replace_unencodable(file: IO[str]) -> None:
    """A service may print what the output's encoding cannot hold (under an
    ASCII or Latin-1 locale): it is written as `?` instead of ending the
    printing with a `UnicodeEncodeError`."""
    reconfigure = getattr(file, "reconfigure", None)
    if reconfigure is not None and getattr(file, "errors", None) == "strict":
        reconfigure(errors="replace")


def _streams(file: IO[str]) -> list[int]:
    """The file descriptors to silence: the console's, and the standard
    streams that are the same file (a closed terminal is both)."""
    try:
        fd = file.fileno()
        target = os.fstat(fd)
    except (OSError, ValueError, AttributeError):
        return []
    streams = [fd]
    for other in (1, 2):
        if other == fd:
            continue
        try:
            found = os.fstat(other)
        except OSError:
            continue
        if (found.st_dev, found.st_ino, found.st_rdev) == (
            target.st_dev,
            target.st_ino,
            target.st_rdev,
        ):
            streams.append(other)
    return streams
