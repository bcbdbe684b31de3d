"""The client commands through the installed `healthdaemons`, on a real stack run
by `up --detach`: ps, logs -f, restart, stop, start, wait, events, down."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from coordinator import LifecycleState, Transitioned, load_config, load_events
from coordinator.testing import check_invariants

from .helpers import alive
from .stack import Stack, a_stack, exit_indices, gone, pid_of, spawns, until

FORBIDDEN = ("hypothesis", "trio", "viz", "graphviz", "rich", "coordinator", "statemachines")


def _detach(stack: Stack, *options: str) -> int:
    """`up --detach`; the pid it printed."""
    done = stack.run("up", stack.config.name, "--detach", "--record", str(stack.record), *options)
    (pid,) = re.findall(r"pid (\d+)", done.stdout)
    assert "socket: " in done.stdout
    assert "log: " in done.stdout
    return int(pid)


@contextmanager
def _following(stack: Stack, *arguments: str) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """`healthdaemons ARGUMENTS` running, and the lines it prints, gathered
    by a thread as they come; killed at the end if still running."""
    lines: list[str] = []
    with stack.start(*arguments) as process:

        def read() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                lines.append(line.rstrip("\n"))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            yield process, lines
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)
            reader.join(timeout=30)


def _imported(stack: Stack, *arguments: str) -> set[str]:
    """The modules `healthdaemons ARGUMENTS` imports (python -X importtime)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "healthdaemons", *arguments],
        capture_output=True,
        text=True,
        env=stack.environment,
        cwd=stack.directory,
        timeout=60,
        check=False,
    )
    assert done.returncode in (0, 2), done.stderr
    return {
        line.rpartition("|")[2].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in FORBIDDEN)


def test_ps_with_no_system_running_imports_only_the_client() -> None:
    with a_stack() as stack:
        modules = _imported(stack, "ps", stack.config.name)
        assert "healthdaemons._client" in modules
        assert "httpx" in modules
        assert not _heavy(modules)


def test_the_commands_on_a_real_stack() -> None:
    with a_stack() as stack:
        name = stack.config.name
        # Nothing runs yet: a clear message, exit 2, no traceback.
        done = stack.run("ps", name, code=2)
        assert done.stderr.startswith(f"healthdaemons: no system is running for {name} ")
        assert "(no control socket at " in done.stderr
        assert "Traceback" not in done.stderr

        up = _detach(stack)
        assert alive(up)
        assert stack.run("wait", name, "--timeout", "60").stdout == "everything is ready\n"
        table = stack.run("ps", name).stdout.splitlines()
        assert table[0].split() == ["ID", "KIND", "STATE", "PID", "UPTIME", "RESTARTS", "HEALTH"]
        assert [row.split()[:3] for row in table[1:]] == [
            ["db", "daemon", "ready"],
            ["migrate", "oneshot", "ready"],
            ["web", "daemon", "ready"],
            ["worker", "daemon", "ready"],
        ]
        # A client command against a running system loads only the client.
        modules = _imported(stack, "ps", name)
        assert "healthdaemons._control_commands" in modules
        assert not _heavy(modules)

        # logs: the recent lines; -f sees a line printed after the call started.
        assert "migrate | migrated" in stack.run("logs", name).stdout.splitlines()
        assert stack.run("logs", name, "migrate").stdout == "migrating\nmigrated\n"
        with _following(stack, "logs", name, "web", "-f", "-n", "0") as (follower, seen):

            def printed_after_the_call() -> bool:
                stack.get("/after-the-call")  # web prints a line for each request
                return any("/after-the-call" in line for line in seen)

            until(printed_after_the_call, what="logs -f to show a new line")
            follower.send_signal(signal.SIGINT)
            assert follower.wait(timeout=30) == 130
            assert follower.stderr is not None
            assert follower.stderr.read() == ""  # quietly

        # restart web: a new process, the worker stopped before it and started after it.
        entries = stack.entries()
        web_pid = entries["web"]["pid"]
        before = len(stack.events())
        assert stack.run("restart", name, "web").stdout.startswith("web restarted: ")
        stack.run("wait", name, "--timeout", "60")
        assert stack.entries()["web"]["pid"] != web_pid
        events = stack.events()[before:]
        assert exit_indices(events, "worker")[0] < exit_indices(events, "web")[0]
        assert exit_indices(events, "web")[0] < spawns(events, "web")[0]
        assert spawns(events, "web")[0] < spawns(events, "worker")[0]
        assert pid_of(events, "web") == stack.entries()["web"]["pid"]

        # stop db: its dependents stopped first, then db; they wait for it.
        before = len(stack.events())
        done = stack.run("stop", name, "db")
        assert done.stdout == "db stopped (held until `start` or `restart`)\n"
        events = stack.events()[before:]
        assert exit_indices(events, "worker")[0] < exit_indices(events, "web")[0]
        assert exit_indices(events, "web")[0] < exit_indices(events, "db")[0]
        entries = stack.entries()
        assert (entries["db"]["state"], entries["db"]["held"]) == ("stopped", True)
        for dependent in ("migrate", "web"):
            assert entries[dependent]["state"] == "waiting"
            assert "db" in entries[dependent]["waiting_for"]
        assert entries["worker"]["waiting_for"] == ["web"]
        table = stack.run("ps", name).stdout
        assert re.search(r"^db +daemon +stopped \(held\) +- ", table, re.MULTILINE)
        assert re.search(r"^web +daemon +waiting +- .*Database", table, re.MULTILINE)
        # wait times out while db is held: exit 1, saying who waits.
        done = stack.run("wait", name, "web", "--timeout", "0.5", code=1)
        assert "not ready" in done.stderr

        # start db: everything back.
        assert stack.run("start", name, "db").stdout.startswith("db released: ")
        stack.run("wait", name, "--timeout", "60")
        assert {e["state"] for e in stack.entries().values()} == {"ready"}

        # Mistakes: exit 2, one line each.
        done = stack.run("restart", name, "wbe", code=2)
        assert done.stderr == "healthdaemons: no entry 'wbe' in this system; did you mean 'web'?\n"
        done = stack.run("stop", name, code=2)
        assert "give one entry id" in done.stderr

        # events: the same objects as --record, as text or JSON.
        text = stack.run("events", name).stdout
        assert "db           waiting -> starting  (launch)" in text
        first = json.loads(stack.run("events", name, "--json").stdout.splitlines()[0])
        assert first["type"] == "transitioned"

        # down: in order, and only once up has exited.
        done = stack.run("down", name)
        assert done.stdout.splitlines() == [
            "worker stopped",
            "web stopped",
            "migrate stopped",
            "db stopped",
            f"stopped (pid {up} has exited)",
        ]
        assert not alive(up)
        stack.run("ps", name, code=2)
        history = load_events(stack.record)
        check_invariants(load_config(stack.config).entries, history)
        final = [
            e.entry
            for e in history
            if isinstance(e, Transitioned) and e.dest is LifecycleState.STOPPED
        ][-4:]
        assert final == ["worker", "web", "migrate", "db"]


