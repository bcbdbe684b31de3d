"""Bad input to `import_config`: a clear `ImportProblem` naming the file and
the place, never a traceback; ids made valid, and the format detected."""

from __future__ import annotations

import re
import tempfile
import tomllib
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from coordinator import load_config, read_config
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
            "pc.yaml",
            "processes:\n  a: {command: x, disabled: true}\n",
            "pc.yaml: every service is disabled: nothing to run",
        ),
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
    with pytest.raises(ImportProblem, match=r"^.*/compose\.yaml: cannot read: no such file"):
        import_config(tmp_path / "compose.yaml", None)
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe")
    with pytest.raises(ImportProblem, match=r"^.*/bin\.yaml: not UTF-8 text"):
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


def test_a_service_without_a_command_to_run_here_says_so(tmp_path: Path) -> None:
    text = _import(
        tmp_path,
        "compose.yaml",
        "services:\n  api: {build: ./api}\n  web: {command: x, depends_on: [api]}\n",
    )
    api = tomllib.loads(text)["services"]["api"]
    assert api["command"] == "echo 'services.api: give its command' >&2; exit 1"
    assert "#   api.command: lost: none (compose runs the command of the image it builds)" in text
    _checked(tmp_path, text)


def test_a_disabled_requirement_is_left_out_and_reported(tmp_path: Path) -> None:
    text = _import(
        tmp_path,
        "pc.yaml",
        "processes:\n  a: {command: x, disabled: true}\n"
        "  b: {command: y, depends_on: {a: {condition: process_started}}}\n",
    )
    assert "requires" not in tomllib.loads(text)["services"]["b"]
    assert "#   b.depends_on.a: lost: a is disabled: left out of requires" in text
    _checked(tmp_path, text)


