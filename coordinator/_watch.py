"""File watching: `Watch`, an entry's option, and the watcher of a running system.

When a file matching an entry's patterns changes, the entry is restarted
as by the operator's `RunningDaemons.restart` (docs/spec.md section 10):
it and its running dependents stop in order and start again. Changes are
debounced per entry: the restart comes once no matching file has changed
for `debounce` seconds, so an editor's save (a temporary file renamed
over the old one) or a build writing many files gives one restart.

The files are watched with `watchfiles` (inotify on Linux), in a thread
that anyio runs, so on asyncio and trio alike. A system none of whose
entries watches starts no watcher.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import anyio
from anyio.abc import TaskGroup

from ._defaults import WATCH_DEBOUNCE
from ._validation import duration_problem, text_problem
from .errors import SystemTerminatingError

__all__ = ["WATCH_LOGGER", "FileWatcher", "Watch", "pattern_problem"]

WATCH_LOGGER = logging.getLogger("healthdaemons.watch")
"""Each restart the watcher makes is logged here at INFO, with the files that
changed (`web: restarting: src/app.py changed`); `healthdaemons up` prints it."""

_STEP_MS = 50
"""How often watchfiles' thread looks for changes and for the stop event:
also how long the watcher may take to end once `term()` begins."""
_GLOB = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class Watch:
    """Restart the entry when a file matching one of `patterns` changes.

    Patterns are globs relative to `base` (`src/**/*.py`: `*` and `?` stay
    within a directory, `**` spans any number of them); one that matches a
    directory matches everything in it (`src`); one must not point outside
    `base`. The restart comes `debounce` seconds after the last
    matching change.
    """

    patterns: Sequence[str]
    base: str | os.PathLike[str]
    debounce: float = WATCH_DEBOUNCE

    def problem(self) -> str | None:
        if isinstance(self.patterns, str) or not isinstance(self.patterns, Sequence):
            return f"watch.patterns must be a list of globs, not {type(self.patterns).__name__}"
        if not self.patterns:
            return "watch.patterns must not be empty"
        if not isinstance(self.base, str | os.PathLike) or not os.fspath(self.base):
            return "watch.base must be a directory's path"
        for index, pattern in enumerate(self.patterns):
            problem = pattern_problem(pattern, self.base)
            if problem is not None:
                return f"watch.patterns[{index}] {problem}"
        problem = duration_problem(self.debounce, positive=True)
        return None if problem is None else f"watch.debounce {problem}"

    @property
    def directory(self) -> str:
        return os.path.abspath(self.base)

    def matches(self, path: str) -> bool:
        """Whether `path` (absolute) matches one of the patterns."""
        relative = os.path.relpath(path, self.directory)
        if relative.startswith("../"):
            return False
        return any(glob.fullmatch(relative) for glob in self._globs)

    @cached_property
    def _globs(self) -> list[re.Pattern[str]]:
        return [_glob(_relative(pattern, self.directory)) for pattern in self.patterns]

    def roots(self) -> list[str]:
        """The directories to watch: each pattern's fixed part, or the nearest
        existing directory above it (a file is watched in its directory: a
        file renamed into place replaces the one a watch would follow)."""
        roots = []
        for pattern in self.patterns:
            fixed = []
            for segment in _relative(pattern, self.directory).split("/"):
                if _GLOB.search(segment):
                    break
                fixed.append(segment)
            root = os.path.normpath(os.path.join(self.directory, *fixed))
            while not os.path.isdir(root) and root != self.directory:
                root = os.path.dirname(root)
            roots.append(root)
        return roots


def pattern_problem(
    pattern: object, base: str | os.PathLike[str], base_name: str | None = None
) -> str | None:
    """What is wrong with a watch pattern for the directory `base` (named
    `base_name` in the message), if anything."""
    if not isinstance(pattern, str):
        return f"must be a string, not {type(pattern).__name__}"
    if not pattern.strip():
        return "must not be empty"
    problem = text_problem(pattern)
    if problem is not None:
        return problem
    directory = os.path.abspath(base)
    relative = _relative(pattern, directory)
    if relative.split("/")[0] == "..":
        return f"{pattern!r} points outside {base_name or f'the directory {directory}'}"
    try:
        _glob(relative)
    except re.error as error:
        return f"invalid glob {pattern!r}: {error}"
    return None


def _relative(pattern: str, directory: str) -> str:
    return os.path.relpath(os.path.normpath(os.path.join(directory, pattern)), directory)


def _glob(pattern: str) -> re.Pattern[str]:
    """A regular expression for a glob whose `*` and `?` stay within a
    directory; what it matches, it matches with everything inside (`src`
    watches the whole directory, as compose's `path: ./src` does)."""
    if pattern == ".":
        return re.compile(".*")
    parts = []
    segments = pattern.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "**":
            parts.append(".*" if last else "(?:[^/]*/)*")
        else:
            parts.append(_segment(segment) + ("" if last else "/"))
    return re.compile("".join(parts) + "(?:/.*)?")


def _segment(segment: str) -> str:
    out = []
    index = 0
    while index < len(segment):
        char = segment[index]
        index += 1
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and "]" in segment[index + 1 :]:
            # As fnmatch: `!` or `^` first negates, and a `]` first is part of the class.
            start = index + (segment[index : index + 1] in ("!", "^"))
            end = segment.find("]", start + 1)
            if end < 0:
                out.append(re.escape(char))
                continue
            inside = re.escape(segment[start:end]).replace("\\-", "-")
            out.append(f"[{'^' if start > index else ''}{inside}]")
            index = end + 1
        else:
            out.append(re.escape(char))
    return "".join(out)


class FileWatcher:
    """Watches the files of every entry that has a `Watch`, and restarts the
    entry (through `restart`) once its files have settled, unless
    `may_restart` says no (an entry not running yet starts with the new
    files anyway; one an operator stopped stays stopped)."""

    def __init__(
        self,
        watches: Mapping[str, Watch],
        restart: Callable[[str], Awaitable[None]],
        may_restart: Callable[[str], bool],
        error: Callable[[str | None, str], None],
        written: Iterable[str] = (),
    ) -> None:
        self._watches = watches
        self._written = frozenset(os.path.realpath(path) for path in written)
        """Files the system writes itself (its log files): a change to one, or
        to one of its rotated `NAME.N`, restarts nothing, or a service that
        logs would restart for ever."""
        self._restart = restart
        self._may_restart = may_restart
        self._error = error
        self._changed: dict[str, set[str]] = {}
        """Per entry waiting for its restart, the files that changed."""
        self._due: dict[str, float] = {}
        self._stop: anyio.Event | None = None
        self._scope: anyio.CancelScope | None = None

    def start(self, group: TaskGroup) -> None:
        self._stop = anyio.Event()
        self._scope = anyio.CancelScope()
        group.start_soon(self._run, name="healthdaemons:watch")

    def stop(self) -> None:
        """No more restarts: `term()` has begun."""
        if self._stop is not None and self._scope is not None:
            self._stop.set()  # ends watchfiles' thread within its step
            self._scope.cancel()

    async def _run(self) -> None:
        from watchfiles import DefaultFilter, awatch

        assert self._scope is not None and self._stop is not None
        ignored = DefaultFilter()
        roots = _outermost(root for watch in self._watches.values() for root in watch.roots())
        with self._scope:
            async with anyio.create_task_group() as restarts:
                try:
                    async for changes in awatch(
                        *roots,
                        watch_filter=ignored,
                        stop_event=self._stop,
                        step=_STEP_MS,
                        debounce=_STEP_MS * 20,
                    ):
                        self._seen({path for _, path in changes}, restarts)
                except Exception as error:  # the system goes on, without watching
                    self._error(None, f"watching files stopped: {error!r}")

    def _seen(self, paths: set[str], restarts: TaskGroup) -> None:
        if self._written:
            paths = {path for path in paths if not self._is_written(path)}
        now = anyio.current_time()
        for id, watch in self._watches.items():
            matching = {path for path in paths if watch.matches(path)}
            if not matching:
                continue
            if id not in self._due:
                restarts.start_soon(self._restart_when_settled, id)
            self._due[id] = now + watch.debounce
            changed = self._changed.setdefault(id, set())
            changed.update(os.path.relpath(path, watch.directory) for path in matching)

    def _is_written(self, path: str) -> bool:
        real = os.path.realpath(path)
        base, _, number = real.rpartition(".")
        return real in self._written or (number.isdigit() and base in self._written)

    async def _restart_when_settled(self, id: str) -> None:
        # Each change moves the due time on: sleep until it stops moving.
        while (wait := self._due[id] - anyio.current_time()) > 0:  # noqa: ASYNC110
            await anyio.sleep(wait)
        del self._due[id]
        changed = sorted(self._changed.pop(id))
        if not self._may_restart(id):
            return
        more = len(changed) - 3
        shown = ", ".join(changed[:3]) + (f" and {more} more" if more > 0 else "")
        WATCH_LOGGER.info("%s: restarting: %s changed", id, shown)
        try:
            await self._restart(id)
        except SystemTerminatingError:
            pass  # term() came first


def _outermost(roots: Iterable[str]) -> list[str]:
    """The directories, without those inside another one (watched recursively)."""
    found: list[str] = []
    for root in sorted(set(roots)):
        if not any(root == outer or root.startswith(outer.rstrip("/") + "/") for outer in found):
            found.append(root)
    return found
