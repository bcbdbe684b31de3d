"""Commands as real processes: isolation, the stop policy, environment and output."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

import anyio
import pytest

from coordinator import (
    Command,
    Daemons,
    ExecFn,
    HealthCheckResult,
    LifecycleState,
    Ready,
    SubContainer,
    SubContainerDestroyed,
)
from coordinator._process_table import ProcessStat, all_processes
from coordinator.checks import log_line

from ..support import Switch
from .helpers import (
    alive,
    always_ready,
    children_of,
    exits,
    last_pid,
    pids,
    poll_until,
    quick,
    runs,
    signals,
    sleeper,
    stat,
    stopped_order,
)

# Every test here, on both ways of running a child (the conftest).
pytestmark = pytest.mark.usefixtures("process_layer")

READY = LifecycleState.READY
WAITING = LifecycleState.WAITING


async def test_every_service_is_its_own_session_and_group_leader() -> None:
    system = Daemons.of()
    for name in ("a", "b", "c"):
        system = system.add_daemon(name, exec=sleeper(), ready=always_ready())
    async with system.build() as running:
        await running.wait_ready(timeout=10)
        for name in ("a", "b", "c"):
            pid = last_pid(running, name)
            _, _, group, session = stat(pid)
            assert group == pid
            assert session == pid
        assert os.getpgid(0) != last_pid(running, "a")


async def test_kill_zero_in_one_service_leaves_the_others_alone() -> None:
    """The seed's first fix: a TERM handler that runs `kill -TERM 0` reaches only its tree."""
    gate = Switch()
    killer = Command("trap 'trap - TERM; kill -TERM 0; exit 0' TERM; sleep 1000 & wait")
    system = (
        Daemons.of()
        .add_health_check("gate", ready=quick(gate))
        .add_daemon("killer", exec=killer, ready=always_ready(), requires=["gate"])
        .add_daemon("left", exec=sleeper(), ready=always_ready())
        .add_daemon("right", exec=sleeper(), ready=always_ready())
    )
    async with system.build() as running:
        await running.wait_ready(timeout=10)
        before = {name: last_pid(running, name) for name in ("left", "right")}
        killer_pid = last_pid(running, "killer")
        gate.ok = False
        assert await running.wait_until(lambda: running.state("killer") is WAITING, 10)
        assert signals(running.history, "killer") == ["SIGTERM"]
        assert exits(running.history, "killer")[-1].clean
        assert not alive(killer_pid)
        for name, pid in before.items():
            assert running.state(name) is READY
            assert pids(running.history, name) == [pid]
            assert alive(pid)


async def test_a_service_ignoring_sigterm_is_killed_with_its_whole_tree() -> None:
    stubborn = Command("trap '' TERM; sleep 1000 & sleep 1000 & wait; wait", sigterm_timeout=0.5)
    system = Daemons.of().add_daemon("stubborn", exec=stubborn, ready=always_ready())
    async with system.build() as running:
        await running.wait_ready(timeout=10)
        leader = last_pid(running, "stubborn")
        await poll_until(lambda: len(children_of(leader)) >= 2)
        tree = [leader, *children_of(leader)]
        with anyio.fail_after(10):
            await running.term()
        assert signals(running.history, "stubborn") == ["SIGTERM", "SIGKILL"]
        assert exits(running.history, "stubborn")[-1].description == "signal SIGKILL"
    assert not any(alive(pid) for pid in tree)


async def test_the_stop_waits_for_the_group_after_the_leader_exits() -> None:
    """A leader that exits at once on SIGTERM while a helper it forked ignores it."""
    leader = Command(
        "(trap '' TERM; exec sleep 1000) & trap 'exit 0' TERM; while :; do sleep 0.05; done",
        sigterm_timeout=0.5,
    )
    system = Daemons.of().add_daemon("leader", exec=leader, ready=always_ready())
    async with system.build() as running:
        await running.wait_ready(timeout=10)
        pid = last_pid(running, "leader")
        # Only once it runs `sleep` has the helper set its trap: before, a
        # SIGTERM would end it at once.
        await poll_until(lambda: any(runs(child, "sleep", "1000") for child in children_of(pid)))
        with anyio.fail_after(10):
            await running.term()
        assert signals(running.history, "leader") == ["SIGTERM", "SIGKILL"]
        assert exits(running.history, "leader")[-1].clean  # the leader went on SIGTERM


