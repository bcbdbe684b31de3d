"""`${VAR}` in config files (docker compose's rules), the project's `.env`,
each service's `env_file`, and the hints for compose's key names. Nothing
here runs a process (tests/processes/test_config_env.py does)."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest

from coordinator import Command, Daemons
from coordinator._config import load_config
from coordinator._config_hints import SERVICE_KEY_HINTS, TOP_KEY_HINTS
from coordinator._interpolation import InterpolationError, interpolate, interpolate_values
from coordinator.errors import ConfigError

VARIABLES = {"A": "a", "EMPTY": "", "PORT": "9090"}


def interpolated(text: str) -> str:
    return interpolate(text, VARIABLES.get)


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process environment that these tests decide."""
    for name in list(os.environ):
        if name not in ("PATH", "HOME"):
            monkeypatch.delenv(name)


# The parser


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("$A", "a"),
        ("${A}", "a"),
        ("x${A}y$A.z", "xaya.z"),
        ("${EMPTY}", ""),
        # Defaults: `:-` for unset or empty, `-` for unset only.
        ("${PORT:-8080}", "9090"),
        ("${NOPE:-8080}", "8080"),
        ("${EMPTY:-8080}", "8080"),
        ("${EMPTY-8080}", ""),
        ("${NOPE-8080}", "8080"),
        ("${NOPE:-}", ""),
        # Alternatives: `:+` for set and not empty, `+` for set.
        ("${A:+on}", "on"),
        ("${EMPTY:+on}", ""),
        ("${EMPTY+on}", "on"),
        ("${NOPE+on}", ""),
        # `?` with a value is the value.
        ("${A:?needed}", "a"),
        ("${EMPTY?needed}", ""),
        # Nested, and evaluated only when used.
        ("${NOPE:-${A}}", "a"),
        ("${NOPE:-${NOTHING:-deep}/x}", "deep/x"),
        ("${A:-${NOTHING}}", "a"),
        ("${NOPE:-$A}", "a"),
        # `$$` is a literal `$`, also before a name or a brace.
        ("$$", "$"),
        ("$$A", "$A"),
        ("$${A}", "${A}"),
        ("cost: $$5", "cost: $5"),
        ("${NOPE:-$$x}", "$x"),
        # What compose leaves as it is: `$` followed by anything but a name or `{`.
        (
            "echo $1 $? $! $# $@ $* $- $0 $(date) $((1+2))",
            "echo $1 $? $! $# $@ $* $- $0 $(date) $((1+2))",
        ),
        ("ends with $", "ends with $"),
        ("$ alone", "$ alone"),
        ("^ready$", "^ready$"),
        ("a}b{c", "a}b{c"),
        # A default ends at the first `}` that closes no `${` of its own.
        ("${NOPE:-{x}}", "{x}"),
    ],
)
def test_each_rule(text: str, expected: str) -> None:
    assert interpolated(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "$i",
            "variable 'i' is not set: set it, give a default (${i:-default}), "
            "or write $$i for a literal $i",
        ),
        (
            "${NOPE}",
            "variable 'NOPE' is not set: set it, give a default (${NOPE:-default}), "
            "or write $${NOPE} for a literal ${NOPE}",
        ),
        ("$A_1", "variable 'A_1' is not set"),  # the longest name: not A then _1
        ("${NOPE:?give the port}", "variable 'NOPE' is not set: give the port"),
        ("${EMPTY:?give the port}", "variable 'EMPTY' is empty: give the port"),
        ("${NOPE?port of $A}", "variable 'NOPE' is not set: port of a"),
        ("${NOPE:?}", "variable 'NOPE' is not set"),
        ("${NOPE:-${ALSO_NOPE}}", "variable 'ALSO_NOPE' is not set"),
        ("${", "'${' is not closed by '}'"),
        ("x ${A", "'${A' is not closed by '}'"),
        ("${A:-x", "'${A:-x' is not closed by '}'"),
        ("${A:-${B}", "'${A:-${B}' is not closed by '}'"),
        ("${}", "invalid '${}': a variable name is a letter or '_', then letters, digits or '_'"),
        ("${1abc}", "invalid '${1abc}': a variable name is a letter or '_'"),
        ("${ A}", "invalid '${ A}'"),
        ("${A/x/y}", "invalid '${A/x/y}': after the name, give '}' or one of :-, :?, :+, -, ?, +"),
        ("${A:x}", "invalid '${A:x}'"),
        # A syntax error counts even in a default that is not used.
        ("${A:-${1}}", "invalid '${1}'"),
        ("${A:-" + "x" * 100, "'${A:-" + "x" * 32 + "...' is not closed"),
    ],
)
def test_each_mistake(text: str, message: str) -> None:
    with pytest.raises(InterpolationError) as caught:
        interpolated(text)
    assert str(caught.value).startswith(message), str(caught.value)


