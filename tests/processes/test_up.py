"""`healthdaemons up`, end to end through the installed command, with real services."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from coordinator import (
    Event,
    LifecycleState,
    ProcessSignalled,
    Transitioned,
    load_events,
)

COMMAND = str(Path(sys.executable).with_name("healthdaemons"))

CHAIN = """
[services.api]
command = "echo api up; exec sleep 600"
requires = ["db"]
[services.api.ready]
log_line = "api up"

[services.db]
command = "echo db up; exec sleep 600"
[services.db.ready]
display = "Database"
log_line = "db up"

[services.seed]
kind = "oneshot"
command = "echo seeding"
requires = ["db"]

[services.web]
command = "echo web up; exec sleep 600"
requires = ["api", "seed"]
[services.web.ready]
log_line = "web up"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "system.toml"
    path.write_text(text)
    return path


def _start(*arguments: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [COMMAND, *arguments], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _events(record: Path) -> list[Event]:
    try:
        return load_events(record)
    except (OSError, ValueError):
        return []  # not written yet, or a line half-written


def _wait_for(record: Path, condition: Callable[[list[Event]], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition(_events(record)):
        assert time.monotonic() < deadline, "timed out waiting on the recorded run"
        time.sleep(0.02)


def _states(events: list[Event]) -> dict[str, LifecycleState]:
    return {e.entry: e.dest for e in events if isinstance(e, Transitioned)}


def _entered(events: list[Event], state: LifecycleState) -> list[str]:
    return [
        e.entry
        for e in events
        if isinstance(e, Transitioned) and e.dest is state and e.source is not state
    ]


def _finish(process: subprocess.Popen[str], timeout: float = 30) -> tuple[int, str]:
    try:
        output, _ = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return process.returncode, output


def test_up_starts_in_order_and_sigint_stops_in_reverse(tmp_path: Path) -> None:
    record = tmp_path / "run.jsonl"
    process = _start("up", str(_write(tmp_path, CHAIN)), "--record", str(record))
    ids = {"db", "api", "seed", "web"}
    _wait_for(record, lambda events: set(_entered(events, LifecycleState.READY)) >= ids)
    process.send_signal(signal.SIGINT)
    code, output = _finish(process)
    assert code == 0, output
    events = load_events(record)  # every line is valid JSON
    started = _entered(events, LifecycleState.STARTING)
    assert started.index("db") < started.index("api") < started.index("web")
    assert started.index("seed") < started.index("web")
    stopped = _entered(events, LifecycleState.STOPPED)
    assert stopped.index("web") < stopped.index("api") < stopped.index("db")
    assert stopped.index("seed") < stopped.index("db")
    assert "db   | db up" in output  # output lines prefixed with the id
    assert "SIGINT: stopping in order" in output


def test_a_crashing_service_fails_without_taking_the_command_down(tmp_path: Path) -> None:
    config = """
[services.crasher]
command = "echo about to crash; exit 3"
[services.crasher.ready]
port = 1

[services.fine]
command = "echo fine; exec sleep 600"
[services.fine.ready]
log_line = "fine"
"""
    record = tmp_path / "run.jsonl"
    process = _start("up", str(_write(tmp_path, config)), "--record", str(record))

    def crashed_twice_and_fine_ready(events: list[Event]) -> bool:
        crashes = [e for e in events if getattr(e, "description", None) == "exit code 3"]
        return len(crashes) >= 2 and _states(events).get("fine") is LifecycleState.READY

    _wait_for(record, crashed_twice_and_fine_ready)
    assert process.poll() is None
    process.send_signal(signal.SIGTERM)
    code, output = _finish(process)
    assert code == 0, output
    assert "crasher daemon crashed: exit code 3" in output


def test_a_second_sigint_kills_what_is_left(tmp_path: Path) -> None:
    config = """
[services.stubborn]
command = "trap '' TERM INT; echo armed; while :; do sleep 1; done"
sigterm_timeout = 600
[services.stubborn.ready]
log_line = "armed"
"""
    record = tmp_path / "run.jsonl"
    process = _start("up", str(_write(tmp_path, config)), "--record", str(record))
    _wait_for(record, lambda events: _states(events).get("stubborn") is LifecycleState.READY)
    process.send_signal(signal.SIGINT)
    _wait_for(record, lambda events: any(isinstance(e, ProcessSignalled) for e in events))
    process.send_signal(signal.SIGINT)
    code, output = _finish(process)
    assert code == 137, output  # not a clean shutdown
    sent = [e.signal for e in load_events(record) if isinstance(e, ProcessSignalled)]
    assert sent[:2] == ["SIGTERM", "SIGKILL"]
    assert "SIGKILL to every process group left" in output


def test_until_ready_exits_0_once_everything_was_ready(tmp_path: Path) -> None:
    code, output = _finish(_start("up", str(_write(tmp_path, CHAIN)), "--until-ready"))
    assert code == 0, output
    assert "everything is ready" in output


def test_until_ready_times_out_with_exit_1_naming_who_was_not_ready(tmp_path: Path) -> None:
    config = """
[services.slow]
command = "exec sleep 600"
[services.slow.ready]
log_line = "never printed"
"""
    process = _start("up", str(_write(tmp_path, config)), "--until-ready", "--timeout", "1")
    code, output = _finish(process)
    assert code == 1, output
    assert "Timed out waiting for slow (after 1 s)\n  slow: starting" in output


@pytest.mark.parametrize("command", ["up", "check", "graph"])
def test_a_bad_file_exits_2_before_anything_starts(tmp_path: Path, command: str) -> None:
    config = """
[services.alpha]
command = "true"
requires = ["beta"]
[services.alpha.ready]
port = 1

[services.beta]
command = "true"
requires = ["alpha"]
[services.beta.ready]
port = 2
"""
    path = _write(tmp_path, config)
    arguments = [command, str(path)] + (
        ["-o", str(tmp_path / "g.svg")] if command == "graph" else []
    )
    code, output = _finish(_start(*arguments))
    assert code == 2, output
    assert "services form a cycle: alpha -> beta -> alpha" in output


def test_timeout_without_until_ready_is_a_mistake(tmp_path: Path) -> None:
    code, output = _finish(_start("up", str(_write(tmp_path, CHAIN)), "--timeout", "5"))
    assert code == 2, output
    assert "--timeout needs --until-ready" in output


@pytest.mark.parametrize("timeout", ["nan", "-1", "inf"])
def test_a_timeout_that_is_not_a_number_of_seconds_is_a_mistake(
    tmp_path: Path, timeout: str
) -> None:
    arguments = ["up", str(_write(tmp_path, CHAIN)), "--until-ready", "--timeout", timeout]
    code, output = _finish(_start(*arguments))
    assert code == 2, output
    assert f"argument --timeout: must be a number of seconds >= 0, not {timeout!r}" in output


def test_plain_output_is_never_wrapped(tmp_path: Path) -> None:
    long_line = "x" * 150
    config = f"""
[services.talker]
command = "echo {long_line}; echo done; exec sleep 600"
[services.talker.ready]
log_line = "done"
"""
    code, output = _finish(_start("up", str(_write(tmp_path, config)), "--until-ready"))
    assert code == 0, output
    assert f"talker | {long_line}\n" in output


def test_check_prints_the_start_layers_and_the_shutdown_order(tmp_path: Path) -> None:
    code, output = _finish(_start("check", str(_write(tmp_path, CHAIN))))
    assert code == 0, output
    assert "4 services, valid" in output


def test_the_demo_stack_comes_up_and_draws(tmp_path: Path) -> None:
    """What `make demo` does, through the installed command."""
    demo = Path(__file__).resolve().parents[2] / "examples" / "demo.toml"
    record = tmp_path / "run.jsonl"
    process = _start("up", str(demo), "--until-ready", "--timeout", "60", "--record", str(record))
    code, output = _finish(process, timeout=90)
    assert code == 0, output
    ready = set(_entered(load_events(record), LifecycleState.READY))
    assert ready == {"store", "migrate", "api", "worker", "smoke"}
    code, output = _finish(_start("timeline", str(record), "-o", str(tmp_path / "t.svg")))
    assert code == 0, output


BAD_FILES = {
    "unknown": (
        '[services.db]\ncommand = "true"\n[services.db.ready]\nport = 1\n'
        '[services.web]\ncommand = "true"\nrequires = ["dbb"]\n[services.web.ready]\nport = 2\n',
        "services.web.requires: unknown service 'dbb'; did you mean 'db'?",
    ),
    "duplicate": (
        '[services.db]\ncommand = "true"\n[services.db]\ncommand = "false"\n',
        "duplicate service 'db' (at line 3)",
    ),
    "bad key": (
        '[services.db]\ncommand = "true"\n[services.db.ready]\nprot = 1\n',
        "services.db.ready.prot: unknown key; did you mean 'port'?",
    ),
    "bad type": (
        '[services.db]\ncommand = "true"\nsigterm_timeout = "5"\n[services.db.ready]\nport = 1\n',
        "services.db.sigterm_timeout: must be a number, not str",
    ),
    "two sources": (
        '[services.db]\ncommand = "true"\n[services.db.ready]\nport = 1\nurl = "http://a/"\n',
        "services.db.ready: give exactly one of port, url, script, log_line, notify "
        "(got port, url)",
    ),
    "no source": (
        '[services.db]\ncommand = "true"\n[services.db.ready]\ndisplay = "DB"\n',
        "services.db.ready: give exactly one of port, url, script, log_line, notify (got none)",
    ),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_each_kind_of_mistake_exits_2_with_its_message(tmp_path: Path, case: str) -> None:
    text, message = BAD_FILES[case]
    path = _write(tmp_path, text)
    code, output = _finish(_start("up", str(path)))
    assert code == 2, output
    assert output == f"healthdaemons: {path}: {message}\n"


# Signals: nothing a person or a terminal sends ends `up` before its services.


def _start_logged(tmp_path: Path, *arguments: str) -> tuple[subprocess.Popen[str], Path]:
    """`up` with its output in a file, to read while it runs."""
    log = tmp_path / "up.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [COMMAND, *arguments], stdout=output, stderr=subprocess.STDOUT, text=True
        )
    return process, log


def _wait_for_text(log: Path, text: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        assert time.monotonic() < deadline, f"{text!r} not printed:\n{log.read_text()}"
        time.sleep(0.02)


def _assert_stopped_in_order(record: Path) -> None:
    stopped = _entered(load_events(record), LifecycleState.STOPPED)
    assert sorted(stopped) == ["api", "db", "seed", "web"]
    assert stopped.index("web") < stopped.index("api") < stopped.index("db")
    assert stopped.index("seed") < stopped.index("db")


CHAIN_IDS = {"db", "api", "seed", "web"}


@pytest.mark.parametrize("name", ["SIGHUP", "SIGQUIT", "SIGTERM", "SIGINT"])
def test_each_stop_signal_stops_in_order(tmp_path: Path, name: str) -> None:
    number = signal.Signals[name]
    record = tmp_path / "run.jsonl"
    process, log = _start_logged(
        tmp_path, "up", str(_write(tmp_path, CHAIN)), "--record", str(record)
    )
    _wait_for(record, lambda events: set(_entered(events, LifecycleState.READY)) >= CHAIN_IDS)
    process.send_signal(number)
    code, _ = _finish(process)
    assert code == 0, log.read_text()
    assert f"{number.name}: stopping in order" in log.read_text()
    _assert_stopped_in_order(record)
    # (The conftest fails the test if any service outlived `up`.)


IGNORED = [
    "SIGUSR1",
    "SIGUSR2",
    "SIGALRM",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGPIPE",
    "SIGRTMIN+3",
]


@pytest.mark.parametrize("name", IGNORED)
def test_other_signals_are_ignored_and_stop_nothing(tmp_path: Path, name: str) -> None:
    number = signal.SIGRTMIN + 3 if name == "SIGRTMIN+3" else signal.Signals[name]
    record = tmp_path / "run.jsonl"
    process, log = _start_logged(
        tmp_path, "up", str(_write(tmp_path, CHAIN)), "--record", str(record)
    )
    _wait_for(record, lambda events: set(_entered(events, LifecycleState.READY)) >= CHAIN_IDS)
    process.send_signal(number)
    process.send_signal(signal.SIGWINCH)  # (ignored by default: a harmless marker)
    process.send_signal(signal.SIGUSR2)
    # Signals are handled in order; once SIGUSR2's note is out, `number` was handled.
    _wait_for_text(log, "SIGUSR2 ignored")
    if name == "SIGTSTP":
        assert "Ctrl-Z ignored" in log.read_text()
    assert process.poll() is None, log.read_text()
    assert not _entered(_events(record), LifecycleState.STOPPING)
    process.send_signal(signal.SIGTERM)
    code, _ = _finish(process)
    assert code == 0, log.read_text()
    _assert_stopped_in_order(record)


def test_a_closed_terminal_stops_in_order_although_writes_fail(tmp_path: Path) -> None:
    """SIGHUP from a terminal that is gone: every later write fails (EIO)."""
    record = tmp_path / "run.jsonl"
    controller, terminal = os.openpty()
    errors = tmp_path / "stderr"
    with errors.open("w") as stderr:
        process = subprocess.Popen(
            [COMMAND, "up", str(_write(tmp_path, CHAIN)), "--record", str(record)],
            stdin=subprocess.DEVNULL,
            stdout=terminal,
            stderr=stderr,
            env={**os.environ, "TERM": "xterm", "COLUMNS": "100"},
        )
    os.close(terminal)
    try:
        _wait_for(record, lambda events: set(_entered(events, LifecycleState.READY)) >= CHAIN_IDS)
    finally:
        os.close(controller)  # the terminal closes: writes to it now fail with EIO
    process.send_signal(signal.SIGHUP)
    try:
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert code == 0, errors.read_text()
    assert "Traceback" not in errors.read_text()
    _assert_stopped_in_order(record)


STUBBORN_TOP = """
[services.base]
command = "echo base up; exec sleep 600"
[services.base.ready]
log_line = "base up"

[services.top]
command = "trap 'echo got TERM' TERM; echo top up; while :; do sleep 0.1; done"
requires = ["base"]
sigterm_timeout = 600
[services.top.ready]
log_line = "top up"
"""


def test_one_signal_during_until_readys_own_shutdown_does_not_kill(tmp_path: Path) -> None:
    record = tmp_path / "run.jsonl"
    config = str(_write(tmp_path, STUBBORN_TOP))
    process, log = _start_logged(tmp_path, "up", config, "--until-ready", "--record", str(record))
    # Everything was ready; `top` ignores the SIGTERM of the ordered shutdown.
    _wait_for_text(log, "got TERM")
    process.send_signal(signal.SIGINT)
    _wait_for_text(log, "SIGINT: already stopping in order")
    assert process.poll() is None
    assert _signals_sent(record) == [("top", "SIGTERM")]  # base waits for top, as it should
    process.send_signal(signal.SIGTERM)  # the second one from the person
    code, _ = _finish(process)
    assert code == 137, log.read_text()
    assert ("top", "SIGKILL") in _signals_sent(record)


def _signals_sent(record: Path) -> list[tuple[str, str]]:
    return [(e.entry, e.signal) for e in load_events(record) if isinstance(e, ProcessSignalled)]


def test_until_ready_fails_as_soon_as_a_service_gives_up(tmp_path: Path) -> None:
    config = """
[services.db]
command = "echo db up; exec sleep 600"
[services.db.ready]
log_line = "db up"

[services.app]
command = "echo 'cannot bind' >&2; exit 3"
requires = ["db"]
max_restarts = 1
[services.app.ready]
port = 1

[services.web]
command = "exec sleep 600"
requires = ["app"]
[services.web.ready]
port = 2
"""
    started = time.monotonic()
    process = _start("up", str(_write(tmp_path, config)), "--until-ready", "--timeout", "120")
    code, output = _finish(process, timeout=60)
    assert code == 1, output
    assert time.monotonic() - started < 60  # not the timeout of 120 s
    assert "app gave up; not ready: app, web\n" in output
    assert "  app: failing: gave up after 1 restarts" in output
    assert "  web: waiting for app" in output


FLOOD = """
[services.flood]
command = "yes 'a line from a chatty service, printed over and over again as fast as it can'"
[services.flood.ready]
log_line = "chatty"

[services.steady]
command = "exec sleep 600"
[services.steady.ready]
script = "echo tick >> {ticks}"
interval = 0.25
"""


@pytest.mark.parametrize("sink", ["terminal", "pipe"])
def test_a_flood_of_output_on_a_slow_sink_never_delays_supervision(
    tmp_path: Path, sink: str
) -> None:
    ticks = tmp_path / "ticks"
    record = tmp_path / "run.jsonl"
    config = _write(tmp_path, FLOOD.format(ticks=ticks))
    controller, terminal = os.openpty() if sink == "terminal" else os.pipe()
    process = subprocess.Popen(
        [COMMAND, "up", str(config), "--record", str(record)],
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
        env={**os.environ, "TERM": "xterm", "COLUMNS": "120", "LINES": "40"},
    )
    os.close(terminal)
    shown = bytearray()
    done = threading.Event()

    def slow_reader() -> None:
        """Takes about 100 KB/s, far less than the flood."""
        while not done.is_set():
            try:
                chunk = os.read(controller, 4096)
            except OSError:
                return  # `up` exited and closed its side of the terminal
            if not chunk:
                return  # the pipe's end
            shown.extend(chunk)
            time.sleep(0.04)

    reader = threading.Thread(target=slow_reader)
    reader.start()
    try:
        ready = {"flood", "steady"}
        _wait_for(record, lambda events: set(_entered(events, LifecycleState.READY)) >= ready)
        # Checks due every 0.25 s keep coming: 8 of them take 2 s, not 10.
        counted = _count(ticks)
        deadline = time.monotonic() + 10
        while _count(ticks) < counted + 8:
            assert time.monotonic() < deadline, f"{_count(ticks) - counted} checks in 10 s"
            time.sleep(0.05)
        asked = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _wait_for(record, lambda events: ("flood", "SIGTERM") in _signals_sent(record))
        signalled = next(
            e.at
            for e in load_events(record)
            if isinstance(e, ProcessSignalled) and e.entry == "flood"
        )
        assert signalled - asked < 3  # acted on at once (up's clock is time.monotonic())
        assert process.wait(timeout=30) == 0
    finally:
        done.set()
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join()
        os.close(controller)
    assert b"output lines dropped (flood " in shown


def _count(path: Path) -> int:
    try:
        return len(path.read_text().splitlines())
    except FileNotFoundError:
        return 0


def test_a_reader_that_goes_away_does_not_end_up(tmp_path: Path) -> None:
    """`healthdaemons up FILE | head -1`: later writes fail with EPIPE."""
    record = tmp_path / "run.jsonl"
    config = """
[services.talker]
command = "echo talker up; while :; do echo chatter; sleep 0.01; done"
[services.talker.ready]
log_line = "talker up"
"""
    process = _start("up", str(_write(tmp_path, config)), "--record", str(record))
    assert process.stdout is not None
    process.stdout.readline()
    process.stdout.close()  # the reader is gone
    _wait_for(record, lambda events: _states(events).get("talker") is LifecycleState.READY)
    lines = len(record.read_text().splitlines())
    # `up` went on writing (chatter) and supervising.
    assert process.poll() is None
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert len(record.read_text().splitlines()) > lines
    assert _entered(load_events(record), LifecycleState.STOPPED) == ["talker"]
