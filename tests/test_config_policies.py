"""The keys of a config file that say how a service's run ends and restarts:
`restart`, `start_timeout`, `[services.ID.liveness]`, `exit_on_failure`,
`once` (docs/config.md). Nothing here runs a process."""

from __future__ import annotations

import functools
import textwrap
from pathlib import Path

import pytest

from coordinator import Liveness, load_config
from coordinator.checks import check_port_listening, check_web_url, run_health_script
from coordinator.errors import ConfigError

DAEMON = """
[services.app]
command = "exec sleep 600"
{keys}
[services.app.ready]
port = 8080
{tables}
"""


def _load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "app.toml"
    path.write_text(textwrap.dedent(text))
    return load_config(path)


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text)
    return str(caught.value).removeprefix(f"{tmp_path / 'app.toml'}: ")


def _daemon(tmp_path: Path, keys: str = "", tables: str = "") -> object:
    return _load(tmp_path, DAEMON.format(keys=keys, tables=tables))


def test_a_daemon_takes_its_policies(tmp_path: Path) -> None:
    system = _daemon(
        tmp_path,
        'restart = "on-failure"\nstart_timeout = 30\nmax_restarts = 2\nexit_on_failure = true',
        "[services.app.liveness]\nurl = 'http://127.0.0.1:8080/live'\ninterval = 5\n"
        "timeout = 2\nfailures = 4",
    )
    (spec,) = system.entries  # type: ignore[attr-defined]
    assert (spec.restart, spec.start_timeout, spec.exit_on_failure) == ("on-failure", 30.0, True)
    liveness = spec.liveness
    assert isinstance(liveness, Liveness)
    assert (liveness.interval, liveness.failures) == (5.0, 4)
    assert liveness.timeout == 7.0  # the check's own 2 s ends it first
    assert isinstance(liveness.fn, functools.partial)
    assert liveness.fn.func is check_web_url
    assert liveness.fn.keywords == {"timeout": 2.0, "owned": True}


def test_the_defaults_are_those_of_today(tmp_path: Path) -> None:
    (spec,) = _daemon(tmp_path).entries  # type: ignore[attr-defined]
    assert (spec.restart, spec.start_timeout, spec.liveness, spec.exit_on_failure) == (
        "always",
        None,
        None,
        False,
    )


@pytest.mark.parametrize(
    ("source", "func"), [("port = 8080", check_port_listening), ("script = 'true'", None)]
)
def test_liveness_takes_the_polled_sources(tmp_path: Path, source: str, func: object) -> None:
    system = _daemon(tmp_path, tables=f"[services.app.liveness]\n{source}")
    (spec,) = system.entries  # type: ignore[attr-defined]
    assert spec.liveness.interval == 10.0 and spec.liveness.failures == 3
    partial = spec.liveness.fn
    assert partial.func is (func or run_health_script)


def test_a_oneshot_takes_once_and_exit_on_failure(tmp_path: Path) -> None:
    system = _load(
        tmp_path,
        """
        [services.migrate]
        kind = "oneshot"
        command = "true"
        once = true
        exit_on_failure = true
        """,
    )
    (spec,) = system.entries  # type: ignore[attr-defined]
    assert (spec.once, spec.exit_on_failure) == (True, True)


@pytest.mark.parametrize(
    ("keys", "tables", "expected"),
    [
        (
            'restart = "sometimes"',
            "",
            'services.app.restart: must be one of "always", "on-failure", "no", not \'sometimes\'',
        ),
        ("restart = 1", "", "services.app.restart: must be a string, not int"),
        ("start_timeout = 0", "", "services.app.start_timeout: must be a number > 0, not 0"),
        ('start_timeout = "5s"', "", "services.app.start_timeout: must be a number, not str"),
        ("exit_on_failure = 1", "", "services.app.exit_on_failure: must be a boolean, not int"),
        (
            "exit_on_failure = true",
            "",
            'services.app.exit_on_failure: needs max_restarts or restart = "no" '
            "(restarted for ever, it never fails for good)",
        ),
        (
            "once = true",
            "",
            "services.app.once: not allowed for a daemon (only a oneshot runs once)",
        ),
        (
            "",
            "[services.app.liveness]\nport = 1\nurl = 'http://127.0.0.1/'",
            "services.app.liveness: give exactly one of port, url, script (got port, url)",
        ),
        (
            "",
            "[services.app.liveness]\nlog_line = 'x'",
            "services.app.liveness.log_line: unknown key",
        ),
        (
            "",
            "[services.app.liveness]\nport = 1\nfailures = 0",
            "services.app.liveness.failures: must be an integer >= 1, not 0",
        ),
        (
            "",
            "[services.app.liveness]\nport = 1\ninterval = -1",
            "services.app.liveness.interval: must be a number > 0, not -1",
        ),
        ("liveness = 3", "", "services.app.liveness: must be a table, not int"),
    ],
)
def test_bad_policies_name_the_key(tmp_path: Path, keys: str, tables: str, expected: str) -> None:
    assert _error(tmp_path, DAEMON.format(keys=keys, tables=tables)).startswith(expected)


@pytest.mark.parametrize(
    ("kind", "key", "reason"),
    [
        ("oneshot", 'restart = "no"', "a oneshot is retried when it fails, under max_restarts"),
        ("oneshot", "start_timeout = 3", "only a daemon waits to be ready"),
        ("check", "once = true", None),
        ("check", "exit_on_failure = true", None),
    ],
)
def test_keys_of_another_kind_are_refused(
    tmp_path: Path, kind: str, key: str, reason: str | None
) -> None:
    ready = "[services.x.ready]\nport = 80" if kind == "check" else ""
    command = "" if kind == "check" else 'command = "true"'
    message = _error(tmp_path, f'[services.x]\nkind = "{kind}"\n{command}\n{key}\n{ready}\n')
    name = key.split(" ")[0]
    if reason is None:
        assert message == f"services.x.{name}: not allowed for a check (it runs no process)"
    else:
        assert message == f"services.x.{name}: not allowed for a {kind} ({reason})"