def test_a_long_bad_expression_is_shortened() -> None:
    with pytest.raises(InterpolationError) as caught:
        interpolated("${1" + "x" * 100 + "}")
    assert str(caught.value).startswith("invalid '${1" + "x" * 34 + "...'")


def test_values_not_keys_in_document_order_with_the_path_of_a_mistake() -> None:
    document: dict[str, object] = {
        "$A": "$A",
        "list": ["${A}", 1, ["$A", {"k": "$A"}], True, 2.5],
        "table": {"deep": {"x": "${PORT:-1}"}},
    }
    interpolate_values(document, VARIABLES.get)
    assert document == {
        "$A": "a",
        "list": ["a", 1, ["a", {"k": "a"}], True, 2.5],
        "table": {"deep": {"x": "9090"}},
    }
    bad: dict[str, object] = {"a": ["ok", {"b": ["x", "$first"]}], "z": "$second"}
    with pytest.raises(InterpolationError) as caught:
        interpolate_values(bad, VARIABLES.get)
    assert caught.value.path == ("a", 1, "b", 1)


def test_deeply_nested_arrays_do_not_recurse() -> None:
    deep: list[object] = ["$A"]
    for _ in range(5000):
        deep = [deep]
    document: dict[str, object] = {"deep": deep}
    interpolate_values(document, VARIABLES.get)
    inner = document["deep"]
    while isinstance(inner, list) and isinstance(inner[0], list):
        inner = inner[0]
    assert inner == ["a"]


# In a config file


def write(directory: Path, text: str, name: str = "app.toml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def command(daemons: Daemons, id: str) -> Command:
    spec = next(spec for spec in daemons.entries if spec.id == id)
    assert isinstance(spec.exec, Command)
    return spec.exec


def load_error(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    return message.removeprefix(f"{path}: ")


APP = """
[services.app]
command = ["server", "--port", "${PORT:-8080}", "--name", "$NAME"]
env = { GREETING = "hello ${NAME}", LITERAL = "$$HOME" }
cwd = "${WORKDIR:-.}"
ready.url = "http://127.0.0.1:${PORT:-8080}/"
"""


def test_every_string_value_is_interpolated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NAME", "api")
    app = command(load_config(write(tmp_path, APP)), "app")
    assert app.argv == ["server", "--port", "8080", "--name", "api"]
    assert app.env == {"GREETING": "hello api", "LITERAL": "$HOME"}
    assert app.cwd == tmp_path
    monkeypatch.setenv("PORT", "9000")
    monkeypatch.setenv("WORKDIR", "srv")
    app = command(load_config(write(tmp_path, APP)), "app")
    assert app.argv[2] == "9000"
    assert app.cwd == tmp_path / "srv"


def test_the_project_env_file_feeds_interpolation_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("NAME=from-dotenv\nPORT=7000\n# a comment\n\nBASE=x-${NAME}\n")
    app = command(load_config(write(tmp_path, APP)), "app")
    assert app.argv == ["server", "--port", "7000", "--name", "from-dotenv"]
    # Only for interpolation: .env is not passed on to the service.
    assert app.env == {"GREETING": "hello from-dotenv", "LITERAL": "$HOME"}
    monkeypatch.setenv("PORT", "7001")
    assert command(load_config(write(tmp_path, APP)), "app").argv[2] == "7001"


def test_the_project_env_file_is_looked_for_beside_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / ".env").write_text("NAME=from-the-working-directory\n")
    (tmp_path / "conf" / ".env").write_text("NAME=beside\n")
    monkeypatch.chdir(tmp_path)
    assert command(load_config(write(tmp_path / "conf", APP)), "app").argv[4] == "beside"


def test_an_unset_variable_is_a_mistake_naming_the_key_and_the_variable(tmp_path: Path) -> None:
    assert load_error(write(tmp_path, APP)) == (
        "services.app.command[4]: variable 'NAME' is not set: set it, give a default "
        "(${NAME:-default}), or write $$NAME for a literal $NAME"
    )


def test_a_shell_loop_needs_a_double_dollar(tmp_path: Path) -> None:
    text = """
    [services.count]
    kind = "oneshot"
    command = "for i in 1 2 3; do echo $i; done"
    """
    assert load_error(write(tmp_path, text)) == (
        "services.count.command: variable 'i' is not set: set it, give a default "
        "(${i:-default}), or write $$i for a literal $i"
    )
    fixed = text.replace("$i", "$$i")
    shell = command(load_config(write(tmp_path, fixed)), "count")
    assert shell.argv[-1] == "for i in 1 2 3; do echo $i; done"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"${"', "services.app.cwd: '${' is not closed by '}'"),
        ('"${1abc}"', "services.app.cwd: invalid '${1abc}'"),
        ('"${NEEDED:?set NEEDED to the data directory}"', "services.app.cwd: variable 'NEEDED'"),
    ],
)
def test_a_bad_expression_is_a_mistake_with_the_key_path(
    tmp_path: Path, value: str, message: str
) -> None:
    path = write(tmp_path, f'[services.app]\ncommand = "x"\ncwd = {value}\nready.port = 1\n')
    assert load_error(path).startswith(message)


