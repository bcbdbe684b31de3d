"""Running part of a system: `Daemons.select`, and in a config file the ids
named on the command line, `--no-deps`, `profiles` and `disabled`
(docs/config.md, "Running part of a file"). Nothing here runs a process."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from coordinator import Daemons, MemoryHost, Ready, load_config
from coordinator.errors import ConfigError, ValidationError
from healthdaemons._cli import build_parser, main
from healthdaemons._cli_arguments import selection
from healthdaemons._detach import up_again

from .support import Switch, finishes, forever

STACK = """
[services.db]
command = "db"
ready.port = 5432

[services.cache]
command = "cache"
ready.port = 6379

[services.migrate]
kind = "oneshot"
command = "migrate"
requires = ["db"]

[services.app]
command = "app"
ready.port = 8000
requires = ["migrate", "cache"]

[services.worker]
command = "worker"
ready.port = 8001
requires = ["db"]

[services.debugger]
command = "debugger"
ready.port = 9000
requires = ["app"]
profiles = ["debug", "dev"]

[services.mocks]
command = "mocks"
ready.port = 9001
profiles = ["test"]

[services.legacy]
command = "legacy"
ready.port = 9002
requires = ["db"]
disabled = true
"""


def write(tmp_path: Path, text: str = STACK) -> Path:
    path = tmp_path / "app.toml"
    path.write_text(textwrap.dedent(text))
    return path


def requires(daemons: Daemons) -> dict[str, tuple[str, ...]]:
    return {spec.id: spec.requires for spec in daemons.entries}


# The builder


def system() -> Daemons:
    def ready() -> Ready:
        return Ready(None, Switch())

    return (
        Daemons.of(host=MemoryHost(), orphan_guard=True)
        .add_daemon("db", exec=forever(), ready=ready())
        .add_daemon("cache", exec=forever(), ready=ready())
        .add_oneshot("migrate", exec=finishes(), requires=["db"])
        .add_daemon("app", exec=forever(), ready=ready(), requires=["migrate", "cache"])
        .add_daemon("worker", exec=forever(), ready=ready(), requires=["db"])
    )


def test_select_keeps_the_named_entries_and_what_they_require_in_order() -> None:
    whole = system()
    chosen = whole.select(["app"])
    assert chosen.ids == ("db", "cache", "migrate", "app")
    assert requires(chosen)["app"] == ("migrate", "cache")
    assert chosen.entries[3] is whole.entries[3]  # options untouched
    assert (chosen.host, len(whole)) == (whole.host, 5)  # the original is unchanged
    assert whole.select(["worker", "cache"]).ids == ("db", "cache", "worker")


def test_select_without_dependencies_drops_the_requirements_left_out() -> None:
    chosen = system().select(["app", "cache"], dependencies=False)
    assert requires(chosen) == {"cache": (), "app": ("cache",)}
    # Still a builder: it can grow, and it builds.
    grown = chosen.add_daemon(
        "extra", exec=forever(), ready=Ready(None, Switch()), requires=["app"]
    )
    assert grown.ids == ("cache", "app", "extra")
    grown.build()


def test_select_refuses_an_unknown_id_with_the_closest_one() -> None:
    with pytest.raises(ValidationError, match=r"cannot select 'wrker'.*did you mean 'worker'") as e:
        system().select(["app", "wrker"])
    assert e.value.entry == "wrker"
    with pytest.raises(TypeError, match="not the string 'app'"):
        system().select("app")


@pytest.mark.anyio
async def test_a_selected_system_runs_only_its_entries() -> None:
    async with system().select(["worker"]).build() as running:
        await running.wait_ready(10)
        assert running.ids == ("db", "worker")


# Config files


def test_named_services_come_with_what_they_require(tmp_path: Path) -> None:
    path = write(tmp_path)
    assert load_config(path).ids == ("db", "cache", "migrate", "app", "worker")
    assert load_config(path, services=["app"]).ids == ("db", "cache", "migrate", "app")
    assert load_config(path, services=["worker", "cache"]).ids == ("db", "cache", "worker")


def test_no_deps_keeps_only_the_named_services(tmp_path: Path) -> None:
    chosen = load_config(write(tmp_path), services=["app", "migrate"], dependencies=False)
    assert requires(chosen) == {"migrate": (), "app": ("migrate",)}


def test_profiles_enable_services_as_compose_does(tmp_path: Path) -> None:
    path = write(tmp_path)
    assert "debugger" not in load_config(path).ids
    assert load_config(path, profiles=["dev"]).ids[-1] == "debugger"
    assert set(load_config(path, profiles=["debug", "test"]).ids) >= {"debugger", "mocks"}
    # Named on the command line: enabled without its profile (and only it).
    assert load_config(path, services=["debugger"]).ids == (
        "db",
        "cache",
        "migrate",
        "app",
        "debugger",
    )
    assert "legacy" not in load_config(path, profiles=["debug", "test"]).ids


def test_naming_a_service_enables_its_profiles_for_what_it_requires(tmp_path: Path) -> None:
    # compose's own example: `docker compose up mock-backend` starts db too.
    text = (
        '[services.web]\ncommand = "web"\nready.port = 1\n'
        '[services.mock-backend]\ncommand = "mock"\nready.port = 2\n'
        'profiles = ["dev"]\nrequires = ["db"]\n'
        '[services.db]\ncommand = "db"\nready.port = 3\nprofiles = ["dev"]\n'
    )
    path = tmp_path / "app.toml"
    path.write_text(text)
    assert load_config(path, services=["mock-backend"]).ids == ("db", "mock-backend")
    assert load_config(path).ids == ("web",)


@pytest.mark.parametrize(
    ("text", "options", "message"),
    [
        (
            STACK,
            {"services": ["wrker"]},
            "app.toml: unknown service 'wrker'; did you mean 'worker'?",
        ),
        (
            STACK,
            {"services": ["legacy"]},
            "app.toml: services.legacy.disabled: 'legacy' is disabled, so it cannot be started",
        ),
        (
            STACK,
            {"profiles": ["debgu"]},
            "app.toml: no service has the profile 'debgu'; did you mean 'debug'?",
        ),
        (
            '[services.a]\ncommand = "a"\nready.port = 1',
            {"profiles": ["debug"]},
            "app.toml: no service has the profile 'debug' (no service has profiles)",
        ),
        (
            STACK + '[services.ui]\ncommand = "ui"\nready.port = 1\nrequires = ["debugger"]\n',
            {},
            "app.toml: services.ui.requires: 'ui' requires 'debugger', which is not enabled: "
            "give one of --profile debug, --profile dev, or name 'debugger' too",
        ),
        (
            STACK + '[services.ui]\ncommand = "ui"\nready.port = 1\nrequires = ["mocks"]\n',
            {"services": ["ui"]},
            "app.toml: services.ui.requires: 'ui' requires 'mocks', which is not enabled: "
            "give --profile test, or name 'mocks' too",
        ),
        (
            STACK + '[services.ui]\ncommand = "ui"\nready.port = 1\nrequires = ["legacy"]\n',
            {},
            "app.toml: services.ui.requires: 'ui' requires 'legacy', which is disabled "
            "(services.legacy.disabled)",
        ),
        (
            '[services.a]\ncommand = "a"\nready.port = 1\ndisabled = true\n',
            {},
            "app.toml: no services to run: each is disabled or in a profile not active "
            "(active: none)",
        ),
        (
            '[services.a]\ncommand = "a"\nready.port = 1\nprofiles = "debug"\n',
            {},
            "app.toml: services.a.profiles: must be an array of profile names, not str",
        ),
        (
            '[services.a]\ncommand = "a"\nready.port = 1\nprofiles = ["de bug"]\n',
            {},
            "app.toml: services.a.profiles[0]: invalid profile name 'de bug': use letters, "
            "digits, '_', '.' and '-', starting with a letter or digit",
        ),
        (
            '[services.a]\ncommand = "a"\nready.port = 1\nprofiles = ["x", "x"]\n',
            {},
            "app.toml: services.a.profiles[1]: 'x' is listed twice",
        ),
        (
            '[services.a]\ncommand = "a"\nready.port = 1\ndisabled = "yes"\n',
            {},
            "app.toml: services.a.disabled: must be a boolean, not str",
        ),
    ],
)
def test_selection_mistakes(
    tmp_path: Path, text: str, options: dict[str, list[str]], message: str
) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, text), **options)  # type: ignore[arg-type]
    assert str(error.value) == f"{tmp_path}/{message}"


def test_a_requirement_on_a_disabled_service_is_no_mistake_with_no_deps(tmp_path: Path) -> None:
    text = STACK + '[services.ui]\ncommand = "ui"\nready.port = 1\nrequires = ["legacy", "app"]\n'
    chosen = load_config(write(tmp_path, text), services=["ui", "app"], dependencies=False)
    assert requires(chosen) == {"app": (), "ui": ("app",)}


def test_only_the_selected_services_programs_are_checked(tmp_path: Path) -> None:
    text = """
    [services.here]
    command = ["true"]
    ready.port = 1
    [services.missing]
    command = ["no-such-program-anywhere"]
    ready.port = 2
    profiles = ["extra"]
    """
    path = write(tmp_path, text)
    assert load_config(path, check_programs=True).ids == ("here",)
    with pytest.raises(ConfigError, match="cannot run 'no-such-program-anywhere'"):
        load_config(path, check_programs=True, profiles=["extra"])


# The command line


def test_check_prints_the_plan_of_the_selection(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `check` checks the programs: each service runs `true`.
    path = write(tmp_path, re.sub(r'command = "\w+"', 'command = "true"', STACK))
    assert main(["check", str(path), "app", "--no-deps"]) == 0
    assert capsys.readouterr().out.splitlines()[:3] == [
        f"{path}: 1 service, valid",
        "start order (each starts as soon as its own requirements are ready):",
        "  1. app",
    ]
    assert main(["check", str(path), "worker", "--profile", "test"]) == 0
    assert "  1. db\n  2. worker\n" in capsys.readouterr().out
    assert main(["check", str(path), "wrker"]) == 2
    assert capsys.readouterr().err == (
        f"healthdaemons: {path}: unknown service 'wrker'; did you mean 'worker'?\n"
    )


def test_the_profiles_variable_stands_for_profile_options(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parser = build_parser("up")
    monkeypatch.setenv("HEALTHDAEMONS_PROFILES", "debug, test,,")
    assert selection(parser.parse_args(["up", "a.toml"])).profiles == ("debug", "test")
    given = parser.parse_args(["up", "a.toml", "--profile", "dev"])
    assert selection(given).profiles == ("dev",)  # the option wins, as compose's does
    monkeypatch.delenv("HEALTHDAEMONS_PROFILES")
    assert selection(parser.parse_args(["up", "a.toml"])).profiles == ()


def test_up_detach_passes_the_selection_on() -> None:
    arguments = ["up", "s.toml", "app", "worker", "--detach", "--no-deps"]
    arguments += ["--profile", "debug", "--profile", "test"]
    parsed = build_parser("up").parse_args(arguments)
    again = up_again(parsed, parsed.command_parser)
    assert again[:4] == ["up", "s.toml", "app", "worker"]
    reparsed = build_parser("up").parse_args(again)
    assert selection(reparsed) == selection(parsed) == (("app", "worker"), ("debug", "test"), False)


def test_graph_draws_the_selection_of_a_file_or_a_module(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    drawing = tmp_path / "g.dot"
    assert main(["graph", str(write(tmp_path)), "worker", "-o", str(drawing)]) == 0
    assert "\tworker -> db\n" in drawing.read_text()
    assert "app" not in drawing.read_text()
    reference = "tests.test_selection:system"
    assert main(["graph", reference, "app", "--no-deps", "-o", str(drawing)]) == 0
    assert "\tapp [" in drawing.read_text()
    assert "db" not in drawing.read_text()
    capsys.readouterr()
    assert main(["graph", reference, "--profile", "debug", "-o", str(drawing)]) == 2
    assert "profiles are for a config file" in capsys.readouterr().err


DOCUMENTED_STACK = """
[services.api]
command = "api"
ready.port = 8080
[services.worker]
command = "worker"
ready.port = 8081
[services.debugger]
command = "debugger"
ready.port = 9229
profiles = ["debug"]
[services.legacy-sync]
command = "sync"
ready.port = 1
disabled = true
"""
_UI = '[services.ui]\ncommand = "ui"\nready.port = 1\nrequires = ["debugger"]\n'
_API = '[services.api]\ncommand = "api"\nready.port = 1\n'
DOCUMENTED: dict[str, tuple[str, dict[str, list[str]]]] = {
    "services.ui.requires: 'ui' requires 'debugger', which is not enabled: "
    "give --profile debug, or name 'debugger' too": (DOCUMENTED_STACK + _UI, {}),
    "unknown service 'wrker'; did you mean 'worker'?": (DOCUMENTED_STACK, {"services": ["wrker"]}),
    "services.legacy-sync.disabled: 'legacy-sync' is disabled, so it cannot be started": (
        DOCUMENTED_STACK,
        {"services": ["legacy-sync"]},
    ),
    "no service has the profile 'debgu'; did you mean 'debug'?": (
        DOCUMENTED_STACK,
        {"profiles": ["debgu"]},
    ),
    "services.api.watch[0]: '../x/*.py' points outside the config file's directory (DIR)": (
        _API + 'watch = ["../x/*.py"]\n',
        {},
    ),
    "services.api.watch: must not be empty": (_API + "watch = []\n", {}),
    "services.gate.watch: not allowed for a check (it runs no process)": (
        '[services.gate]\nkind = "check"\nready.port = 1\nwatch = ["*.py"]\n',
        {},
    ),
    "services.api.profiles[0]: invalid profile name 'de bug': use letters, digits, '_', '.' "
    "and '-', starting with a letter or digit": (_API + 'profiles = ["de bug"]\n', {}),
    "services.api.disabled: must be a boolean, not str": (_API + 'disabled = "yes"\n', {}),
}
"""The messages docs/config.md shows for selections and watching (DIR: the
file's directory), each with a file and options that give it."""


@pytest.mark.parametrize("message", sorted(DOCUMENTED))
def test_the_documented_messages(tmp_path: Path, message: str) -> None:
    text, options = DOCUMENTED[message]
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_config(path, **options)  # type: ignore[arg-type]
    assert str(error.value) == f"{path}: {message.replace('DIR', str(tmp_path))}"
