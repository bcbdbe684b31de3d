"""Config files: a port or URL check must be answered by the service's own
processes, unless `owned = false` (issue 11, item 6). Nothing here runs a process."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from coordinator import load_config
from coordinator.checks import check_port_listening, check_web_url, run_health_script
from coordinator.errors import ConfigError


def _check(tmp_path: Path, text: str, id: str = "app") -> functools.partial[object]:
    path = tmp_path / "app.toml"
    path.write_text(text)
    (spec,) = [s for s in load_config(path).entries if s.id == id]
    assert spec.ready is not None
    fn = spec.ready.fn
    assert isinstance(fn, functools.partial)
    return fn


@pytest.mark.parametrize(
    ("ready", "func"),
    [("port = 8080", check_port_listening), ('url = "http://127.0.0.1:8080/"', check_web_url)],
)
def test_a_services_port_or_url_must_be_its_own(tmp_path: Path, ready: str, func: object) -> None:
    fn = _check(tmp_path, f'[services.app]\ncommand = "x"\nready = {{ {ready} }}\n')
    assert fn.func is func
    assert fn.keywords["owned"] is True
    opted_out = _check(
        tmp_path, f'[services.app]\ncommand = "x"\nready = {{ {ready}, owned = false }}\n'
    )
    assert opted_out.keywords["owned"] is False


def test_a_check_has_no_processes_to_own_anything(tmp_path: Path) -> None:
    fn = _check(tmp_path, '[services.gate]\nkind = "check"\nready = { port = 8080 }\n', "gate")
    assert fn.keywords["owned"] is False


def test_a_script_is_not_about_ownership(tmp_path: Path) -> None:
    fn = _check(tmp_path, '[services.app]\ncommand = "x"\nready = { script = "true" }\n')
    assert fn.func is run_health_script


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[services.app]\ncommand = "x"\nready = { script = "true", owned = false }\n',
            "services.app.ready.owned: only with port or url",
        ),
        (
            '[services.app]\ncommand = "x"\nready = { log_line = "up", owned = true }\n',
            "services.app.ready.owned: only with port or url",
        ),
        (
            '[services.app]\nkind = "check"\nready = { port = 1, owned = true }\n',
            "services.app.ready.owned: not allowed for a check (it runs no process)",
        ),
        (
            '[services.app]\ncommand = "x"\nready = { port = 1, owned = "no" }\n',
            "services.app.ready.owned: must be a boolean, not str",
        ),
    ],
)
def test_owned_mistakes(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "app.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: {message}"