def test_a_client_killed_in_the_middle_of_logs_f_leaves_the_system_alone() -> None:
    with a_stack() as stack:
        name = stack.config.name
        up = _detach(stack)
        stack.run("wait", name, "--timeout", "60")
        with _following(stack, "logs", name, "-f") as (follower, seen):
            until(lambda: any(re.match(r"worker +\| tick", s) for s in seen), what="a tick")
            follower.kill()
        # The system goes on: it answers, its entries stay ready, a new follower follows.
        assert {e["state"] for e in stack.entries().values()} == {"ready"}
        with _following(stack, "logs", name, "worker", "-f", "-n", "0") as (_, seen):
            until(lambda: "tick" in seen, what="a new follower to see a tick")
        stack.run("restart", name, "worker")
        stack.run("wait", name, "--timeout", "60")
        stack.run("down", name)
        gone(up)


def test_down_while_an_entry_is_starting() -> None:
    text = """\
[services.slow]
command = "echo booting; exec sleep 600"
[services.slow.ready]
log_line = "never printed"
grace_period = 600

[services.after]
command = "exec sleep 600"
requires = ["slow"]
[services.after.ready]
log_line = "never"
"""
    with a_stack(text) as stack:
        name = stack.config.name
        up = _detach(stack)
        until(lambda: stack.entries()["slow"]["state"] == "starting", what="slow starting")
        done = stack.run("down", name)
        assert done.stdout.splitlines() == ["slow stopped", f"stopped (pid {up} has exited)"]
        assert not alive(up)


def test_wait_with_a_timeout_waits_for_an_up_that_is_starting() -> None:
    """`up FILE &` then `wait FILE --timeout S`, as a script does: the wait
    starts before `up` has its socket, and still ends with everything ready.
    Without a timeout, no system is still exit 2 at once."""
    with a_stack() as stack:
        name = stack.config.name
        assert stack.run("wait", name, code=2).stderr.startswith("healthdaemons: no system")
        waiting = stack.start("wait", name, "--timeout", "60")
        up = stack.start("up", name)
        try:
            out, err = waiting.communicate(timeout=90)
            assert waiting.returncode == 0, err
            assert out == "everything is ready\n"
        finally:
            up.send_signal(signal.SIGTERM)
            up.communicate(timeout=60)
        assert stack.run("wait", name, "--timeout", "0.2", code=2).stderr.startswith(
            "healthdaemons: no system"
        )