def test_a_mistake_outside_services_and_in_a_quoted_key(tmp_path: Path) -> None:
    assert load_error(write(tmp_path, 'orphan_guard = "$X"\n')).startswith(
        "orphan_guard: variable 'X'"
    )
    text = '[services.app]\ncommand = "x"\nready.port = 1\nenv = { "MY VAR" = "$X" }\n'
    assert load_error(write(tmp_path, text)).startswith('services.app.env."MY VAR": variable')


def test_the_error_names_the_service(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, APP))
    assert caught.value.entry == "app"


def test_interpolation_comes_before_the_schema(tmp_path: Path) -> None:
    """A value that interpolates to nothing is checked as it ends up."""
    text = '[services.app]\ncommand = "${CMD:-}"\nready.port = 1\n'
    assert load_error(write(tmp_path, text)) == (
        "services.app.command: must not be empty (from variables: '')"
    )


TYPED = """
[services.app]
command = "serve"
sigterm_timeout = "${STOP:-2.5}"
max_restarts = "${RESTARTS:-1_000}"
run_as_init = "${INIT:-true}"
ready.port = "${PORT}"
"""


def test_a_number_or_a_boolean_may_come_from_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # TOML puts variables only in strings; compose converts them to the
    # field's type, and so does a config file where it expects one.
    monkeypatch.setenv("PORT", "8080")
    (spec,) = load_config(write(tmp_path, TYPED)).entries
    app = spec.exec
    assert isinstance(app, Command)
    assert (app.sigterm_timeout, app.run_as_init, spec.max_restarts) == (2.5, True, 1000)
    assert spec.ready is not None and spec.ready.fn.args == (8080,)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("port", "message"),
    [
        ("80x", "services.app.ready.port: must be an integer, not str (from variables: '80x')"),
        ("8.5", "services.app.ready.port: must be an integer, not float (from variables: '8.5')"),
        ("yes", "services.app.ready.port: must be an integer, not str (from variables: 'yes')"),
    ],
)
def test_a_value_from_variables_of_the_wrong_type_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, port: str, message: str
) -> None:
    monkeypatch.setenv("PORT", port)
    assert load_error(write(tmp_path, TYPED)) == message


def test_a_number_written_as_a_string_is_still_refused(tmp_path: Path) -> None:
    text = '[services.app]\ncommand = "serve"\nsigterm_timeout = "5"\nready.port = 1\n'
    assert load_error(write(tmp_path, text)) == (
        "services.app.sigterm_timeout: must be a number, not str"
    )


def test_a_bad_project_env_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("GOOD=1\nthis is not a binding\n")
    assert load_error(write(tmp_path, APP)) == ".env: line 2: not a NAME=value line"
    (tmp_path / ".env").write_text("X=${\n")
    assert load_error(write(tmp_path, APP)) == ".env: line 1: '${' is not closed by '}'"
    (tmp_path / ".env").unlink()
    (tmp_path / ".env").mkdir()
    assert load_error(write(tmp_path, APP)) == ".env: cannot read: is a directory"


