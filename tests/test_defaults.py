"""Every default is set once (`coordinator/_defaults.py`), and the table that
`healthdaemons defaults` prints is the one the docs show."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path

import pytest

import coordinator._defaults as defaults
import coordinator.testing
import healthdaemons._file_commands
from coordinator import Command, ExecFn, MemoryHost, Ready, SubContainer
from coordinator._defaults import DEFAULTS, defaults_table
from coordinator._process_handle import RestartBackoff
from coordinator.testing import check_clean_shutdown, explore, fault_schedules, simulate, verify
from coordinator.triggers import FIRST_RETRY, RETRY_FRACTION, SLOWEST_RETRY, SUCCESS_INTERVAL
from healthdaemons import main

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_every_default_is_in_the_table_once() -> None:
    constants = [name for name in defaults.__all__ if name.isupper() and name != "DEFAULTS"]
    assert sorted(row.constant for row in DEFAULTS) == sorted(constants)
    for row in DEFAULTS:
        assert row.value == getattr(defaults, row.constant)


def test_the_options_take_their_defaults_from_the_module() -> None:
    ready = Ready("Db", lambda: None)  # type: ignore[arg-type,return-value]
    assert ready.grace_period is defaults.GRACE_PERIOD
    assert ready.timeout is defaults.READY_TIMEOUT
    assert Command("true").sigterm_timeout is defaults.SIGTERM_TIMEOUT
    assert ExecFn(print).sigterm_timeout is defaults.SIGTERM_TIMEOUT  # type: ignore[arg-type]
    assert MemoryHost().history_limit is defaults.HISTORY_LIMIT
    assert SubContainer().destroy_timeout is defaults.SUBCONTAINER_DESTROY_TIMEOUT
    backoff = RestartBackoff()
    assert backoff.cap is defaults.RESTART_DELAY_CAP
    assert backoff.reset_after is defaults.RESTART_RESET_AFTER
    assert (FIRST_RETRY, RETRY_FRACTION, SLOWEST_RETRY, SUCCESS_INTERVAL) == (
        0.005,
        0.25,
        1.0,
        30.0,
    )
    wait = inspect.signature(check_clean_shutdown).parameters["wait"].default
    assert wait is defaults.LEFTOVER_WAIT


def _default(function: Callable[..., object], parameter: str) -> object:
    return inspect.signature(function).parameters[parameter].default


def test_the_searches_take_their_defaults_from_the_module() -> None:
    assert _default(verify, "max_examples") is defaults.VERIFY_EXAMPLES
    for function in (verify, simulate, fault_schedules):
        assert _default(function, "horizon") is defaults.FAULT_HORIZON
    assert _default(explore, "max_states") is defaults.EXPLORE_MAX_STATES
    assert _default(explore, "max_depth") is defaults.EXPLORE_MAX_DEPTH


@pytest.mark.parametrize(
    ("arguments", "given"),
    [
        (["verify", "s.toml"], {}),
        (
            ["verify", "s.toml", "--examples", "7", "--seed", "3", "--budget", "9"],
            {"max_examples": 7, "random_seed": 3, "shutdown_budget": 9.0},
        ),
        (["explore", "s.toml"], {}),
        (["explore", "s.toml", "--max-states", "5"], {"max_states": 5}),
    ],
)
def test_the_command_leaves_the_searches_their_defaults(
    arguments: list[str], given: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`healthdaemons verify` without `--examples` runs `verify`'s default
    number, the one `healthdaemons defaults` shows, not a copy of it."""
    passed: dict[str, object] = {}

    def search(system: object, **options: object) -> str:
        passed.update(options)
        return "searched"

    monkeypatch.setattr(coordinator.testing, arguments[0], search)
    monkeypatch.setattr(healthdaemons._file_commands, "load_system", lambda reference: reference)
    assert main(arguments) == 0
    assert passed == given


def test_the_spec_defaults() -> None:
    """docs/spec.md section 9."""
    shown = {row.value: row.shown for row in DEFAULTS}
    assert shown[defaults.GRACE_PERIOD] == "5 s"
    assert shown[defaults.SIGTERM_TIMEOUT] == "30 s"
    assert (defaults.CHECK_TIMEOUT, defaults.SCRIPT_TIMEOUT) == (1.0, 30.0)
    assert (defaults.RESTART_DELAY_CAP, defaults.RESTART_RESET_AFTER) == (30.0, 60.0)


def test_the_command_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["defaults"]) == 0
    assert capsys.readouterr().out == defaults_table() + "\n"


@pytest.mark.parametrize(("document", "topics"), [("config.md", ()), ("checks.md", ("checks",))])
def test_the_docs_show_the_table(document: str, topics: tuple[defaults.Topic, ...]) -> None:
    assert defaults_table(*topics) in (DOCS / document).read_text()