async def test_a_daemon_that_leaves_a_helper_behind_gets_it_stopped_before_restarting() -> None:
    gone_first = Command("sleep 1000 & exit 1")
    system = Daemons.of().add_daemon(
        "forker", exec=gone_first, ready=always_ready(), max_restarts=0
    )
    async with system.build() as running:
        assert await running.wait_until(lambda: bool(exits(running.history, "forker")), 10)
        assert signals(running.history, "forker") == ["SIGTERM"]
        assert exits(running.history, "forker")[0].description == "exit code 1"


async def test_env_adds_to_the_environment_and_cwd_and_output_lines_arrive(
    tmp_path: Path,
) -> None:
    out: list[str] = []
    err: list[str] = []
    script = 'echo "foo=$FOO"; echo "path=${PATH:+set}"; pwd; echo oops >&2; printf tail'
    command = Command(
        script, env={"FOO": "bar"}, cwd=tmp_path, on_stdout=out.append, on_stderr=err.append
    )
    system = Daemons.of().add_oneshot("task", exec=command)
    async with system.build() as running:
        await running.wait_ready(timeout=10)
    assert out == ["foo=bar", "path=set", str(tmp_path), "tail"]
    assert err == ["oops"]


async def test_output_without_callbacks_goes_to_logging(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="healthdaemons.output")
    system = Daemons.of().add_oneshot("talker", exec=Command("echo hello; echo there >&2"))
    async with system.build() as running:
        await running.wait_ready(timeout=10)
    messages = sorted(r.getMessage() for r in caplog.records if r.name == "healthdaemons.output")
    assert messages == ["[talker] hello", "[talker] there"]


async def test_leaving_by_exception_stops_in_reverse_order() -> None:
    system = (
        Daemons.of()
        .add_daemon("db", exec=sleeper(), ready=always_ready())
        .add_daemon("api", exec=sleeper(), ready=always_ready(), requires=["db"])
        .add_daemon("web", exec=sleeper(), ready=always_ready(), requires=["api"])
    )
    running = system.build()

    async def fail_inside() -> None:
        async with running:
            await running.wait_ready(timeout=10)
            raise LookupError("boom")

    with pytest.raises(LookupError, match="boom"):
        await fail_inside()
    assert stopped_order(running.history) == ["web", "api", "db"]
    assert all(signals(running.history, name) == ["SIGTERM"] for name in ("db", "api", "web"))


@pytest.mark.parametrize("cancel_after", [0.0, 0.005, 0.03])
async def test_cancellation_while_starting_leaks_nothing(cancel_after: float) -> None:
    system = Daemons.of()
    for index in range(6):
        requires = [f"s{index - 1}"] if index else []
        system = system.add_daemon(
            f"s{index}",
            exec=Command("sleep 1000 & exec sleep 1000"),
            ready=always_ready(),
            requires=requires,
        )
    with anyio.move_on_after(cancel_after):
        async with system.build() as running:
            await running.wait_ready(timeout=10)
    assert all(state is LifecycleState.STOPPED for state in running.statistics().states.values())


async def test_an_exec_fn_may_return_the_command_to_run() -> None:
    seen: list[object] = []
    place = SubContainer("place")

    async def prepare(subcontainer: object) -> Command:
        seen.append(subcontainer)
        return sleeper()

    system = Daemons.of().add_daemon(
        "prepared", exec=ExecFn(prepare), ready=always_ready(), subcontainer=place
    )
    async with system.build() as running:
        assert await running.wait_until(lambda: bool(pids(running.history, "prepared")), 10)
        assert seen == [place]
        assert [e.description for e in exits(running.history, "prepared")] == ["returned a command"]
    assert exits(running.history, "prepared")[-1].description == "signal SIGTERM"


