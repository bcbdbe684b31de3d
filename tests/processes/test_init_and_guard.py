"""The minimal init (`run_as_init`) and the guard against a dying supervisor."""

from __future__ import annotations

import functools
import os
import pwd
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from coordinator import Command, Daemons, LifecycleState, Ready
from coordinator.checks import log_line, run_health_script

from . import leftovers
from .helpers import (
    alive,
    always_ready,
    children_of,
    exits,
    last_pid,
    poll_until,
    runs,
    signals,
    sleeper,
    stat,
)

# Every test here, on both ways of running a child (the conftest).
pytestmark = pytest.mark.usefixtures("process_layer")


async def test_the_init_reaps_orphans_of_its_tree() -> None:
    # The subshell exits at once, orphaning its `sleep 0.2`, which the init
    # adopts (as subreaper) and reaps when it ends.
    command = Command("(sleep 0.2 &); exec sleep 1000", run_as_init=True)
    system = Daemons.of().add_daemon("parent", exec=command, ready=always_ready())
    async with system.build() as running:
        await running.wait_ready(timeout=10)
        init = last_pid(running, "parent")

        adopted = False

        def the_orphan_came_and_went() -> bool:
            nonlocal adopted
            children = children_of(init)
            adopted = adopted or len(children) > 1
            return adopted and len(children) == 1 and stat(children[0])[0] != "Z"

        await poll_until(the_orphan_came_and_went)
        (command_pid,) = children_of(init)
        assert stat(command_pid)[2] == init  # the command shares the init's group


async def test_the_init_forwards_sigterm_and_exits_as_its_command() -> None:
    lines: list[str] = []
    command = Command(
        # `armed` once the helper runs `sleep` (before its exec, a SIGTERM
        # would still meet the shell's trap in it).
        "trap 'echo got-term; exit 0' TERM; sleep 1000 & "
        'until [ "$(cat /proc/$!/comm)" = sleep ]; do :; done; echo armed; wait',
        run_as_init=True,
        on_stdout=lines.append,
    )
    armed = Ready(None, log_line("armed"))
    system = Daemons.of().add_daemon("trapper", exec=command, ready=armed)
    async with system.build() as running:
        await running.wait_ready(timeout=10)
    assert lines == ["armed", "got-term"]
    assert signals(running.history, "trapper") == ["SIGTERM"]
    (exit_,) = exits(running.history, "trapper")
    assert (exit_.returncode, exit_.clean) == (0, True)


@pytest.mark.parametrize(
    ("script", "description"),
    [("exit 3", "exit code 3"), ("kill -KILL $$", "signal SIGKILL")],
)
async def test_the_init_passes_on_how_its_command_ended(script: str, description: str) -> None:
    command = Command(script, run_as_init=True)
    system = Daemons.of().add_daemon("ender", exec=command, ready=always_ready(), max_restarts=0)
    async with system.build() as running:
        assert await running.wait_until(
            lambda: running.state("ender") is LifecycleState.FAILING, 10
        )
    (exit_,) = exits(running.history, "ender")
    assert (exit_.description, exit_.clean) == (description, False)


SUPERVISOR = """
import sys, anyio
from coordinator import Command, Daemons, HealthCheckResult, Ready

backend, guarded = sys.argv[1], sys.argv[2] == "True"
ok = Ready(None, lambda: HealthCheckResult.success())

async def main() -> None:
    system = (
        Daemons.of(orphan_guard=guarded)
        .add_daemon("forker", exec=Command("sleep 1000 & exec sleep 1000"), ready=ok)
        .add_daemon("plain", exec=Command(["sleep", "1000"]), ready=ok, requires=["forker"])
        .add_daemon("inited", exec=Command("sleep 1000", run_as_init=True), ready=ok)
    )
    async with system.build() as running:
        await running.wait_ready(timeout=20)
        print("ready", flush=True)
        await anyio.sleep_forever()

anyio.run(main, backend=backend)
"""


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize("guarded", [True, False])
def test_a_killed_supervisor_takes_its_trees_with_it_when_guarded(
    backend: str, guarded: bool
) -> None:
    supervisor = subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR, backend, str(guarded)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert supervisor.stdout is not None
        readable, _, _ = select.select([supervisor.stdout], [], [], 30)
        assert readable, "the supervisor did not get ready"
        assert supervisor.stdout.readline() == "ready\n"
        # Ready as soon as spawned: the inits may still be starting their commands.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            tree = leftovers.descendants(supervisor.pid)
            if sum(p.command == "sleep 1000" for p in tree) == 4:
                break
            time.sleep(0.01)
        pids = [p.pid for p in tree]
        # Guarded: each of the 3 commands has its init and the init's guardian.
        assert len(pids) == (11 if guarded else 6)
    finally:
        supervisor.kill()
        supervisor.wait()
        assert supervisor.stdout is not None
        supervisor.stdout.close()
    if guarded:
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not any(alive(pid) for pid in pids)
    else:
        # What the guard is for: without it, the trees outlive their supervisor.
        survivors = [pid for pid in pids if alive(pid)]
        assert survivors
        for pid in survivors:
            os.kill(pid, signal.SIGKILL)