# Env files

SERVICE = """
[services.app]
command = "server"
ready.port = 1
"""


def env_of(tmp_path: Path, keys: str) -> Mapping[str, str] | None:
    return command(load_config(write(tmp_path, SERVICE + keys)), "app").env


def test_an_env_file_reaches_the_command(tmp_path: Path) -> None:
    (tmp_path / "app.env").write_text("# settings\nexport MODE=prod\nDEBUG = 0\n")
    assert env_of(tmp_path, 'env_file = "app.env"\n') == {"MODE": "prod", "DEBUG": "0"}


def test_later_files_override_earlier_ones_and_env_overrides_them(tmp_path: Path) -> None:
    (tmp_path / "base.env").write_text("A=base\nB=base\nC=base\n")
    (tmp_path / "local.env").write_text("B=local\nC=local\n")
    keys = 'env_file = ["base.env", "local.env"]\nenv = { C = "table" }\n'
    assert env_of(tmp_path, keys) == {"A": "base", "B": "local", "C": "table"}


def test_env_file_paths_are_relative_to_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "conf" / "env").mkdir(parents=True)
    (tmp_path / "conf" / "env" / "app.env").write_text("WHERE=beside the config\n")
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / "app.env").write_text("WHERE=working directory\n")
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path / "conf", SERVICE + 'env_file = "env/app.env"\n')
    assert command(load_config(path), "app").env == {"WHERE": "beside the config"}
    absolute = tmp_path / "env" / "app.env"
    path = write(tmp_path / "conf", SERVICE + f'env_file = "{absolute}"\n')
    assert command(load_config(path), "app").env == {"WHERE": "working directory"}


def test_env_file_values_follow_compose(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unquoted and double-quoted values are interpolated, single-quoted ones
    are not; a variable is looked up in the lines above (and earlier files),
    then in the environment and the project's .env; a name alone passes the
    environment's value on."""
    monkeypatch.setenv("USER_FROM_SHELL", "shell")
    monkeypatch.setenv("HOST", "shell-host")
    (tmp_path / ".env").write_text("PROJECT=from-dotenv\n")
    (tmp_path / "first.env").write_text("EARLIER=first\n")
    (tmp_path / "app.env").write_text(
        textwrap.dedent(
            """\
            HOST=db
            URL=postgres://${USER_FROM_SHELL}@${HOST}:${PGPORT:-5432}/$PROJECT
            QUOTED="${HOST} \\t$$"
            SINGLE='${HOST} $NOT_INTERPOLATED'
            'export'='x'
            FROM_EARLIER=$EARLIER
            USER_FROM_SHELL
            NOT_SET_ANYWHERE
            SHELL_CMD="echo $1 $?"
            """
        )
    )
    assert env_of(tmp_path, 'env_file = ["first.env", "app.env"]\n') == {
        "EARLIER": "first",
        "HOST": "db",
        "URL": "postgres://shell@db:5432/from-dotenv",
        "QUOTED": "db \t$",
        "SINGLE": "${HOST} $NOT_INTERPOLATED",
        "export": "x",
        "FROM_EARLIER": "first",
        "USER_FROM_SHELL": "shell",
        "SHELL_CMD": "echo $1 $?",
    }


@pytest.mark.parametrize(
    ("keys", "files", "message"),
    [
        (
            'env_file = "missing.env"',
            {},
            "services.app.env_file: missing.env: cannot read: no such file or directory",
        ),
        (
            'env_file = ["ok.env", "missing.env"]',
            {"ok.env": "A=1\n"},
            "services.app.env_file[1]: missing.env: cannot read: no such file or directory",
        ),
        (
            'env_file = "dir.env"',
            {"dir.env/x": ""},
            "services.app.env_file: dir.env: cannot read: is a directory",
        ),
        (
            'env_file = "bad.env"',
            {"bad.env": "A=1\nB=$NOPE\n"},
            "services.app.env_file: bad.env: line 2: variable 'NOPE' is not set: set it, "
            "give a default (${NOPE:-default}), or write $$NOPE for a literal $NOPE",
        ),
        (
            'env_file = "bad.env"',
            {"bad.env": "A=1\n\nnot a line\n"},
            "services.app.env_file: bad.env: line 3: not a NAME=value line",
        ),
        (
            "env_file = 3",
            {},
            "services.app.env_file: must be a string or an array of strings, not int",
        ),
        (
            'env_file = ["a.env", 3]',
            {"a.env": ""},
            "services.app.env_file[1]: must be a string, not int",
        ),
        ('env_file = ""', {}, "services.app.env_file: must not be empty"),
        (
            'env_file = ["a\\u0000"]',
            {},
            "services.app.env_file[0]: must not contain a NUL character",
        ),
    ],
)
def test_env_file_mistakes(tmp_path: Path, keys: str, files: dict[str, str], message: str) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert load_error(write(tmp_path, SERVICE + keys + "\n")) == message


def test_an_env_file_that_is_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "app.env").write_bytes(b"A=1\nB=caf\xe9\n")
    assert load_error(write(tmp_path, SERVICE + 'env_file = "app.env"\n')) == (
        "services.app.env_file: app.env: line 2: not UTF-8 text: invalid continuation byte"
    )


