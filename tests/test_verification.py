"""verify, explore, simulate and the public strategies, on users' kinds of systems.

Everything here is simulated: no process starts, and the runs take no real time.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coordinator import (
    Command,
    Daemons,
    ExecFn,
    HealthCheckResult,
    LifecycleState,
    ProcessSignalled,
    Ready,
    Transitioned,
)
from coordinator.checks import log_line
from coordinator.testing import (
    EntryFaults,
    ExplorationError,
    Faults,
    FaultSchedule,
    ProcessRun,
    VerificationError,
    explore,
    fault_schedules,
    shutdown_bound,
    simulate,
    systems,
    verify,
    worst_case_schedule,
)
from healthdaemons import main
from statemachines import LifecycleEvent


def ok() -> HealthCheckResult:
    return HealthCheckResult.success()


def chain(*timeouts: float) -> Daemons:
    """Daemons d0 <- d1 <- ... each requiring the one before, with these SIGTERM timeouts."""
    system = Daemons.of()
    for i, timeout in enumerate(timeouts):
        system = system.add_daemon(
            f"d{i}",
            exec=Command(["sleep", "infinity"], sigterm_timeout=timeout),
            ready=Ready(f"D{i}", ok),
            requires=[f"d{i - 1}"] if i else [],
        )
    return system


def stack() -> Daemons:
    """A database, its migration, an API on it, and a smoke check of the API."""
    return (
        Daemons.of()
        .add_daemon("db", exec=Command(["db"], sigterm_timeout=10), ready=Ready("DB", ok))
        .add_oneshot("migrate", exec=Command(["migrate"]), requires=["db"])
        .add_daemon(
            "api",
            exec=Command(["api"], sigterm_timeout=5),
            ready=Ready("API", ok, grace_period=2),
            requires=["migrate"],
        )
        .add_health_check("smoke", ready=Ready("Smoke", ok), requires=["api"])
    )


# verify


def test_verify_passes_a_sound_stack_and_reports_what_it_saw() -> None:
    report = verify(stack(), max_examples=60)
    # No faults, the worst case (once ready, then during a spawn), the random schedules.
    assert report.examples == 63
    assert report.critical_path == ("migrate", "db")
    # A running migration above the db (api not started yet) costs 30 + 10;
    # once it has finished it costs nothing, so the api's chain is 5 + 10.
    # A stop may also wait for a spawn in progress: 0.05 s.
    assert report.worst_case_shutdown == 40.05
    assert 0 < report.worst_shutdown <= report.worst_case_shutdown
    assert report.seen["crashes"] > 0
    assert "63 simulated runs, no violation" in str(report)


def test_a_chain_whose_timeouts_add_up_past_the_budget_is_a_counterexample() -> None:
    with pytest.raises(VerificationError) as caught:
        verify(chain(30, 30, 30), shutdown_budget=60, max_examples=10)
    message = str(caught.value)
    assert message.startswith("shutdown took 90 s, over the budget of 60 s")
    assert "d2 (30 s) -> d1 (30 s) -> d0 (30 s)" in message
    assert "d0: every process: ignores SIGTERM" in message
    assert "30.000  d2           sent SIGKILL" in message
    run = caught.value.run
    assert run is not None
    assert run.shutdown_time == 90


def test_the_budget_holds_when_the_chain_fits() -> None:
    report = verify(chain(10, 10, 10), shutdown_budget=31, max_examples=30)
    assert report.worst_shutdown == pytest.approx(30.05)


def test_verify_takes_a_config_file(tmp_path: Path) -> None:
    config = tmp_path / "system.toml"
    config.write_text(
        '[services.db]\ncommand = ["db"]\nready.port = 5432\nsigterm_timeout = 20\n\n'
        '[services.web]\ncommand = ["web"]\nrequires = ["db"]\nready.port = 8080\n',
        encoding="utf-8",
    )
    report = verify(config, max_examples=20)
    assert report.critical_path == ("web", "db")
    assert report.worst_case_shutdown == 50.05


def test_verify_simulates_functions_announcements_and_subcontainers() -> None:
    async def never_called(_: object) -> None:
        raise AssertionError("verify must not run the user's function")

    system = (
        Daemons.of()
        .add_daemon("fn", exec=ExecFn(never_called, sigterm_timeout=3), ready=Ready("Fn", ok))
        .add_daemon(
            "logged",
            exec=Command(["server"]),
            ready=Ready("Logged", log_line("listening")),
            requires=["fn"],
        )
    )
    report = verify(system, max_examples=40)
    assert report.critical_path == ("logged", "fn")


def test_a_random_search_is_repeatable_with_a_seed() -> None:
    first = verify(stack(), max_examples=20, random_seed=7)
    again = verify(stack(), max_examples=20, random_seed=7)
    assert first == again


def test_faults_can_be_narrowed() -> None:
    calm = Faults(crashes=False, flaps=False, spawn_failures=False, leftovers=False)
    report = verify(stack(), max_examples=30, faults=calm)
    assert "crashes" not in report.seen


def test_a_strategy_of_schedules_can_replace_the_faults() -> None:
    only_late_terms = st.builds(FaultSchedule, term_at=st.floats(100, 200))
    report = verify(stack(), max_examples=10, faults=only_late_terms)
    assert report.examples == 12  # a strategy of its own: no slow spawns


def test_a_system_that_never_gets_ready_is_not_a_violation() -> None:
    # verify checks safety (the invariants), not that everything comes up.
    schedule = FaultSchedule({"db": EntryFaults(check_fails=((0.0, math.inf),))}, term_at=None)
    run = simulate(stack(), schedule)
    assert run.failure is None
    assert run.term_called_at == 60  # the horizon: the db never got ready


# simulate and the strategies, for users' own properties


def test_simulate_plays_a_schedule_against_the_real_rules() -> None:
    schedule = FaultSchedule(
        {"db": EntryFaults(runs=(ProcessRun(exit_after=10, exit_code=1), ProcessRun()))},
        term_at=30,
    )
    run = simulate(stack(), schedule)
    assert run.failure is None
    lost = [
        e.entry
        for e in run.history
        if isinstance(e, Transitioned) and e.event is LifecycleEvent.DEPENDENCY_LOST
    ]
    assert set(lost) == {"migrate", "api", "smoke"}  # the crash cascades, dependents first
    assert run.shutdown_time is not None and run.shutdown_time <= run.shutdown_bound


def test_a_stop_during_a_slow_spawn_waits_for_it() -> None:
    schedule = FaultSchedule({"db": EntryFaults(runs=(ProcessRun(spawn_time=2),))}, term_at=1)
    run = simulate(stack(), schedule)
    assert run.failure is None
    assert run.shutdown_time == 1  # the spawn ends at 2 and the process stops at once
    assert run.shutdown_bound == shutdown_bound(stack().entries, schedule)[0] == 32 + 15


def test_leftover_children_are_stopped_before_a_restart() -> None:
    leaky = ProcessRun(exit_after=1, exit_code=1, leaves_children=True, stop_time=4)
    schedule = FaultSchedule({"db": EntryFaults(runs=(leaky, ProcessRun()))}, term_at=20)
    run = simulate(stack(), schedule)
    assert run.failure is None
    signals = [(e.at, e.signal) for e in run.history if isinstance(e, ProcessSignalled)]
    assert signals[0] == (1, "SIGTERM")


@settings(max_examples=25, deadline=None)
@given(schedule=fault_schedules(stack()))
def test_a_users_own_property_the_api_always_stops_before_the_db(
    schedule: FaultSchedule,
) -> None:
    run = simulate(stack(), schedule)
    assert run.failure is None
    signalled = [e.entry for e in run.history if isinstance(e, ProcessSignalled)]
    if "api" in signalled and "db" in signalled:
        assert signalled.index("api") < len(signalled) - signalled[::-1].index("db")


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_random_systems_under_random_faults_keep_the_invariants(data: st.DataObject) -> None:
    system = data.draw(systems(max_entries=6))
    run = simulate(system, data.draw(fault_schedules(system)))
    assert run.failure is None, run.failure
    assert run.crash is None


def test_the_worst_case_schedule_targets_the_slowest_chain() -> None:
    schedule = worst_case_schedule(stack())
    assert set(schedule.entries) == {"migrate", "db"}
    assert schedule.of("migrate").runs == (ProcessRun(exit_after=None, stop_time=None),)


def test_verify_is_synchronous_and_refuses_a_running_event_loop() -> None:
    async def inside() -> None:
        verify(stack(), max_examples=1)

    with pytest.raises(RuntimeError, match=r"verify\(\) runs its own event loop"):
        anyio.run(inside)


# explore


def test_explore_covers_a_small_system() -> None:
    system = chain(5, 5)
    report = explore(system)
    assert report.complete
    assert report.states > 50
    assert report.transitions >= report.states
    assert "no violation" in str(report)


def test_explore_covers_oneshots_checks_functions_and_announcements() -> None:
    async def work(_: object) -> None:
        await anyio.sleep_forever()

    system = (
        Daemons.of()
        .add_oneshot("setup", exec=ExecFn(work, sigterm_timeout=1))
        .add_daemon(
            "server",
            exec=Command(["server"], sigterm_timeout=2),
            ready=Ready("Server", log_line("up")),
            requires=["setup"],
        )
        .add_health_check("probe", ready=Ready("Probe", ok), requires=["server"])
    )
    report = explore(system)
    assert report.complete


def test_explore_can_be_cut_short() -> None:
    report = explore(stack(), max_states=50)
    assert not report.complete
    assert report.states == 50


# the command


def test_the_verify_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "chain.toml"
    config.write_text(
        '[services.a]\ncommand = ["a"]\nready.port = 1\n\n'
        '[services.b]\ncommand = ["b"]\nrequires = ["a"]\nready.port = 2\n',
        encoding="utf-8",
    )
    assert main(["verify", str(config), "--examples", "10"]) == 0
    assert "no violation" in capsys.readouterr().out
    assert main(["verify", str(config), "--budget", "45", "--examples", "5"]) == 1
    out = capsys.readouterr().out
    assert "shutdown took 60 s, over the budget of 45 s" in out
    assert "Timeline" in out
    assert main(["explore", str(config)]) == 0
    assert "every reachable state" in capsys.readouterr().out
    assert main(["verify", str(tmp_path / "missing.toml")]) == 2
    assert "missing.toml" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["verify", str(config), "--budget", "-1"])
    assert exited.value.code == 2
    assert main(["verify", str(tmp_path / "system.yaml")]) == 2
    assert "a config file (.toml) or as module:attribute" in capsys.readouterr().err
    assert main(["explore", "os:sep"]) == 2
    assert "'os:sep' is a str, not a Daemons" in capsys.readouterr().err


def test_states_end_stopped_in_every_simulated_run() -> None:
    run = simulate(stack(), FaultSchedule(term_at=5))
    final = {e.entry: e.dest for e in run.history if isinstance(e, Transitioned)}
    assert set(final.values()) == {LifecycleState.STOPPED}
    with pytest.raises(ExplorationError):
        raise ExplorationError("x", (), ())


# the worked example of docs/verification.md, as printed there

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "verify"
GUIDE = (EXAMPLES.parent.parent / "docs" / "verification.md").read_text(encoding="utf-8")


def printed(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    main(list(argv))
    return capsys.readouterr().out


def test_the_documented_config_is_the_example() -> None:
    config = (EXAMPLES / "shop.toml").read_text(encoding="utf-8")
    services = config[config.index("[services.db]") :]
    assert f"```toml\n{services}```" in GUIDE


def test_the_documented_counterexamples_are_what_verify_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shop = EXAMPLES / "shop.toml"
    assert printed(capsys, "verify", str(shop), "--budget", "30") in GUIDE
    # The doc's first fix: the migration gets a SIGTERM timeout of 5 s.
    config = shop.read_text(encoding="utf-8")
    step = 'command = ["./migrate.sh"]\n'
    fixed_migration = tmp_path / "shop.toml"
    fixed_migration.write_text(config.replace(step, step + "sigterm_timeout = 5\n"))
    first_line = printed(capsys, "verify", str(fixed_migration), "--budget", "30").split("\n")[0]
    assert first_line.startswith("shutdown took 45 s")
    assert first_line in GUIDE


@pytest.mark.slow  # the documented exploration, seconds long
def test_the_documented_fix_verifies_and_explores(capsys: pytest.CaptureFixture[str]) -> None:
    fixed = str(EXAMPLES / "shop-fixed.toml")
    assert printed(capsys, "verify", fixed, "--budget", "30") in GUIDE
    assert printed(capsys, "explore", fixed) in GUIDE


@pytest.mark.slow  # the documented searches, seconds long
def test_the_documented_python_examples_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = re.findall(r"```python\n(.*?)```", GUIDE, re.S)
    assert len(blocks) == 2
    monkeypatch.chdir(EXAMPLES.parent.parent)  # the examples name files from there
    namespace: dict[str, object] = {"__name__": "verification_md"}
    for block in blocks:
        exec(compile(block, "docs/verification.md", "exec"), namespace)
    tests = [f for name, f in namespace.items() if name.startswith("test_")]
    assert len(tests) == 3
    for test in tests:
        assert callable(test)
        test()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"max_examples": -1}, "max_examples must be a whole number >= 0"),
        ({"shutdown_budget": math.nan}, "shutdown_budget must be seconds >= 0"),
        ({"horizon": 0}, "horizon must be a finite number of seconds > 0"),
    ],
)
def test_verify_rejects_bad_arguments(arguments: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        verify(stack(), **arguments)  # type: ignore[arg-type]


def test_explore_rejects_bad_limits() -> None:
    with pytest.raises(ValueError, match="max_states must be a whole number >= 1"):
        explore(stack(), max_states=0)


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        (FaultSchedule({"dbb": EntryFaults()}), "no entry 'dbb' in the system"),
        (FaultSchedule(term_at=-1), "term_at must be seconds >= 0"),
        (FaultSchedule(term_at=math.nan), "term_at must be seconds >= 0"),
        (
            FaultSchedule({"db": EntryFaults(runs=(ProcessRun(exit_after=-3),))}),
            "db process 1: exit_after must be seconds >= 0 or None",
        ),
        (
            FaultSchedule({"api": EntryFaults(check_fails=((-1.0, 1.0),))}),
            "api: a flap needs a start >= 0",
        ),
    ],
)
def test_a_schedule_that_does_not_fit_is_rejected(schedule: FaultSchedule, message: str) -> None:
    with pytest.raises(ValueError, match=f"^fault schedule: {message}"):
        simulate(stack(), schedule)


@pytest.mark.slow  # an exhaustive exploration, seconds long
def test_explore_counts_no_time_for_a_spawn() -> None:
    # A timer of one branch must not fire while a spawn of another is under
    # way: spawns take milliseconds, and the bound of term() counts none.
    system = (
        Daemons.of()
        .add_daemon("a", exec=Command(["a"], sigterm_timeout=1), ready=Ready("A", ok))
        .add_daemon("b", exec=Command(["b"], sigterm_timeout=1), ready=Ready("B", ok))
        .add_daemon(
            "c", exec=Command(["c"], sigterm_timeout=1), ready=Ready("C", ok), requires=["a"]
        )
    )
    assert explore(system).complete