def test_logs_f_and_events_f_end_with_the_system() -> None:
    with a_stack() as stack:
        name = stack.config.name
        up = _detach(stack)
        stack.run("wait", name, "--timeout", "60")
        with (
            _following(stack, "logs", name, "worker", "-f") as (follower, seen),
            _following(stack, "events", name, "-f") as (events, said),
        ):
            until(lambda: "tick" in seen, what="a tick")
            until(lambda: any("worker" in line for line in said), what="the events so far")
            stack.run("down", name)
            assert follower.wait(timeout=30) == 0
            assert events.wait(timeout=30) == 0
        gone(up)
        assert re.search(r"worker +stopping -> stopped", "\n".join(said))


def test_up_detach_validates_first_and_refuses_a_second_up() -> None:
    with a_stack() as stack:
        name = stack.config.name
        # A bad file: exit 2, nothing started, no log written.
        bad = stack.directory / "bad.toml"
        bad.write_text('[services.x]\ncommand = "sleep 600"\n')
        done = stack.run("up", bad.name, "--detach", code=2)
        assert done.stderr == "healthdaemons: bad.toml: services.x.ready: required for a daemon\n"
        assert list((stack.directory / "run").rglob("*.log")) == []
        done = stack.run("up", name, "--detach", "--until-ready", code=2)
        assert "--detach runs until `down`" in done.stderr

        up = _detach(stack)
        for second in (("--detach",), ()):
            done = stack.run("up", name, *second, code=2)
            assert done.stderr == (
                f"healthdaemons: a system is already running for {name} (pid {up}); "
                f"`healthdaemons down {name}` stops it\n"
            )
        stack.run("down", name)
        assert not alive(up)


def test_up_detach_reports_a_background_up_that_exits_before_answering() -> None:
    with a_stack() as stack, __import__("socket").socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = stack.run(
            "up", stack.config.name, "--detach", "--listen", f"127.0.0.1:{port}", code=1
        )
        assert "the background `up` exited (status 2) before its control socket" in done.stderr
        assert "Address already in use" in done.stderr


def test_a_detached_up_ignores_sighup_and_stops_in_order_on_sigterm() -> None:
    with a_stack() as stack:
        name = stack.config.name
        # `up --detach` from a session with a terminal, as from a shell: the
        # session's leader then goes, and the terminal with it (SIGHUP to the
        # session); the background `up` is in a session of its own.
        leader, terminal = os.openpty()
        parent = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import os, sys; os.login_tty(int(sys.argv[1])); "
                "os.execv(sys.argv[2], sys.argv[2:])",
                str(terminal),
                *_up_argv(stack),
            ],
            pass_fds=(terminal,),
            env=stack.environment,
            cwd=stack.directory,
        )
        os.close(terminal)
        output = _read_all(leader)
        assert parent.wait(timeout=60) == 0, output
        os.close(leader)
        (up,) = (int(pid) for pid in re.findall(r"pid (\d+)", output))
        os.kill(up, signal.SIGHUP)
        stack.run("wait", name, "--timeout", "60")
        assert alive(up)
        paths_log = next((stack.directory / "run").rglob("*.log"))
        # This user's alone: `up` prints its tokens there (--listen, --web).
        assert stat.S_IMODE(paths_log.stat().st_mode) == 0o600
        until(lambda: "SIGHUP ignored" in paths_log.read_text(), what="the note in the log")
        os.kill(up, signal.SIGTERM)
        gone(up)
        log = paths_log.read_text()
        assert "SIGTERM: stopping in order" in log
        assert log.rstrip().endswith("all stopped")
        stopped = [
            e.entry
            for e in load_events(stack.record)
            if isinstance(e, Transitioned) and e.dest is LifecycleState.STOPPED
        ]
        assert stopped == ["worker", "web", "migrate", "db"]


def _up_argv(stack: Stack) -> list[str]:
    from .stack import COMMAND

    return [COMMAND, "up", stack.config.name, "--detach", "--record", str(stack.record)]


def _read_all(fd: int) -> str:
    """What was written to a terminal until its other side closed."""
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def test_no_system_once_up_was_killed() -> None:
    """A SIGKILLed `up` leaves its socket file behind, and its pid lock with no holder."""
    with a_stack() as stack:
        name = stack.config.name
        up = _detach(stack)
        stack.run("wait", name, "--timeout", "60")
        groups = [entry["pid"] for entry in stack.entries().values() if entry["pid"]]
        os.kill(up, signal.SIGKILL)
        gone(up)
        for group in groups:  # what the killed `up` can no longer stop
            os.killpg(group, signal.SIGKILL)
        (socket,) = (stack.directory / "run").rglob("*.sock")
        for command in (["ps"], ["logs", "-f"], ["down"], ["restart", "web"]):
            done = stack.run(command[0], name, *command[1:], code=2)
            assert done.stderr == (
                f"healthdaemons: no system is running for {name} (no control socket at {socket})\n"
            )
        # And a new `up` of the file starts.
        up = _detach(stack)
        stack.run("down", name)
        assert not alive(up)
