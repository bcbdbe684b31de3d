"""Readiness that a process announces: a matching log line, or sd_notify's READY=1."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from coordinator import (
    Command,
    Daemons,
    Event,
    HealthCheckResult,
    HealthReported,
    HealthStatus,
    LifecycleState,
    Ready,
    Transitioned,
)
from coordinator.checks import log_line, sd_notify
from coordinator.errors import InvalidEntryError

from .helpers import PYTHON, poll_until, python, signals, sleeper

# Every test here, on both ways of running a child (the conftest).
pytestmark = pytest.mark.usefixtures("process_layer")

READY = LifecycleState.READY
SUCCESS = HealthStatus.SUCCESS

NOTIFY = """
import os, socket, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b"STATUS=warming up", os.environ["NOTIFY_SOCKET"])
s.sendto(b"STATUS=all good\\nREADY=1", os.environ["NOTIFY_SOCKET"])
time.sleep(1000)
"""


def _entered_ready(history: list[Event], entry: str) -> int:
    return sum(
        1
        for e in history
        if isinstance(e, Transitioned)
        and e.entry == entry
        and e.dest is READY
        and e.source is not READY
    )


async def test_a_chain_of_log_line_services_becomes_ready_without_polling() -> None:
    system = Daemons.of()
    for index in range(8):
        system = system.add_daemon(
            f"s{index}",
            exec=Command("echo starting; echo listening on 1234; exec sleep 1000"),
            ready=Ready(f"S{index}", log_line(r"listening on \d+")),
            requires=[f"s{index - 1}"] if index else [],
        )
    started = time.monotonic()
    async with system.build() as running:
        await running.wait_ready(timeout=10)
        elapsed = time.monotonic() - started
        assert running.health("s7") == HealthCheckResult.success("listening on 1234")
    # Polling would cost at least a check interval (50 ms) per link.
    assert elapsed < 8 * 0.05 * 4


async def test_a_log_line_on_the_wrong_stream_does_not_count() -> None:
    command = Command("echo ready >&2; exec sleep 1000")
    system = Daemons.of().add_daemon(
        "picky", exec=command, ready=Ready("Picky", log_line("ready", stream="stdout"), 0.3)
    )
    async with system.build() as running:
        assert await running.wait_until(
            lambda: running.state("picky") is LifecycleState.FAILING, 10
        )
        assert running.health("picky") == HealthCheckResult.failure(
            "still waiting for a line of stdout matching 'ready' after 0.3 s"
        )


async def test_each_new_process_announces_again(tmp_path: Path) -> None:
    marker = tmp_path / "second"
    script = (
        f"if [ -e {marker} ]; then echo ready again; exec sleep 1000; fi; "
        f"touch {marker}; echo ready; exit 1"
    )
    system = Daemons.of().add_daemon(
        "again", exec=Command(script), ready=Ready("Again", log_line("ready"))
    )
    async with system.build() as running:
        assert await running.wait_until(lambda: _entered_ready(running.history, "again") == 2, 10)
        assert running.health("again") == HealthCheckResult.success("ready again")


async def test_sd_notify_ready_with_its_status() -> None:
    system = (
        Daemons.of()
        .add_daemon("notifier", exec=python(NOTIFY), ready=Ready("Notifier", sd_notify()))
        .add_daemon(
            "after",
            exec=sleeper(),
            ready=Ready("After", log_line("never"), 5.0),
            requires=["notifier"],
        )
    )
    async with system.build() as running:
        assert await running.wait_until(
            lambda: running.state("after") is LifecycleState.STARTING, 10
        )
        assert running.health("notifier") == HealthCheckResult.success("all good")


@pytest.mark.skipif(shutil.which("systemd-notify") is None, reason="systemd-notify not installed")
async def test_systemd_notify_the_program() -> None:
    command = Command("systemd-notify --ready --status='from systemd-notify'; exec sleep 1000")
    system = Daemons.of().add_daemon("sd", exec=command, ready=Ready("Sd", sd_notify()))
    async with system.build() as running:
        await running.wait_ready(timeout=10)
        assert running.health("sd") == HealthCheckResult.success("from systemd-notify")


async def test_an_announcement_under_the_init_and_after_an_exec_fn() -> None:
    system = Daemons.of().add_daemon(
        "inited",
        exec=Command("echo up; exec sleep 1000", run_as_init=True),
        ready=Ready("Inited", log_line("up")),
    )
    async with system.build() as running:
        await running.wait_ready(timeout=10)


def test_a_health_check_cannot_wait_for_an_announcement() -> None:
    with pytest.raises(InvalidEntryError, match="a health check runs no process to announce it"):
        Daemons.of().add_health_check("gate", ready=Ready("Gate", log_line("x")))


async def test_what_outlives_its_leader_cannot_make_the_entry_ready() -> None:
    command = Command(
        "trap '' TERM; (sleep 0.2; echo listening; exec sleep 1000) & exit 3",
        sigterm_timeout=0.6,
    )
    system = Daemons.of().add_daemon(
        "ghost", exec=command, ready=Ready("Ghost", log_line("listening")), max_restarts=0
    )
    async with system.build() as running:
        assert await running.wait_until(lambda: "SIGKILL" in signals(running.history, "ghost"), 10)
        assert not any(isinstance(e, Transitioned) and e.dest is READY for e in running.history)


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")
@pytest.mark.skipif(not os.path.exists("/usr/bin/python3"), reason="needs a system Python")
async def test_sd_notify_from_a_command_running_as_another_user() -> None:
    # The venv's Python may live where `nobody` cannot read.
    command = Command(["/usr/bin/python3", "-I", "-S", "-c", NOTIFY], user="nobody")
    system = Daemons.of().add_daemon("notifier", exec=command, ready=Ready("Notifier", sd_notify()))
    async with system.build() as running:
        await running.wait_ready(timeout=10)


async def test_a_notify_socket_path_fits_even_under_a_long_tmpdir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deep = tmp_path / ("d" * 100)
    deep.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(deep))
    system = Daemons.of().add_daemon(
        "notifier", exec=python(NOTIFY), ready=Ready("Notifier", sd_notify())
    )
    async with system.build() as running:
        await running.wait_ready(timeout=10)


NOTIFY_DATAGRAMS = """
import array, fcntl, os, socket, sys, termios, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for datagram in sys.argv[1:]:
    s.sendto(datagram.encode(), os.environ["NOTIFY_SOCKET"])
