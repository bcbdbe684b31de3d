"""The pytest plugin: the `start_system` fixture, and `StartSystem` and the
shutdown checks it is made of.

The fixture is used directly here (the async tests, on both backends), and
through `pytester` for what it reports: a test that fails inside a test run
is an outcome the outer test can look at. The inner runs are in-process, so
their processes are this process's descendants too, and the autouse fixture
of `conftest.py` fails any of these tests that leaves one alive.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import pytest

from coordinator import (
    Command,
    Daemons,
    ExecFn,
    HealthCheckResult,
    LifecycleState,
    ProcessExited,
    ProcessSignalled,
    ProcessSpawned,
    Ready,
    RunningDaemons,
)
from coordinator._entry import Entry
from coordinator.checks import check_port_listening, log_line
from coordinator.errors import WaitTimeoutError
from coordinator.testing import (
    InvariantViolation,
    StartSystem,
    UncleanShutdown,
    check_clean_shutdown,
    leftover_processes,
)

from .helpers import PYTHON, alive, always_ready, last_pid, quick, sleeper, stat, stopped_order

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]

# A daemon whose child leaves the daemon's process group (`setpgid`, so the
# group's SIGTERM and SIGKILL miss it) but stays in its session, ignores
# SIGTERM, and says so once it has escaped (its outputs then let go of the
# pipes, so that the supervisor does not wait for them).
ESCAPEE = """
import os, signal, time
if os.fork() == 0:
    os.setpgid(0, 0)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("escaped", flush=True)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    time.sleep(1000)
    os._exit(0)