def test_a_check_takes_no_env_file(tmp_path: Path) -> None:
    text = '[services.gate]\nkind = "check"\nenv_file = "x.env"\nready.port = 1\n'
    assert load_error(write(tmp_path, text)) == (
        "services.gate.env_file: not allowed for a check (it runs no process)"
    )


def test_an_env_file_path_may_be_interpolated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STAGE", "prod")
    (tmp_path / "prod.env").write_text("MODE=production\n")
    assert env_of(tmp_path, 'env_file = "${STAGE}.env"\n') == {"MODE": "production"}


# Hints for docker compose's and process-compose's names


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "depends_on",
            '["db"]',
            "unknown key; did you mean 'requires'? (a list of ids; each must be ready "
            "before this service starts: compose's conditions are implied)",
        ),
        ("environment", '{ A = "1" }', "unknown key; did you mean 'env'?"),
        ("working_dir", '"/srv"', "unknown key; did you mean 'cwd'?"),
        ("healthcheck", "{}", "unknown key; did you mean 'ready'?"),
        ("readiness_probe", "{}", "unknown key; did you mean 'ready'?"),
        ("liveness_probe", "{}", "unknown key; did you mean 'liveness'?"),
        ("image", '"redis:7"', "unknown key; put it in a [services.ID.container] table"),
        ("ports", '["80:80"]', "unknown key; put it in a [services.ID.container] table"),
        ("volumes", '["./data:/data"]', "unknown key; put it in a [services.ID.container] table"),
        ("build", '"."', "unknown key; not supported: build the image first"),
        ("entrypoint", '["/init"]', "unknown key; did you mean 'command'?"),
        ("container_name", '"web"', "unknown key; the service's name is its table's"),
        ("deploy", "{ replicas = 2 }", "unknown key; no replicas: declare each instance"),
        ("replicas", "2", "unknown key; no replicas: declare each instance as a service"),
        ("shutdown", "{ signal = 3 }", "unknown key; did you mean 'stop_signal'?"),
        ("log_location", '"app.log"', "unknown key; did you mean 'log_file'?"),
        ("availability", '{ restart = "always" }', "unknown key; did you mean 'restart'?"),
        ("stop_grace_period", '"10s"', "unknown key; did you mean 'sigterm_timeout'?"),
        # Any other unknown key still gets the closest key of this format.
        ("comand", '"x"', "unknown key; did you mean 'command'?"),
        ("colour", '"red"', "unknown key"),
    ],
)
def test_compose_names_get_a_hint(tmp_path: Path, key: str, value: str, message: str) -> None:
    path = write(tmp_path, SERVICE + f"{key} = {value}\n")
    found = load_error(path)
    assert found.startswith(f"services.app.{key}: {message}"), found
    if key == "colour":
        assert found == "services.app.colour: unknown key"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[processes.web]\ncommand = "x"\n',
            "processes: unknown key; did you mean 'services'? "
            "(one [services.ID] table per process)",
        ),
        (
            'version = "3.8"\n' + SERVICE,
            "version: unknown key; not needed: this format has no versions",
        ),
        (
            'environment = { A = "1" }\n' + SERVICE,
            "environment: unknown key; no global environment",
        ),
        ('colour = "red"\n' + SERVICE, "colour: unknown key"),
    ],
)
def test_top_level_keys_of_compose_files_get_a_hint(
    tmp_path: Path, text: str, message: str
) -> None:
    assert load_error(write(tmp_path, text)).startswith(message)