async def test_the_init_kills_what_ignores_its_sigterm_and_reports_the_real_exit() -> None:
    # The command crashes and leaves a helper that ignores SIGTERM: the init
    # sends SIGTERM to the group, SIGKILL after the timeout, then exits 3.
    command = Command("trap '' TERM; sleep 1000 & exit 3", run_as_init=True, sigterm_timeout=0.3)
    system = Daemons.of().add_daemon("crasher", exec=command, ready=always_ready())
    async with system.build() as running:
        assert await running.wait_until(lambda: len(exits(running.history, "crasher")) >= 1, 10)
        first = exits(running.history, "crasher")[0]
        assert (first.description, first.clean) == ("exit code 3", False)
        assert signals(running.history, "crasher") == []  # the init did it all


async def test_a_huge_sigterm_timeout_under_the_init() -> None:
    # An infinite one is refused when the entry is added (see test_builder).
    command = Command("sleep 1000 & exit 3", run_as_init=True, sigterm_timeout=1e300)
    system = Daemons.of().add_daemon("endless", exec=command, ready=always_ready(), max_restarts=0)
    async with system.build() as running:
        assert await running.wait_until(lambda: bool(exits(running.history, "endless")), 10)
    assert exits(running.history, "endless")[0].description == "exit code 3"


async def test_commands_under_the_guard_do_not_hold_its_pipe() -> None:
    lines: list[str] = []
    command = Command("ls /proc/$$/fd", on_stdout=lines.append)
    system = Daemons.of(orphan_guard=True).add_oneshot("lister", exec=command)
    async with system.build() as running:
        await running.wait_ready(timeout=10)
    assert sorted(lines) == ["0", "1", "2"]


CONFIG_SUPERVISOR = """
import functools, sys, anyio
from coordinator import Ready, load_config
from coordinator.checks import run_health_script

backend, config, with_probe = sys.argv[1], sys.argv[2], sys.argv[3] == "True"
system = load_config(config)
if with_probe:
    # A library check beside the config file's own: a script that runs long.
    script = "trap '' TERM; sleep 1004 & exec sleep 1005"
    probe = functools.partial(run_health_script, script, 600)
    system = system.add_health_check("probe", ready=Ready(None, probe))

async def main() -> None:
    async with system.build():
        await anyio.sleep_forever()

anyio.run(main, backend=backend)
"""


def _kill_guarded_supervisor(
    config: Path,
    backend: str,
    expected: set[str],
    before_kill: Callable[[list[leftovers.ProcessInfo]], None] = lambda tree: None,
    with_probe: bool = False,
) -> None:
    """Run `config` in a supervisor (`with_probe`: and a long script check),
    SIGKILL it once every command in `expected` runs, and check that its
    whole tree is gone."""
    argv = [sys.executable, "-c", CONFIG_SUPERVISOR, backend, str(config), str(with_probe)]
    supervisor = subprocess.Popen(argv)
    tree: list[leftovers.ProcessInfo] = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and supervisor.poll() is None:
            tree = leftovers.descendants(supervisor.pid)
            if expected <= {p.command for p in tree}:
                break
            time.sleep(0.01)
        assert expected <= {p.command for p in tree}, "the supervisor did not start everything"
        before_kill(tree)
    finally:
        supervisor.kill()
        supervisor.wait()
    pids = [p.pid for p in tree]
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    survivors = [p for p in tree if alive(p.pid)]
    for info in survivors:
        os.kill(info.pid, signal.SIGKILL)
    assert not survivors


SCRIPT = """
orphan_guard = true

[services.app]
command = "exec sleep 1000"
ready = { script = "trap '' TERM; sleep 1002 & exec sleep 1003", timeout = 600 }
"""

STUBBORN = """
orphan_guard = true

[services.stubborn]
command = "trap '' TERM; sleep 1006 & sleep 1007 & echo up; wait"
sigterm_timeout = 600
ready.log_line = "up"
"""


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_the_guard_covers_health_scripts(backend: str, tmp_path: Path) -> None:
    """A config file's `ready.script` and a `run_health_script` check, both still
    running, with members that ignore SIGTERM."""
    config = tmp_path / "guarded.toml"
    config.write_text(SCRIPT)
    scripts = {"sleep 1002", "sleep 1003", "sleep 1004", "sleep 1005"}
    _kill_guarded_supervisor(config, backend, {"sleep 1000", *scripts}, with_probe=True)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_the_guard_kills_whole_groups_that_ignore_sigterm(backend: str, tmp_path: Path) -> None:
    """Not just the command: every member, with a sigterm_timeout far beyond the test's."""
    config = tmp_path / "guarded.toml"
    config.write_text(STUBBORN)
    _kill_guarded_supervisor(config, backend, {"sleep 1006", "sleep 1007"})


