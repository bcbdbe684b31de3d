"""`watch`: real files and processes. A change to a watched file restarts the
entry once its files settle (debounced), with its dependents, as an
operator's restart does; other files restart nothing; `term()` ends the
watcher, and an entry an operator stopped stays stopped."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from coordinator import Daemons, LifecycleState, LogFile, Ready, RunningDaemons, Watch
from coordinator.checks import log_line

from .helpers import always_ready, pids, poll_until, python, sleeper

pytestmark = pytest.mark.anyio

DEBOUNCE = 0.3
QUIET = DEBOUNCE + 1.5
"""How long to watch for a restart that must not come. A change is seen by
the watcher within its 50 ms step; its restart comes DEBOUNCE seconds after
the last change. So a restart that was going to happen has happened well
within this bound, even on a loaded machine; waiting past it (bounded) is
the only way to show that a second one does not come."""


def _system(tmp_path: Path) -> Daemons:
    (tmp_path / "src").mkdir()
    watch = Watch(["src/*.py"], tmp_path, debounce=DEBOUNCE)
    return (
        Daemons.of()
        .add_daemon("db", exec=sleeper(), ready=always_ready())
        .add_daemon("web", exec=sleeper(), ready=always_ready(), requires=["db"], watch=watch)
        .add_daemon("front", exec=sleeper(), ready=always_ready(), requires=["web"])
    )


def _launches(running: RunningDaemons, entry: str) -> int:
    return len(pids(running.history, entry))


def _write(path: Path, text: str) -> None:
    """Synchronously, on purpose: a tiny file, and the change must be made
    before the test goes on."""
    path.write_text(text)


def _save(path: Path, text: str) -> None:
    """As an editor saves: a temporary file renamed over the old one."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    temporary.rename(path)


def _count(path: Path) -> int:
    return path.read_text().count("ran")


async def _watching(running: RunningDaemons, probe: Path) -> None:
    """Until a change to `probe` restarts web: the watcher has registered its
    directories (which happens in its own task, with no event to wait for)."""
    for attempt in range(10):
        before = _launches(running, "web")
        _write(probe, str(attempt))
        if await running.wait_until(
            lambda before=before: _launches(running, "web") > before,  # type: ignore[misc]
            QUIET + 2,
        ):
            await running.wait_ready(20)
            return
    raise AssertionError("web was never restarted by a change to a watched file")


async def test_two_changes_within_100_ms_restart_once_with_the_dependents(
    tmp_path: Path,
) -> None:
    async with _system(tmp_path).build() as running:
        await running.wait_ready(20)
        await _watching(running, tmp_path / "src" / "probe.py")
        web, front, db = (_launches(running, e) for e in ("web", "front", "db"))

        _write(tmp_path / "src" / "notes.txt", "not watched")
        _write(tmp_path / "app.py", "not under src")
        assert not await running.wait_until(lambda: _launches(running, "web") > web, QUIET)

        # Two files, 90 ms apart: watchfiles hands them over in two batches
        # (it waits 50 ms for more), which the debounce makes one restart.
        _write(tmp_path / "src" / "app.py", "1")
        await anyio.sleep(0.09)
        _write(tmp_path / "src" / "util.py", "2")
        assert await running.wait_until(lambda: _launches(running, "web") > web, 20)
        assert await running.wait_until(lambda: _launches(running, "front") > front, 20)
        # Past the debounce window, bounded: no second restart comes.
        assert not await running.wait_until(lambda: _launches(running, "web") > web + 1, QUIET)
        await running.wait_ready(20)
        assert _launches(running, "web") == web + 1
        assert _launches(running, "front") == front + 1
        assert _launches(running, "db") == db  # what it requires goes on