# A datagram's memory counts against its sender until the receiver has read
# it: once nothing is queued, the supervisor has read every datagram.
deadline = time.monotonic() + 10
queued = array.array("i", [1])
while queued[0] and time.monotonic() < deadline:
    fcntl.ioctl(s.fileno(), termios.TIOCOUTQ, queued)
print("read" if not queued[0] else "still queued", flush=True)
time.sleep(1000)
"""


@pytest.mark.parametrize(
    ("datagrams", "message"),
    [
        # STATUS first, alone: the last one before READY=1 is the message.
        (["STATUS=warming up", "STATUS=all good", "READY=1"], "all good"),
        # READY=1 first: a STATUS after it does not change the message.
        (["READY=1", "STATUS=too late"], None),
        # Repeated: only the first READY=1 announces, with the STATUS it had.
        (["STATUS=one", "READY=1", "STATUS=two", "READY=1", "STATUS=three\nREADY=1"], "one"),
    ],
)
async def test_sd_notify_in_separate_datagrams(datagrams: list[str], message: str | None) -> None:
    lines: list[str] = []
    command = Command(
        [PYTHON, "-I", "-S", "-c", NOTIFY_DATAGRAMS, *datagrams], on_stdout=lines.append
    )
    system = Daemons.of().add_daemon("notifier", exec=command, ready=Ready("N", sd_notify()))
    async with system.build() as running:
        await running.wait_ready(timeout=10)
        await poll_until(lambda: bool(lines))
        assert lines == ["read"]
        assert running.health("notifier") == HealthCheckResult.success(message)
        assert _entered_ready(running.history, "notifier") == 1
        successes = [
            e
            for e in running.history
            if isinstance(e, HealthReported) and e.entry == "notifier" and e.result is SUCCESS
        ]
        assert [e.message for e in successes] == [message]
