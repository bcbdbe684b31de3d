"""Bad input to `import_config`: a clear `ImportProblem` naming the file and
the place, never a traceback; ids made valid, and the format detected."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from healthdaemons._import_config import ImportProblem, import_config


def _import(tmp_path: Path, name: str, text: str, format: str | None = None) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return import_config(path, format).text  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("compose.yaml", "services:\n  web: [unclosed\n", "compose.yaml: not YAML: "),
        ("compose.yaml", "services:\n  web:\n    image: a\n   bad: 1\n", "(at line 4, column 4)"),
        ("stack.yaml", "apps:\n  web: {}\n", "stack.yaml: not a compose file (no top-level"),
        ("stack.yaml", "- just\n- a list\n", "stack.yaml: not a compose file"),
        (
            "compose.yaml",
            "services:\n  a: {command: x, depends_on: [b]}\n  b: {command: y, depends_on: [a]}\n",
            "compose.yaml: services form a cycle: a -> b -> a",
        ),
        (
            "compose.yaml",
            "services:\n  web: {command: x, depends_on: [dbb]}\n  db: {command: y}\n",
            "compose.yaml: services.web.depends_on: unknown service 'dbb'",
        ),
        (
            "compose.yaml",
            "services:\n  web: {command: 5}\n",
            "compose.yaml: services.web.command: must be a string or a list of strings, not int",
        ),
        (
            "compose.yaml",
            "services:\n  web: {command: x, healthcheck: {test: [CURL, x]}}\n",
            "compose.yaml: services.web.healthcheck.test: must start with NONE, CMD or CMD-SHELL",
        ),
        (
            "compose.yaml",
            "services:\n  web: {command: x, stop_grace_period: soon}\n",
            "compose.yaml: services.web.stop_grace_period: must be a duration",
        ),
        (
            "compose.yaml",
            "services:\n  web: {command: x, restart: sometimes}\n",
            "compose.yaml: services.web.restart: must be no, always, on-failure[:N]",
        ),
        (
            "compose.yaml",
            "services:\n  web: {command: 'echo \"unclosed'}\n",
            "compose.yaml: services.web.command: cannot split into words: No closing quotation",
        ),
        (
            "pc.yaml",
            "processes:\n  a:\n    command: x\n    depends_on: {b: {condition: process_ready}}\n"
            "  b: {command: y}\n",
            "pc.yaml: processes.a.depends_on.b.condition: unknown condition 'process_ready'",
        ),
        (
            "pc.yaml",
            "processes:\n  a: {environment: [NOVALUE], command: x}\n",
            "pc.yaml: processes.a.environment[0]: must be NAME=value, not 'NOVALUE'",
        ),
        ("pc.yaml", "processes:\n  a: {working_dir: x}\n", "pc.yaml: processes.a.command: missing"),
        (
            "Procfile",
            "web: ./web\nworker ./worker\n",
            "Procfile: line 2: not a 'name: command' line",
        ),
        ("Procfile", "web: a\nweb: b\n", "Procfile: line 2: 'web' is already on line 1"),
        ("Procfile", "# nothing\n\n", "Procfile: no 'name: command' line"),
    ],
)
def test_bad_input_names_the_file_and_the_place(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    with pytest.raises(ImportProblem) as raised:
        _import(tmp_path, name, text)
    assert message in str(raised.value)


def test_an_unreadable_file_is_a_problem(tmp_path: Path) -> None:
    with pytest.raises(ImportProblem, match=r"^compose\.yaml: cannot read: no such file"):
        import_config(tmp_path / "compose.yaml", None)
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe")
    with pytest.raises(ImportProblem, match=r"^bin\.yaml: not UTF-8 text"):
        import_config(tmp_path / "bin.yaml", None)


def test_the_format_is_detected_or_given(tmp_path: Path) -> None:
    assert "(Procfile)" in _import(tmp_path, "Procfile.dev", "web: ./web\n")
    assert "(process-compose)" in _import(tmp_path, "a.yaml", "processes: {a: {command: x}}\n")
    assert "(docker compose)" in _import(tmp_path, "b.yaml", "services: {a: {command: x}}\n")
    assert "(Procfile)" in _import(tmp_path, "procs.txt", "web: ./web\n", "procfile")
    with pytest.raises(
        ImportProblem, match="not a process-compose file: no top-level 'processes:'"
    ):
        _import(tmp_path, "c.yaml", "services: {a: {command: x}}\n", "process-compose")


def test_ids_are_made_valid_and_requires_follow(tmp_path: Path) -> None:
    text = _import(
        tmp_path,
        "compose.yaml",
        "services:\n  myApp: {command: x}\n  My_App: {command: y}\n"
        "  front: {command: z, depends_on: [myApp, My_App]}\n",
    )
    services = tomllib.loads(text)["services"]
    assert list(services) == ["my-app", "my-app-2", "front"]
    assert services["front"]["requires"] == ["my-app", "my-app-2"]
    assert "#   my-app.id: kept: renamed from 'myApp'" in text


_YAML_LEAVES = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
_YAML = st.recursive(
    _YAML_LEAVES,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(
        st.sampled_from(
            [
                "command", "entrypoint", "image", "environment", "depends_on", "healthcheck",
                "test", "condition", "ports", "volumes", "restart", "readiness_probe", "exec",
                "http_get", "availability", "shutdown", "signal", "env_file", "working_dir",
                "user", "stop_grace_period", "expose", "deploy", "develop", "watch", "a", "b",
            ]
        ),
        inner,
        max_size=4,
    ),
    max_leaves=12,
)  # fmt: skip


@given(
    st.sampled_from(["services", "processes"]),
    st.dictionaries(st.sampled_from(["a", "b"]), _YAML, max_size=2),
)
def test_any_yaml_imports_or_gives_a_problem_never_a_traceback(
    top: str, services: dict[str, object]
) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "input.yaml"
        path.write_text(yaml.safe_dump({top: services}), encoding="utf-8")
        try:
            imported = import_config(path, None)
        except ImportProblem as problem:
            message = str(problem)
        else:
            message = "input.yaml: imported"
            tomllib.loads(imported.text)
    assert message.startswith("input.yaml: ")