FROZEN = """
orphan_guard = true

[services.app]
command = "echo up; sleep 1008 & exec sleep 1009"
ready.log_line = "up"
"""


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_the_guard_kills_a_stopped_group(backend: str, tmp_path: Path) -> None:
    """A SIGSTOP to the group freezes its init too; the guardian is outside the group."""
    config = tmp_path / "guarded.toml"
    config.write_text(FROZEN)

    def freeze(tree: list[leftovers.ProcessInfo]) -> None:
        (command,) = [p for p in tree if p.command == "sleep 1009"]
        group = stat(command.pid)[2]
        os.killpg(group, signal.SIGSTOP)
        members = [p.pid for p in tree if alive(p.pid) and stat(p.pid)[2] == group]
        assert len(members) == 3  # the init, its command and the background sleep
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(stat(pid)[0] != "T" for pid in members):
            time.sleep(0.01)
        assert all(stat(pid)[0] == "T" for pid in members)

    _kill_guarded_supervisor(config, backend, {"sleep 1008", "sleep 1009"}, freeze)


@pytest.fixture
def service_user() -> Iterator[pwd.struct_passwd]:
    """A real unprivileged account, created for the test and removed after it."""
    if os.geteuid() != 0:
        pytest.skip("creating a user and dropping privileges need root")
    if shutil.which("useradd") is None or shutil.which("userdel") is None:
        pytest.skip("useradd and userdel are not installed")
    name = f"hdtest{os.getpid()}"
    argv = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name]
    for _ in range(20):  # another test run may hold the lock on /etc/passwd
        created = subprocess.run(argv, capture_output=True, text=True)
        if created.returncode != 10:  # 10: cannot lock
            break
        time.sleep(0.1)
    assert created.returncode == 0, created.stderr
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], check=True, capture_output=True)


@pytest.fixture
def hidden_python(
    tmp_path: Path, service_user: pwd.struct_passwd, monkeypatch: pytest.MonkeyPatch
) -> str:
    """Make the supervisor's Python one the service user cannot run (root can)."""
    hidden = tmp_path / "hidden"
    hidden.mkdir(mode=0o700)
    python = hidden / "python"
    python.symlink_to(sys.executable)
    as_user = subprocess.run(["test", "-x", str(python)], user=service_user.pw_uid)
    assert as_user.returncode != 0, "the service user can run the supervisor's Python"
    monkeypatch.setattr(sys, "executable", str(python))
    return str(python)


def _ids(pid: int) -> dict[str, list[int]]:
    """The Uid, Gid and Groups lines of /proc/PID/status."""
    with open(f"/proc/{pid}/status") as status:
        lines = [line.split(":", 1) for line in status]
    wanted = ("Uid", "Gid", "Groups")
    return {key: [int(n) for n in value.split()] for key, value in lines if key in wanted}


@pytest.mark.parametrize("guarded", [False, True], ids=["run_as_init", "orphan_guard"])
@pytest.mark.usefixtures("hidden_python")
async def test_the_init_runs_a_command_as_another_user(
    guarded: bool, service_user: pwd.struct_passwd
) -> None:
    uid, gid = service_user.pw_uid, service_user.pw_gid
    # Under the guard, the check's script runs under the init as well.
    as_the_user = Command(f'[ "$(id -u)" = {uid} ]', user=uid)
    system = Daemons.of(orphan_guard=guarded).add_daemon(
        "service",
        exec=sleeper(run_as_init=not guarded, user=service_user.pw_name),
        ready=Ready(None, functools.partial(run_health_script, as_the_user)),
    )
    async with system.build() as running:
        await running.wait_ready(timeout=10)
        init = last_pid(running, "service")
        await poll_until(lambda: any(runs(pid, "sleep", "1000") for pid in children_of(init)))
        (command,) = [pid for pid in children_of(init) if runs(pid, "sleep", "1000")]
        assert _ids(init)["Uid"] == [0, 0, 0, 0]  # the init keeps the supervisor's user
        ids = _ids(command)
        assert ids["Uid"] == [uid] * 4
        assert ids["Gid"] == [gid] * 4
        assert sorted(ids["Groups"]) == sorted(set(os.getgrouplist(service_user.pw_name, gid)))
        assert stat(command)[2:] == (init, init)  # its group and session are the init's
    assert signals(running.history, "service") == ["SIGTERM"]
    assert exits(running.history, "service")[-1].clean


@pytest.mark.parametrize("run_as_init", [False, True], ids=["plain", "run_as_init"])
async def test_a_program_the_user_cannot_run_fails_to_start_with_or_without_the_init(
    run_as_init: bool, service_user: pwd.struct_passwd, tmp_path: Path
) -> None:
    """The init drops privileges itself, but the program is still checked as
    the service's user before the spawn: it cannot start, as without the init
    (not a crash with exit code 127)."""
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    program = private / "serve"
    program.write_text("#!/bin/sh\nexec sleep 1000\n")
    program.chmod(0o755)
    system = Daemons.of().add_daemon(
        "service",
        exec=Command([str(program)], user=service_user.pw_name, run_as_init=run_as_init),
        ready=always_ready(),
    )
    async with system.build() as running:

        def reported() -> bool:
            health = running.health("service")
            return health is not None and "could not start" in (health.message or "")

        assert await running.wait_until(reported, timeout=10), running.health("service")
        health = running.health("service")
        assert health is not None
        assert "permission denied" in (health.message or "")