time.sleep(1000)
"""


def escapee_system() -> Daemons:
    return Daemons.of().add_daemon(
        "escapee",
        exec=Command([PYTHON, "-I", "-S", "-c", ESCAPEE], sigterm_timeout=5),
        ready=Ready("Escapee", log_line("escaped")),
    )


def chain() -> Daemons:
    return (
        Daemons.of()
        .add_daemon("db", exec=sleeper(), ready=always_ready("Database"))
        .add_daemon("web", exec=sleeper(), ready=always_ready("Web"), requires=["db"])
    )


async def start_and_stop(started: list[RunningDaemons], *systems: Daemons) -> None:
    """Run `systems` in a `StartSystem` block, appending each to `started`."""
    async with StartSystem(leftover_wait=0.2) as start:
        for system in systems:
            started.append(await start(system, wait_ready=10))


@pytest.fixture
def after_teardown() -> Iterator[list[Callable[[], None]]]:
    """Checks to run once `start_system` has torn down: request this fixture
    before it, and it is torn down after it."""
    checks: list[Callable[[], None]] = []
    yield checks
    for check in checks:
        check()


# The fixture, used directly.


async def test_a_real_system_is_stopped_in_order(
    after_teardown: list[Callable[[], None]], start_system: StartSystem, free_tcp_port: int
) -> None:
    port = free_tcp_port
    server = Command([PYTHON, "-I", "-S", "-m", "http.server", str(port), "--bind", "127.0.0.1"])
    system = (
        Daemons.of()
        .add_daemon("web", exec=server, ready=quick(lambda: check_port_listening(port), "Web"))
        .add_daemon("worker", exec=sleeper(), ready=always_ready("Worker"), requires=["web"])
        .add_health_check("smoke", ready=always_ready("Smoke"), requires=["worker"])
    )
    # Any cancel scope may be around the start: the system runs in a task of its own.
    with anyio.fail_after(10):
        running = await start_system(system, wait_ready=10)
    assert running.state("smoke") is LifecycleState.READY
    web, worker = last_pid(running, "web"), last_pid(running, "worker")

    def stopped_in_order() -> None:
        history = running.history
        assert stopped_order(history) == ["smoke", "worker", "web"]
        stops = [
            (type(e).__name__, e.entry)
            for e in history
            if isinstance(e, ProcessSignalled | ProcessExited)
        ]
        assert stops == [
            ("ProcessSignalled", "worker"),
            ("ProcessExited", "worker"),
            ("ProcessSignalled", "web"),
            ("ProcessExited", "web"),
        ]
        assert not alive(web)
        assert not alive(worker)

    after_teardown.append(stopped_in_order)


async def test_systems_stop_in_reverse_order_of_their_start(
    after_teardown: list[Callable[[], None]], start_system: StartSystem
) -> None:
    async def serve(_: object) -> None:
        await anyio.sleep_forever()

    first = await start_system(chain(), wait_ready=10)
    in_process = Daemons.of().add_daemon(
        "fn", exec=ExecFn(serve), ready=always_ready("Function")
    )  # no process: its `ProcessSpawned` has no pid
    second = await start_system(in_process.add_daemon("cmd", exec=sleeper(), ready=always_ready()))
    await second.wait_ready(10)
    spawned = {e.entry: e.pid for e in second.history if isinstance(e, ProcessSpawned)}
    assert spawned["fn"] is None
    assert stat(last_pid(second, "cmd"))[3] == spawned["cmd"]  # a session leader

    def second_stopped_before_first_began() -> None:
        assert start_system.systems == (first, second)
        stopped = max(e.at for e in second.history if isinstance(e, ProcessExited))
        signalled = min(e.at for e in first.history if isinstance(e, ProcessSignalled))
        assert stopped <= signalled
        assert stopped_order(first.history) == ["web", "db"]

    after_teardown.append(second_stopped_before_first_began)


async def test_a_timeout_of_wait_ready_still_stops_and_checks(start_system: StartSystem) -> None:
    never = Ready("Never", lambda: HealthCheckResult.loading("not yet"))
    system = chain().add_health_check("never", ready=never, requires=["web"])
    with pytest.raises(WaitTimeoutError, match="Timed out waiting for never"):
        await start_system(system, wait_ready=0.3)


async def test_start_system_takes_a_system_to_build(start_system: StartSystem) -> None:
    with pytest.raises(TypeError, match="takes a Daemons"):
        await start_system(chain().build())  # type: ignore[arg-type]


# StartSystem and the checks, directly.


async def test_a_leftover_in_the_session_is_found_and_killed() -> None:
    started: list[RunningDaemons] = []
    with pytest.raises(UncleanShutdown) as caught:
        await start_and_stop(started, escapee_system())
    (running,) = started
    leader = last_pid(running, "escapee")
    problem = caught.value
    assert problem.entries == ("escapee",)
    assert problem.violation is None
    (leftover,) = problem.leftovers
    assert leftover.entry == "escapee"
    assert leftover.leader == leftover.session == leader
    assert leftover.pgrp == leftover.pid != leader  # its own group: only the session betrays it
    assert "-c" in leftover.command
    assert not alive(leftover.pid)
    assert running.state("escapee") is LifecycleState.STOPPED
    message = str(problem)
    assert message.startswith(
        "the system (escapee) did not shut down cleanly (entries escapee):\n"
        "- processes alive after the shutdown (killed now):\n"
        f"    pid {leftover.pid} (session of escapee's process {leader}): {PYTHON} -I -S -c"
    )


async def test_an_error_in_the_block_comes_out_as_itself_with_the_problems_noted() -> None:
    with pytest.raises(ValueError, match="the test's own failure") as caught:  # noqa: PT012
        async with StartSystem(leftover_wait=0.2) as start:
            running = await start(escapee_system(), wait_ready=10)
            raise ValueError("the test's own failure")
    assert running.state("escapee") is LifecycleState.STOPPED
    (note,) = caught.value.__notes__
    assert note.startswith("the system (escapee) did not shut down cleanly")


async def test_a_disordered_shutdown_breaks_invariant_1(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Entry, "no_dependent_running", lambda self: True)
    with pytest.raises(UncleanShutdown) as caught:
        await start_and_stop([], chain())
    problem = caught.value
    assert isinstance(problem.violation, InvariantViolation)
    assert problem.violation.invariant == 1
    assert problem.entries == ("db", "web")
    assert re.search(
        r"^- invariant 1: db signalled at \S+ while its dependents web still run$",
        str(problem),
        re.M,
    )


async def test_problems_of_several_systems_come_out_together(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Entry, "no_dependent_running", lambda self: True)
    with pytest.raises(UncleanShutdown) as caught:
        await start_and_stop([], escapee_system(), chain())
    problem = caught.value
    assert problem.entries == ("escapee", "db", "web")
    assert len(problem.leftovers) == 1
    assert problem.violation is not None
    first, second = str(problem).split("\n\n")
    assert first.startswith("the system (escapee)")
    assert second.startswith("the system (db, web)")


async def test_start_system_needs_its_block() -> None:
    start = StartSystem()
    with pytest.raises(RuntimeError, match="needs its block"):
        await start(chain())
    async with start:
        pass
    with pytest.raises(RuntimeError, match="needs its block"):
        await start(chain())
    with pytest.raises(RuntimeError, match="only once"):
        async with start:
            pass


def test_a_system_never_run_is_not_stopped() -> None:
    running = chain().build()
    assert leftover_processes(running) == []
    with pytest.raises(UncleanShutdown) as caught:
        check_clean_shutdown(running)
    assert str(caught.value) == (
        "the system (db, web) did not shut down cleanly (entries db, web):\n"
        "- not stopped: db is waiting, web is waiting"
    )


# What the fixture reports, through pytester (in-process).

INNER_OPTIONS = ("-W", "error", "-W", "ignore::pytest.PytestAssertRewriteWarning")
"""Warnings are errors, as in this suite; but the package of the plugin is
imported already, so that the inner run cannot rewrite its asserts."""

INNER_CONFTEST = """
import pytest

@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request):
    return request.param
"""

INNER_HEADER = f"""
import pytest
from coordinator import Command, Daemons, HealthCheckResult, LifecycleState, Ready
from coordinator._entry import Entry
from coordinator.checks import log_line

ESCAPEE = {ESCAPEE!r}
PYTHON = {PYTHON!r}

def ok():
    return HealthCheckResult.success()

def chain():
    return (
        Daemons.of()
        .add_daemon("db", exec=Command(["sleep", "1000"]), ready=Ready("Database", ok))
        .add_daemon("web", exec=Command(["sleep", "1000"]), ready=Ready("Web", ok), requires=["db"])
    )