def _checked(folder: Path, text: str) -> None:
    path = folder / "system.toml"
    path.write_text(text, encoding="utf-8")
    load_config(path)


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
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "input.yaml"
        path.write_text(yaml.safe_dump({top: services}), encoding="utf-8")
        try:
            imported = import_config(path, None)
        except ImportProblem as problem:
            message = str(problem)
        else:
            message = f"{path}: imported"
            tomllib.loads(imported.text)
    assert message.startswith(f"{path}: ")


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("compose.yaml", "services:\n  a: {command: x, user: ''}\n", "services.a.user: must not"),
        ("compose.yaml", "services:\n  a: {command: x, stop_signal: QUITT}\n", "unknown signal"),
        ("compose.yaml", "services:\n  a: {command: x, stop_grace_period: -3}\n", ">= 0, not -3"),
        ("pc.yaml", "processes:\n  a: {command: x, shutdown: {signal: 99}}\n", "no signal has"),
    ],
)
def test_values_this_format_refuses_are_problems(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    with pytest.raises(ImportProblem, match=re.escape(message)):
        _import(tmp_path, name, text)


def test_a_signal_that_cannot_stop_a_service_is_reported(tmp_path: Path) -> None:
    text = _import(tmp_path, "compose.yaml", "services:\n  a: {command: x, stop_signal: KILL}\n")
    assert "#   a.stop_signal: lost: KILL: not a signal that asks a process to end" in text
    assert "stop_signal" not in tomllib.loads(text)["services"]["a"]
    text = _import(tmp_path, "pc.yaml", "processes:\n  a: {command: x, shutdown: {signal: 3}}\n")
    assert tomllib.loads(text)["services"]["a"]["stop_signal"] == "SIGQUIT"


_WORD = st.sampled_from(
    ["", " ", "x", "./run", "8080", "1m", "10s", "db", "a", "b", "CMD", "NONE", "-1"]
)
_COMPOSE_VALUES = {
    "command": st.one_of(_WORD, st.lists(_WORD, max_size=3), st.integers()),
    "image": st.one_of(_WORD, st.none()),
    "build": st.sampled_from(["./app", {"context": "app"}]),
    "environment": st.one_of(
        st.lists(st.sampled_from(["A=1", "B", "C=", 5]), max_size=3),
        st.dictionaries(
            st.sampled_from(["A", "B"]), st.one_of(st.none(), st.integers(), st.booleans(), _WORD)
        ),
    ),
    "depends_on": st.one_of(
        st.lists(st.sampled_from(["a", "b", "c"]), max_size=2),
        st.dictionaries(
            st.sampled_from(["a", "b", "c"]),
            st.one_of(
                st.none(),
                st.fixed_dictionaries(
                    {},
                    optional={
                        "condition": st.sampled_from(
                            [
                                "service_started",
                                "service_healthy",
                                "service_completed_successfully",
                                "x",
                            ]
                        ),
                        "required": st.booleans(),
                        "restart": st.booleans(),
                    },
                ),
            ),
            max_size=2,
        ),
    ),
    "healthcheck": st.fixed_dictionaries(
        {},
        optional={
            "test": st.one_of(_WORD, st.lists(_WORD, max_size=3)),
            "interval": st.one_of(_WORD, st.integers(-2, 5)),
            "timeout": _WORD,
            "start_period": _WORD,
            "retries": st.integers(0, 5),
            "disable": st.booleans(),
        },
    ),
    "restart": st.sampled_from(
        ["no", "always", "on-failure", "on-failure:3", "unless-stopped", "on-failure:x", 3]
    ),
    "stop_signal": st.one_of(
        st.sampled_from(["SIGINT", "QUIT", "KILL", "SIGRTMIN+3", "NOPE"]), st.integers(-1, 70)
    ),
    "stop_grace_period": st.one_of(_WORD, st.integers(-1, 100), st.floats(allow_nan=True)),
    "init": st.booleans(),
    "profiles": st.lists(st.sampled_from(["dev", "debug"]), max_size=2),
    "ports": st.lists(
        st.one_of(
            st.sampled_from(["80", "8080:80", "1.2.3.4:80:80", "53:53/udp", "8000-8001"]),
            st.integers(1, 9000),
            st.fixed_dictionaries(
                {"target": st.integers(1, 99)}, optional={"published": st.integers(1, 9999)}
            ),
        ),
        max_size=2,
    ),
    "expose": st.lists(st.sampled_from(["3000", 3001]), max_size=2),
    "volumes": st.lists(
        st.sampled_from(
            ["data:/data", "./x:/x:ro", "/y", "rel", "a:b:c:d", {"type": "tmpfs", "target": "/t"}]
        ),
        max_size=2,
    ),
    "working_dir": st.sampled_from(["/app", "/x", "rel"]),
    "user": st.one_of(st.sampled_from(["root", "1000", "1000:1000"]), st.integers(0, 2000)),
    "develop": st.fixed_dictionaries(
        {
            "watch": st.lists(
                st.fixed_dictionaries(
                    {
                        "path": st.sampled_from(["./src", "pkg.json"]),
                        "action": st.sampled_from(["sync", "restart"]),
                    }
                ),
                max_size=2,
            )
        }
    ),
    "deploy": st.fixed_dictionaries(
        {},
        optional={
            "replicas": st.integers(0, 3),
            "restart_policy": st.fixed_dictionaries(
                {},
                optional={
                    "condition": st.sampled_from(["none", "on-failure", "any"]),
                    "max_attempts": st.integers(0, 3),
                },
            ),
        },
    ),
}


@given(
    st.dictionaries(
        st.sampled_from(["a", "b", "c", "myApp"]),
        st.fixed_dictionaries({}, optional=_COMPOSE_VALUES),
        min_size=1,
        max_size=4,
    )
)
def test_a_compose_file_imports_to_a_valid_config_or_gives_a_problem(
    services: dict[str, object],
) -> None:
    """Whatever a compose file says, the import either gives a config file that
    `check` accepts (programs aside), or names the file and the place."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "compose.yaml"
        path.write_text(yaml.safe_dump({"services": services}), encoding="utf-8")
        try:
            imported = import_config(path, None)
        except ImportProblem as problem:
            assert str(problem).startswith(f"{path}: ")  # noqa: PT017
            return
        written = Path(folder) / "system.toml"
        written.write_text(imported.text, encoding="utf-8")
        # as compose, a service in a profile runs when its profile is active
        profiles = {
            p
            for service in tomllib.loads(imported.text)["services"].values()
            for p in service.get("profiles", [])
        }
        load_config(written, profiles=sorted(profiles))


_PROBE = st.fixed_dictionaries(
    {},
    optional={
        "exec": st.fixed_dictionaries({"command": _WORD}, optional={"working_dir": _WORD}),
        "http_get": st.fixed_dictionaries(
            {},
            optional={
                "host": st.sampled_from(["127.0.0.1", "localhost"]),
                "port": st.one_of(st.integers(0, 70000), _WORD),
                "path": st.sampled_from(["/", "health", "/live"]),
                "scheme": st.sampled_from(["http", "https"]),
            },
        ),
        "initial_delay_seconds": st.integers(-1, 5),
        "period_seconds": st.integers(-1, 5),
        "timeout_seconds": st.one_of(st.integers(-1, 5), st.floats(allow_nan=True)),
        "failure_threshold": st.integers(-1, 5),
        "success_threshold": st.integers(-1, 3),
    },
)
_PROCESS_VALUES = {
    "command": st.one_of(_WORD, st.integers()),
    "entrypoint": st.lists(_WORD, max_size=2),
    "environment": st.lists(st.sampled_from(["A=1", "B=$$x", "C"]), max_size=2),
    "working_dir": _WORD,
    "depends_on": st.dictionaries(
        st.sampled_from(["a", "b", "c"]),
        st.fixed_dictionaries(
            {},
            optional={
                "condition": st.sampled_from(
                    [
                        "process_started",
                        "process_healthy",
                        "process_completed",
                        "process_completed_successfully",
                        "process_log_ready",
                        "nope",
                    ]
                )
            },
        ),
        max_size=2,
    ),
    "readiness_probe": _PROBE,
    "liveness_probe": _PROBE,
    "ready_log_line": st.sampled_from(["ready (v1.2) [ok]", "*", "started"]),
    "availability": st.fixed_dictionaries(
        {},
        optional={
            "restart": st.sampled_from(["no", "always", "on_failure", "exit_on_failure", "x"]),
            "max_restarts": st.integers(-1, 4),
            "backoff_seconds": st.integers(0, 3),
            "exit_on_end": st.booleans(),
        },
    ),
    "shutdown": st.fixed_dictionaries(
        {},
        optional={
            "signal": st.integers(-1, 70),
            "timeout_seconds": st.integers(-1, 30),
            "command": _WORD,
        },
    ),
    "disabled": st.booleans(),
    "is_daemon": st.booleans(),
    "replicas": st.integers(0, 3),
    "log_location": st.sampled_from(["logs/a.log", "b.log"]),
}


@given(
    st.dictionaries(
        st.sampled_from(["a", "b", "c"]),
        st.fixed_dictionaries({}, optional=_PROCESS_VALUES),
        min_size=1,
        max_size=3,
    ),
    st.booleans(),
)
def test_a_process_compose_file_imports_to_a_valid_config_or_gives_a_problem(
    processes: dict[str, object], literal: bool
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pc.yaml"
        document = {"processes": processes, "disable_env_expansion": literal}
        path.write_text(yaml.safe_dump(document), encoding="utf-8")
        try:
            imported = import_config(path, None)
        except ImportProblem as problem:
            assert str(problem).startswith(f"{path}: ")  # noqa: PT017
            return
        written = Path(folder) / "system.toml"
        written.write_text(imported.text, encoding="utf-8")
        services = tomllib.loads(imported.text)["services"]
        if all(service.get("disabled") for service in services.values()):
            read_config(written)  # `check` would say: no services to run
        else:
            load_config(written)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["web", "worker", "release", "Clock_2", "web", "", "a b"]),
            st.sampled_from([":", ": ", " : ", ""]),
            st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
            | st.sampled_from(["./web -p 99999", "./web --port=0", "gunicorn -b :8000 $$PORT"]),
        ),
        max_size=4,
    )
)
def test_a_procfile_imports_to_a_valid_config_or_gives_a_problem(
    lines: list[tuple[str, str, str]],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "Procfile"
        path.write_text("\n".join("".join(line) for line in lines), encoding="utf-8")
        try:
            imported = import_config(path, None)
        except ImportProblem as problem:
            assert str(problem).startswith(f"{path}: ")  # noqa: PT017
            return
        written = Path(folder) / "system.toml"
        written.write_text(imported.text, encoding="utf-8")
        load_config(written)


def test_a_long_chain_and_a_long_cycle_import_in_time(tmp_path: Path) -> None:
    count = 2000
    chain = [f"  s{i}: {{command: x, depends_on: [s{i + 1}]}}" for i in range(count)]
    text = "services:\n" + "\n".join(chain) + f"\n  s{count}: {{command: x}}\n"
    assert 'requires = ["s1"]' in _import(tmp_path, "compose.yaml", text)
    cycle = text.replace(f"s{count}: {{command: x}}", f"s{count}: {{command: x, depends_on: [s0]}}")
    with pytest.raises(ImportProblem, match=rf"cycle: s0 -> s1 -> .* -> s{count} -> s0$"):
        _import(tmp_path, "compose.yaml", cycle)


def test_process_compose_env_files_are_where_it_reads_them(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("A=1\n", encoding="utf-8")
    text = _import(
        tmp_path,
        "pc.yaml",
        "processes:\n  a: {command: x, working_dir: sub, env_file: a.env}\n"
        "  b: {command: y, is_dotenv_disabled: true}\n",
    )
    services = tomllib.loads(text)["services"]
    assert services["a"]["env_file"] == [".env", "sub/a.env"]  # relative to working_dir there
    assert "env_file" not in services["b"]
    assert text.count("given to every service as its first env_file") == 1


def test_a_variable_without_a_default_is_empty_when_unset_as_there(tmp_path: Path) -> None:
    text = _import(
        tmp_path,
        "pc.yaml",
        "processes:\n  a:\n    command: 'i=0; while [ $i -lt 3 ]; do echo ${USER} $$HOME "
        "${X:-1} $1; done'\n",
    )
    command = tomllib.loads(text)["services"]["a"]["command"]
    assert command == "i=0; while [ ${i:-} -lt 3 ]; do echo ${USER:-} $$HOME ${X:-1} $1; done"
    assert "#   variables: approximated: $USER, $i written ${NAME:-}" in text
    _checked(tmp_path, text)  # with neither set


def test_a_problem_names_the_file_as_it_was_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("compose.yaml").write_text("services:\n  a: {command: 5}\n", encoding="utf-8")
    with pytest.raises(ImportProblem, match=r"^compose\.yaml: services\.a\.command: "):
        import_config(Path("compose.yaml"), None)
    with pytest.raises(ImportProblem, match=rf"^{re.escape(str(tmp_path))}/compose\.yaml: "):
        import_config(tmp_path / "compose.yaml", None)


@pytest.mark.parametrize(
    ("line", "literal", "found", "not_found"),
    [
        ("ready (v1.2) [ok]", False, "x ready (v1.2) [ok] y", "ready (v1x2) [ok]"),
        ("costs $$5 a day", False, "it costs $5 a day", "it costs 5 a day"),
        ("on ${HD_UNSET_PORT:-8080}", False, "listening on 8080", "listening on 80"),
        ("pay $HOME now", True, "pay $HOME now", "pay /root now"),
    ],
)
def test_a_ready_log_line_is_found_as_process_compose_finds_it(
    tmp_path: Path, line: str, literal: bool, found: str, not_found: str
) -> None:
    document = {"processes": {"a": {"command": "x", "ready_log_line": line}}}
    if literal:
        document["disable_env_expansion"] = True  # type: ignore[assignment]
    text = _import(tmp_path, "pc.yaml", yaml.safe_dump(document))
    _checked(tmp_path, text)
    ready = read_config(tmp_path / "system.toml").service("a").ready
    assert ready is not None and ready.log_line is not None
    assert re.search(ready.log_line, found) and not re.search(ready.log_line, not_found)