async def test_an_editor_save_restarts_a_oneshot_which_runs_again(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    build = python(f"open({str(runs)!r}, 'a').write('ran\\n')")
    watch = Watch(["*.c"], tmp_path, debounce=DEBOUNCE)
    system = Daemons.of().add_oneshot("build", exec=build, watch=watch)
    async with system.build() as running:
        await running.wait_ready(20)
        for attempt in range(10):  # until the watcher is registered (see _watching)
            before = _count(runs)
            _save(tmp_path / "main.c", str(attempt))
            if await running.wait_until(
                lambda before=before: (  # type: ignore[misc]
                    running.state("build") is LifecycleState.READY and _count(runs) > before
                ),
                QUIET + 2,
            ):
                break
        else:
            raise AssertionError("the build never ran again")


async def test_an_entry_an_operator_stopped_stays_stopped(tmp_path: Path) -> None:
    async with _system(tmp_path).build() as running:
        await running.wait_ready(20)
        await _watching(running, tmp_path / "src" / "probe.py")
        await running.stop("web")
        launches = _launches(running, "web")
        _write(tmp_path / "src" / "app.py", "changed")
        assert not await running.wait_until(lambda: _launches(running, "web") > launches, QUIET)
        assert running.state("web") is LifecycleState.STOPPED


async def test_term_during_a_watched_restart_stops_everything(tmp_path: Path) -> None:
    async with _system(tmp_path).build() as running:
        await running.wait_ready(20)
        await _watching(running, tmp_path / "src" / "probe.py")
        _write(tmp_path / "src" / "app.py", "changed")
        assert await running.wait_until(
            lambda: running.state("web") is not LifecycleState.READY, 20
        )
        await running.term()
    assert set(running.statistics().states.values()) == {LifecycleState.STOPPED}


async def test_a_log_file_in_the_watched_tree_restarts_nothing(tmp_path: Path) -> None:
    # Each line the service logs changes its log file: were it seen as a
    # change, the restart would log more lines, and so on for ever.
    (tmp_path / "src").mkdir()
    log = LogFile(tmp_path / "web.log", max_bytes=200, backups=2)  # rotates too
    chatty = python(
        "import time\nwhile True:\n print('x' * 40, flush=True)\n time.sleep(0.05)", log=log
    )
    watch = Watch(["."], tmp_path, debounce=DEBOUNCE)
    system = Daemons.of().add_daemon("web", exec=chatty, ready=always_ready(), watch=watch)
    async with system.build() as running:
        await running.wait_ready(20)
        await poll_until(lambda: (tmp_path / "web.log.1").exists(), 20)
        await anyio.sleep(QUIET)  # (bounded: see QUIET)
        assert _launches(running, "web") == 1
        # A change the service did not write still restarts it.
        _write(tmp_path / "src" / "app.py", "changed")
        assert await running.wait_until(lambda: _launches(running, "web") == 2, QUIET + 5)


async def test_an_entry_an_operator_stops_stays_stopped_while_it_is_stopping(
    tmp_path: Path,
) -> None:
    # A change while the stop is under way (the service takes a while to
    # end) must not undo the operator's stop.
    (tmp_path / "src").mkdir()
    slow = python(
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *_: (time.sleep(1.5), sys.exit(0)))\n"
        "print('armed', flush=True)\n"
        "time.sleep(1000)\n"
    )
    watch = Watch(["src/*.py"], tmp_path, debounce=DEBOUNCE)
    armed = Ready("web", log_line("armed"))  # ready once it stops slowly
    system = Daemons.of().add_daemon("web", exec=slow, ready=armed, watch=watch)
    async with system.build() as running, anyio.create_task_group() as tasks:
        await running.wait_ready(20)
        await _watching(running, tmp_path / "src" / "probe.py")
        launches = _launches(running, "web")
        tasks.start_soon(running.stop, "web")
        await running.wait_until(lambda: running.state("web") is LifecycleState.STOPPING, 10)
        _write(tmp_path / "src" / "app.py", "changed")
        await running.wait_until(lambda: running.state("web") is LifecycleState.STOPPED, 20)
        assert not await running.wait_until(lambda: _launches(running, "web") > launches, QUIET)
        assert running.state("web") is LifecycleState.STOPPED