class RecordingSubContainer(SubContainer):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.destroyed = 0

    def wrap(self, argv: list[str]) -> list[str]:
        return ["env", f"INSIDE={self.name}", *argv]

    async def destroy(self) -> None:
        self.destroyed += 1


async def test_a_shared_subcontainer_is_destroyed_once_after_its_last_user_stopped() -> None:
    place = RecordingSubContainer("box")
    lines: list[str] = []
    gate = Switch()
    system = (
        Daemons.of()
        .add_health_check("gate", ready=quick(gate))
        .add_daemon(
            "first",
            exec=Command('echo "inside=$INSIDE"; exec sleep 1000', on_stdout=lines.append),
            ready=Ready(None, log_line("inside=")),
            requires=["gate"],
            subcontainer=place,
        )
        .add_daemon("second", exec=sleeper(), ready=always_ready(), subcontainer=place)
    )
    async with system.build() as running:
        await running.wait_ready(timeout=10)
        gate.ok = False  # `first` stops for a lost dependency: not for good
        assert await running.wait_until(lambda: running.state("first") is WAITING, 10)
        gate.ok = True
        await running.wait_ready(timeout=10)
        assert place.destroyed == 0
        assert len(pids(running.history, "first")) == 2
    assert place.destroyed == 1
    assert lines == ["inside=box", "inside=box"]
    history = running.history
    destroyed = [i for i, e in enumerate(history) if isinstance(e, SubContainerDestroyed)]
    stopped = [
        i
        for i, e in enumerate(history)
        if getattr(e, "dest", None) is LifecycleState.STOPPED and e.entry in ("first", "second")
    ]
    assert len(destroyed) == 1
    assert destroyed[0] > max(stopped)


async def test_a_function_sees_its_signal_as_a_cancel_and_a_command_as_sigterm() -> None:
    """Exit classification: a death by the supervisor's own signal is clean."""
    system = Daemons.of().add_daemon(
        "plain", exec=Command(["sh", "-c", "exec sleep 1000"]), ready=always_ready()
    )
    async with system.build() as running:
        await running.wait_ready(timeout=10)
    (exit_,) = exits(running.history, "plain")
    assert exit_.clean
    assert exit_.returncode == -signal.SIGTERM


async def test_a_crash_is_not_clean_even_by_a_signal() -> None:
    system = Daemons.of().add_daemon(
        "victim", exec=Command("kill -KILL $$"), ready=always_ready(), max_restarts=0
    )
    async with system.build() as running:
        assert await running.wait_until(
            lambda: (
                running.health("victim") == HealthCheckResult.failure("gave up after 0 restarts")
            ),
            10,
        )
    first = exits(running.history, "victim")[0]
    assert not first.clean
    assert first.description == "signal SIGKILL"


MEMBER = """
# member.sh LOG NAME DEPTH: a well-behaved member of a tree. It records
# the SIGTERM it gets and exits; it never signals anyone else.
log=$1 name=$2 depth=$3
trap 'echo "$name" >> "$log"; exit 0' TERM
if [ "$depth" -gt 0 ]; then
    sh "$0" "$log" "$name.1" $((depth - 1)) &
    sh "$0" "$log" "$name.2" $((depth - 1)) &
fi
sleep 1000 &
wait
"""