def test_a_hint_never_hides_a_key_of_this_format(tmp_path: Path) -> None:
    from coordinator._config import _TOP_KEYS
    from coordinator._config_schema import _SERVICE_KEYS

    assert not set(SERVICE_KEY_HINTS) & set(_SERVICE_KEYS)
    assert not set(TOP_KEY_HINTS) & set(_TOP_KEYS)
    for key in ("env_file", "stop_signal", "log_file", "disabled", "profiles", "watch"):
        assert key not in SERVICE_KEY_HINTS


# The messages docs/config.md shows (tests/test_config.py checks that each
# documented message is one a test checks).

DOCUMENTED = [
    pytest.param(
        '[services.count]\nkind = "oneshot"\ncommand = "for i in 1 2 3; do echo $i; done"\n',
        {},
        "services.count.command: variable 'i' is not set: set it, give a default "
        "(${i:-default}), or write $$i for a literal $i",
        id="unset",
    ),
    pytest.param(
        '[services.db]\ncommand = "x"\nready.port = 1\ncwd = "${DATA:?give the data directory}"\n',
        {},
        "services.db.cwd: variable 'DATA' is not set: give the data directory",
        id="required",
    ),
    pytest.param(
        '[services.db]\ncommand = "x"\nready.port = 1\ncwd = "${"\n',
        {},
        "services.db.cwd: '${' is not closed by '}'",
        id="not-closed",
    ),
    pytest.param(
        '[services.db]\ncommand = "x"\nready.port = 1\ncwd = "${1abc}"\n',
        {},
        "services.db.cwd: invalid '${1abc}': a variable name is a letter or '_', "
        "then letters, digits or '_'",
        id="bad-name",
    ),
    pytest.param(
        '[services.api]\ncommand = "x"\nready.port = 1\nenv_file = ["api.env", "local.env"]\n',
        {"api.env": "A=1\n"},
        "services.api.env_file[1]: local.env: cannot read: no such file or directory",
        id="missing-env-file",
    ),
    pytest.param(
        '[services.api]\ncommand = "x"\nready.port = 1\nenv_file = "api.env"\n',
        {"api.env": "A=1\n# fine\nnot a line\n"},
        "services.api.env_file: api.env: line 3: not a NAME=value line",
        id="bad-env-file",
    ),
    pytest.param(
        '[services.api]\ncommand = "x"\nready.port = 1\n',
        {".env": "A=1\nnot a line\n"},
        ".env: line 2: not a NAME=value line",
        id="bad-dotenv",
    ),
    pytest.param(
        '[services.web]\ncommand = "x"\nready.port = 1\ndepends_on = ["db"]\n',
        {},
        "services.web.depends_on: unknown key; did you mean 'requires'? (a list of ids; "
        "each must be ready before this service starts: compose's conditions are implied)",
        id="depends-on",
    ),
    pytest.param(
        '[services.web]\ncommand = "x"\nready.port = 1\nimage = "nginx"\n',
        {},
        "services.web.image: unknown key; put it in a [services.ID.container] table "
        "(used by healthdaemons export; a local run runs the program itself)",
        id="image",
    ),
]
DOCUMENTED_MESSAGES = {str(param.values[2]) for param in DOCUMENTED}


@pytest.mark.parametrize(("text", "files", "message"), DOCUMENTED)
def test_the_documented_messages(
    tmp_path: Path, text: str, files: dict[str, str], message: str
) -> None:
    for name, content in files.items():
        (tmp_path / name).write_text(content)
    assert load_error(write(tmp_path, text)) == message


def test_variables_nested_too_deeply_are_a_mistake(tmp_path: Path) -> None:
    depth = 3000
    deep = "${A:-" * depth + "x" + "}" * depth
    text = f'[services.app]\ncommand = "{deep}"\nready.port = 1\n'
    assert load_error(write(tmp_path, text)) == "services.app.command: variables nested too deeply"


def test_an_integer_too_long_to_convert_from_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BIG", "9" * 5000)
    text = '[services.app]\ncommand = "x"\nmax_restarts = "${BIG}"\nready.port = 1\n'
    assert load_error(write(tmp_path, text)) == (
        f"services.app.max_restarts: must be an integer, not str (from variables: '{'9' * 37}...')"
    )
