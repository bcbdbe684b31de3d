"""One rule per numeric option: the builder, the options' classes, the checks,
the triggers and config files refuse the same bad value with the same words.
Nothing here runs a process (a bad `run_health_script` argument is refused
before its spawn)."""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from coordinator import Command, Daemons, ExecFn, HealthCheckResult, Liveness, MemoryHost, Ready
from coordinator._config import load_config
from coordinator._validation import OPTION_RULES, argv_problem, option_problem
from coordinator.checks import check_port_listening, check_web_url, log_line, run_health_script
from coordinator.errors import ConfigError, InvalidEntryError
from coordinator.triggers import cooldown_trigger, status_trigger

BAD_VALUES: list[object] = [-1, math.nan, math.inf, "5", True]
TOML = {-1: "-1", "5": '"5"', True: "true"}


def _toml(value: object) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else "inf"
    return TOML[value]


def ok() -> HealthCheckResult:
    return HealthCheckResult.success()


async def _idle(_: object) -> None:
    pass


def _daemon(**options: Any) -> Daemons:
    return Daemons.of().add_daemon("db", exec=Command("true"), ready=Ready("D", ok), **options)


# What each option is called through the API, each way it can be given: a
# call that raises, and the name the message gives the option.
API: dict[str, list[tuple[Callable[[Any], object], str]]] = {
    "grace_period": [
        (
            lambda v: Daemons.of().add_health_check("db", ready=Ready("D", ok, v)),
            "ready.grace_period",
        )
    ],
    "timeout": [
        (
            lambda v: Daemons.of().add_health_check("db", ready=Ready("D", ok, timeout=v)),
            "ready.timeout",
        ),
        (lambda v: _daemon(liveness=Liveness(ok, timeout=v)), "liveness.timeout"),
    ],
    "sigterm_timeout": [
        (
            lambda v: Daemons.of().add_oneshot("db", exec=Command("true", sigterm_timeout=v)),
            "exec.sigterm_timeout",
        ),
        (
            lambda v: Daemons.of().add_oneshot("db", exec=ExecFn(_idle, sigterm_timeout=v)),
            "exec.sigterm_timeout",
        ),
    ],
    "max_restarts": [
        (
            lambda v: Daemons.of().add_oneshot("db", exec=Command("true"), max_restarts=v),
            "max_restarts",
        )
    ],
    "start_timeout": [(lambda v: _daemon(start_timeout=v), "start_timeout")],
    "failures": [(lambda v: _daemon(liveness=Liveness(ok, failures=v)), "liveness.failures")],
    "interval": [
        (lambda v: _daemon(liveness=Liveness(ok, interval=v)), "liveness.interval"),
        (cooldown_trigger, "interval"),
        (lambda v: status_trigger(1.0, {"success": v}), "interval"),
    ],
    "history_limit": [
        (lambda v: Daemons.of().build(history_limit=v), "history_limit"),
        (MemoryHost, "history_limit"),
    ],
    "output_lines": [(lambda v: Daemons.of().build(output_lines=v), "output_lines")],
    "output_bytes": [(lambda v: Daemons.of().build(output_bytes=v), "output_bytes")],
    "lines": [
        (lambda v: Daemons.of().build().output(lines=v), "lines"),
        (lambda v: Daemons.of().build().follow_output(lines=v), "lines"),
    ],
}

# The checks' own arguments, called as a check would be.
CHECKS: dict[str, list[Callable[[Any], Awaitable[object]]]] = {
    "timeout": [
        lambda v: check_port_listening(80, timeout=v),
        lambda v: check_web_url("http://127.0.0.1/", timeout=v),
        lambda v: run_health_script(["true"], v),
    ],
    "port": [check_port_listening],
}

# Where each option goes in a config file: the service's keys, the ready table's.
CONFIG: dict[str, tuple[str, str]] = {
    "sigterm_timeout": ("sigterm_timeout = {}", "port = 80"),
    "max_restarts": ("max_restarts = {}", "port = 80"),
    "start_timeout": ("start_timeout = {}", "port = 80"),
    "grace_period": ("", "port = 80\ngrace_period = {}"),
    "timeout": ("", "port = 80\ntimeout = {}"),
    "interval": ("", "port = 80\ninterval = {}"),
    "port": ("", "port = {}"),
}


def _phrase(option: str, value: object) -> str:
    phrase = option_problem(option, value)
    assert phrase is not None, (option, value)
    return phrase


def test_every_numeric_option_has_a_rule_and_a_way_in() -> None:
    assert set(OPTION_RULES) == set(API) | set(CHECKS) | set(CONFIG)
    assert set(CONFIG) <= set(API) | set(CHECKS)