async def test_a_well_behaved_tree_stops_on_the_sigterm_alone(tmp_path: Path) -> None:
    """Every member gets the SIGTERM (not the leader alone) and no SIGKILL is needed."""
    script = tmp_path / "member.sh"
    script.write_text(MEMBER)
    log = tmp_path / "terms"
    command = Command(["sh", str(script), str(log), "leader", "2"], sigterm_timeout=30)
    system = Daemons.of().add_daemon("tree", exec=command, ready=always_ready())
    members = ["leader", "leader.1", "leader.2"]
    members += [f"{child}.{index}" for child in members[1:] for index in (1, 2)]
    async with system.build() as running:
        await running.wait_ready(timeout=10)
        leader = last_pid(running, "tree")

        def armed() -> bool:
            # Each member sets its trap before it starts its `sleep`.
            group = [p.pid for p in all_processes() if p.pgrp == leader]
            return sum(runs(pid, "sleep", "1000") for pid in group) == len(members)

        await poll_until(armed)
        # Well within sigterm_timeout: a SIGTERM to the leader alone would
        # leave the others running until the SIGKILL 30 s later.
        with anyio.fail_after(10):
            await running.term()
        assert signals(running.history, "tree") == ["SIGTERM"]
        assert exits(running.history, "tree")[-1].clean
    assert sorted(log.read_text().split()) == sorted(members)
    assert not any(p.pgrp == leader and p.alive for p in all_processes())


@pytest.mark.parametrize("run_as_init", [False, True])
async def test_a_stopped_process_is_not_healthy(run_as_init: bool) -> None:
    system = Daemons.of().add_daemon(
        "frozen",
        exec=sleeper(run_as_init=run_as_init),
        ready=quick(lambda: HealthCheckResult.success("fine")),
    )
    async with system.build() as running:
        await running.wait_ready(timeout=10)
        leader = last_pid(running, "frozen")
        # Under the init, the command alone is stopped: the init runs on.
        target = leader
        if run_as_init:
            await poll_until(lambda: any(runs(pid, "sleep", "1000") for pid in children_of(leader)))
            (target,) = [pid for pid in children_of(leader) if runs(pid, "sleep", "1000")]
        os.kill(target, signal.SIGSTOP)
        stopped = f"process {target} is stopped (SIGSTOP)"
        # (Within its grace period, the failure shows as `starting`.)
        assert await running.wait_until(
            lambda: getattr(running.health("frozen"), "message", None) == stopped, 10
        )
        assert running.state("frozen") is LifecycleState.FAILING
        os.kill(target, signal.SIGCONT)
        assert await running.wait_until(lambda: running.state("frozen") is READY, 10)
        assert running.health("frozen") == HealthCheckResult.success("fine")


@pytest.mark.parametrize("run_as_init", [False, True])
async def test_a_stopped_group_stops_on_sigterm(run_as_init: bool) -> None:
    """SIGCONT follows the SIGTERM, so stopped members see it without waiting for SIGKILL."""
    command = Command("sleep 1000 & exec sleep 1000", sigterm_timeout=30, run_as_init=run_as_init)
    system = Daemons.of().add_daemon("frozen", exec=command, ready=always_ready())
    async with system.build() as running:
        await running.wait_ready(timeout=10)
        leader = last_pid(running, "frozen")

        def group() -> list[ProcessStat]:
            return [p for p in all_processes() if p.pgrp == leader and p.alive]

        await poll_until(lambda: sum(runs(p.pid, "sleep", "1000") for p in group()) == 2)
        os.killpg(leader, signal.SIGSTOP)
        await poll_until(lambda: all(p.state == "T" for p in group()))
        with anyio.fail_after(10):
            await running.term()
        assert signals(running.history, "frozen") == ["SIGTERM"]
    assert not group()


async def test_the_init_continues_the_stopped_leftovers_it_terminates() -> None:
    command = Command("sleep 1000 & kill -STOP $!; exit 3", run_as_init=True, sigterm_timeout=30)
    system = Daemons.of().add_daemon("leaver", exec=command, ready=always_ready(), max_restarts=0)
    async with system.build() as running:
        # The init reports the exit once the group is gone: well before 30 s.
        assert await running.wait_until(lambda: bool(exits(running.history, "leaver")), 10)
        assert exits(running.history, "leaver")[0].description == "exit code 3"
        assert signals(running.history, "leaver") == []