def escapee():
    return Daemons.of().add_daemon(
        "escapee",
        exec=Command([PYTHON, "-I", "-S", "-c", ESCAPEE], sigterm_timeout=5),
        ready=Ready("Escapee", log_line("escaped")),
    )

@pytest.fixture
def stopped():
    # Requested before start_system, so torn down after it.
    systems = []
    yield systems
    for running in systems:
        assert {{running.state(i) for i in running.ids}} == {{LifecycleState.STOPPED}}
"""


def run_inner(pytester: pytest.Pytester, tests: str) -> dict[tuple[str, str], pytest.TestReport]:
    """Run `tests` in-process on both backends; each test's reports by (name, phase)."""
    pytester.makeconftest(INNER_CONFTEST)
    pytester.makepyfile(test_inner=INNER_HEADER + tests)
    recorder = pytester.inline_run("-p", "no:cacheprovider", *INNER_OPTIONS)
    reports = recorder.getreports("pytest_runtest_logreport")
    return {(r.nodeid.partition("::")[2], r.when): r for r in reports}


def test_the_fixture_passes_a_clean_shutdown_on_both_backends(pytester: pytest.Pytester) -> None:
    reports = run_inner(
        pytester,
        """
@pytest.mark.anyio
async def test_clean(stopped, start_system):
    running = await start_system(chain(), wait_ready=10)
    stopped.append(running)
    assert running.state("web") is LifecycleState.READY
""",
    )
    for backend in ("asyncio", "trio"):
        for phase in ("setup", "call", "teardown"):
            assert reports[f"test_clean[{backend}]", phase].passed


def test_the_fixture_stops_the_system_when_the_test_fails(pytester: pytest.Pytester) -> None:
    reports = run_inner(
        pytester,
        """
@pytest.mark.anyio
async def test_raises(stopped, start_system):
    stopped.append(await start_system(chain(), wait_ready=10))
    raise ValueError("the test's own failure")
""",
    )
    for backend in ("asyncio", "trio"):
        call = reports[f"test_raises[{backend}]", "call"]
        assert call.failed
        assert "ValueError: the test's own failure" in call.longreprtext
        assert reports[f"test_raises[{backend}]", "teardown"].passed


def test_the_fixture_fails_the_test_on_a_leftover_and_kills_it(
    pytester: pytest.Pytester,
) -> None:
    # On asyncio only: the fixture waits its full 2 s before it calls a
    # process a leftover (both backends are covered directly above).
    reports = run_inner(
        pytester,
        """
@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_leftover(start_system):
    await start_system(escapee(), wait_ready=10)
    raise ValueError("the test's own failure")
""",
    )
    call = reports["test_leftover[asyncio]", "call"]
    assert call.failed
    assert "ValueError: the test's own failure" in call.longreprtext
    teardown = reports["test_leftover[asyncio]", "teardown"]
    assert teardown.failed
    text = teardown.longreprtext
    assert text.startswith(
        "healthdaemons: the system (escapee) did not shut down cleanly (entries escapee):\n"
        "- processes alive after the shutdown (killed now):\n"
        "    pid "
    )
    assert re.search(rf"\(session of escapee's process \d+\): {re.escape(PYTHON)} -I -S -c", text)
    assert "Traceback" not in text and "def " not in text  # the message only
    # (The autouse fixture checks that the leftover is dead.)


def test_the_fixture_fails_the_test_on_a_disordered_shutdown(pytester: pytest.Pytester) -> None:
    reports = run_inner(
        pytester,
        """
@pytest.mark.anyio
async def test_disorder(monkeypatch, start_system):
    monkeypatch.setattr(Entry, "no_dependent_running", lambda self: True)
    await start_system(chain(), wait_ready=10)
""",
    )
    for backend in ("asyncio", "trio"):
        assert reports[f"test_disorder[{backend}]", "call"].passed
        teardown = reports[f"test_disorder[{backend}]", "teardown"]
        assert teardown.failed
        assert re.fullmatch(
            r"healthdaemons: the system \(db, web\) did not shut down cleanly "
            r"\(entries db, web\):\n"
            r"- invariant 1: db signalled at \S+ while its dependents web still run",
            teardown.longreprtext,
        )


def test_the_documented_example_passes(pytester: pytest.Pytester) -> None:
    document = (ROOT / "docs" / "pytest-plugin.md").read_text()
    (example,) = re.findall(r"```python\n(# test_web\.py.*?)```", document, re.S)
    pytester.makepyfile(test_web=example)
    recorder = pytester.inline_run("-p", "no:cacheprovider", *INNER_OPTIONS)
    recorder.assertoutcome(passed=len(anyio.get_available_backends()))  # anyio's default


def test_the_plugin_imports_nothing_of_its_own_at_import_time() -> None:
    # pytest imports it in every run of every project that has healthdaemons installed.
    source = (ROOT / "coordinator" / "pytest_plugin.py").read_text()
    top_level = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert top_level == [
        "from __future__ import annotations",
        "from collections.abc import AsyncIterator",
        "from typing import TYPE_CHECKING",
        "import pytest",
    ]