@pytest.mark.parametrize("value", BAD_VALUES, ids=repr)
@pytest.mark.parametrize("option", sorted(API))
def test_the_api_refuses_a_bad_value_by_the_options_rule(option: str, value: object) -> None:
    for call, named in API[option]:
        with pytest.raises((InvalidEntryError, ValueError)) as caught:
            call(value)
        assert str(caught.value).endswith(f"{named} {_phrase(option, value)}")


@pytest.mark.parametrize("value", BAD_VALUES, ids=repr)
@pytest.mark.parametrize("option", sorted(CHECKS))
async def test_the_checks_refuse_a_bad_value_by_the_options_rule(
    option: str, value: object
) -> None:
    for call in CHECKS[option]:
        expected = f"{option} {_phrase(option, value)}"
        with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
            await call(value)


@pytest.mark.parametrize("value", BAD_VALUES, ids=repr)
@pytest.mark.parametrize("option", sorted(CONFIG))
def test_a_config_file_refuses_a_bad_value_by_the_same_rule(
    option: str, value: object, tmp_path: Path
) -> None:
    service, ready = (part.format(_toml(value)) for part in CONFIG[option])
    path = tmp_path / "app.toml"
    path.write_text(f'[services.db]\ncommand = "true"\n{service}\n[services.db.ready]\n{ready}\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    key = option if service else f"ready.{option}"
    assert str(caught.value) == f"{path}: services.db.{key}: {_phrase(option, value)}"


@pytest.mark.parametrize("option", ["sigterm_timeout", "grace_period", "timeout", "interval"])
def test_durations_are_finite(option: str) -> None:
    """Infinity is refused everywhere: docs/spec.md section 9 gives every
    duration a finite default, and an endless SIGTERM wait would hide a hang
    (a stuck stop blocks the shutdown of everything the entry requires)."""
    assert _phrase(option, math.inf) == "must be a finite number, not inf"


BAD_COMMANDS: list[tuple[object, str]] = [
    ("", '""'),
    ("  ", '"  "'),
    ([], "[]"),
    ([""], '[""]'),
    (["ls", "a\0b"], '["ls", "a\\u0000b"]'),
    (["ls", 5], '["ls", 5]'),
    (5, "5"),
]


@pytest.mark.parametrize(("command", "toml"), BAD_COMMANDS, ids=repr)
def test_a_bad_command_is_refused_in_the_same_words(
    command: object, toml: str, tmp_path: Path
) -> None:
    found = argv_problem(command)
    assert found is not None
    index, phrase = found
    at = "" if index is None else f"[{index}]"
    with pytest.raises(InvalidEntryError) as caught:
        Daemons.of().add_oneshot("db", exec=Command(command))  # type: ignore[arg-type]
    assert str(caught.value) == f"oneshot 'db': exec.command{at} {phrase}"
    path = tmp_path / "app.toml"
    path.write_text(f'[services.db]\nkind = "oneshot"\ncommand = {toml}\n')
    with pytest.raises(ConfigError) as caught_in_file:
        load_config(path)
    assert str(caught_in_file.value) == f"{path}: services.db.command{at}: {phrase}"


def test_a_bad_stream_is_refused_in_the_same_words(tmp_path: Path) -> None:
    phrase = "must be stdout, stderr or both, not 'out'"
    with pytest.raises(ValueError, match=f"^stream {phrase}$"):
        log_line("up", stream="out")  # type: ignore[arg-type]
    path = tmp_path / "app.toml"
    path.write_text(
        '[services.db]\ncommand = "true"\nready = { log_line = "up", stream = "out" }\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: services.db.ready.stream: {phrase}"


NOT_CALLABLE: Any = "not a function"


@pytest.mark.parametrize(
    ("add", "option"),
    [
        (lambda d: d.add_health_check("web", ready=Ready("W", NOT_CALLABLE)), "ready.fn"),
        (
            lambda d: d.add_health_check("web", ready=Ready("W", ok, trigger=NOT_CALLABLE)),
            "ready.trigger",
        ),
        (lambda d: d.add_oneshot("web", exec=ExecFn(NOT_CALLABLE)), "exec.fn"),
        (
            lambda d: d.add_oneshot("web", exec=Command("true", on_stdout=NOT_CALLABLE)),
            "exec.on_stdout",
        ),
        (
            lambda d: d.add_oneshot("web", exec=Command("true", on_stderr=NOT_CALLABLE)),
            "exec.on_stderr",
        ),
    ],
)
def test_what_is_not_callable_is_refused_in_the_same_words(
    add: Callable[[Daemons], object], option: str
) -> None:
    with pytest.raises(InvalidEntryError) as caught:
        add(Daemons.of())
    assert str(caught.value).endswith(f"'web': {option} must be callable, not str")
