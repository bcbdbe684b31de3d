"""`Watch`: its patterns (globs within a base directory), its validation in
the builder and in config files. The restarts it makes, with real files and
processes, are in tests/processes/test_watch.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from coordinator import Daemons, Ready, Watch, load_config
from coordinator.errors import ConfigError, InvalidEntryError

from .support import Switch, finishes, forever


@pytest.mark.parametrize(
    ("pattern", "matching", "other"),
    [
        ("src/**/*.py", ["src/a.py", "src/x/y/b.py"], ["a.py", "src/a.pyc", "lib/src/a.py"]),
        ("src/*.py", ["src/a.py"], ["src/x/a.py", "src/a.txt"]),
        ("*.toml", ["app.toml"], ["etc/app.toml"]),
        ("config.ini", ["config.ini"], ["config.ini.bak", "x/config.ini"]),
        ("src", ["src/a.py", "src/x/y.c"], ["srcs/a.py", "a/src/b.py"]),
        (".", ["a.py", "x/y.c"], []),
        ("./src/../lib/?.c", ["lib/a.c"], ["lib/ab.c", "src/a.c"]),
        ("src/**", ["src/a", "src/x/y"], ["srcs/a"]),
        ("**/*.[ch]", ["a.c", "x/y.h"], ["a.o"]),
        ("[!.]*.py", ["a.py"], [".a.py"]),
        ("[]]x[!]", ["]x[!]"], ["ax[!]"]),
    ],
)
def test_patterns_are_globs_within_the_base(
    tmp_path: Path, pattern: str, matching: list[str], other: list[str]
) -> None:
    watch = Watch([pattern], tmp_path)
    for path in matching:
        assert watch.matches(str(tmp_path / path)), path
    for path in other:
        assert not watch.matches(str(tmp_path / path)), path
    assert not watch.matches(str(tmp_path.parent / "a.py"))


def test_roots_are_the_fixed_part_of_each_pattern_that_exists(tmp_path: Path) -> None:
    (tmp_path / "src" / "app").mkdir(parents=True)
    patterns = ["src/app/**/*.py", "src/*/x.py", "missing/dir/*.c", "config.ini", "src", "."]
    assert Watch(patterns, tmp_path).roots() == [
        str(tmp_path / "src" / "app"),
        str(tmp_path / "src"),
        str(tmp_path),
        str(tmp_path),
        str(tmp_path / "src"),
        str(tmp_path),
    ]


@pytest.mark.parametrize(
    ("watch", "problem"),
    [
        (Watch("*.py", "."), "watch.patterns must be a list of globs, not str"),
        (Watch([], "."), "watch.patterns must not be empty"),
        (Watch(["a", 1], "."), "watch.patterns[1] must be a string, not int"),  # type: ignore[list-item]
        (Watch([" "], "."), "watch.patterns[0] must not be empty"),
        (
            Watch(["../x"], "/srv/app"),
            "watch.patterns[0] '../x' points outside the directory /srv/app",
        ),
        (
            Watch(["/etc/*"], "/srv/app"),
            "watch.patterns[0] '/etc/*' points outside the directory /srv/app",
        ),
        (Watch(["*"], "/srv", debounce=0), "watch.debounce must be a number > 0, not 0"),
        (Watch(["*"], ""), "watch.base must be a directory's path"),
    ],
)
def test_the_builder_refuses_a_bad_watch(watch: Watch, problem: str) -> None:
    with pytest.raises(InvalidEntryError) as error:
        Daemons.of().add_daemon("web", exec=forever(), ready=Ready(None, Switch()), watch=watch)
    assert str(error.value) == f"daemon 'web': {problem}"
    with pytest.raises(InvalidEntryError, match="watch must be a Watch, not list"):
        Daemons.of().add_oneshot("job", exec=finishes(), watch=["*.py"])  # type: ignore[call-overload]


def test_a_config_file_watches_relative_to_its_directory(tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    path.write_text(
        '[services.web]\ncommand = "web"\nready.port = 80\nwatch = ["src/**/*.py"]\n'
        '[services.build]\nkind = "oneshot"\ncommand = "make"\nwatch = ["Makefile", "*.c"]\n'
        '[services.db]\ncommand = "db"\nready.port = 5432\n'
    )
    specs = {spec.id: spec for spec in load_config(path).entries}
    assert specs["web"].watch == Watch(("src/**/*.py",), tmp_path)
    assert specs["build"].watch == Watch(("Makefile", "*.c"), tmp_path)
    assert specs["db"].watch is None


OUTSIDE = "points outside the config file's directory (DIR)"


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (
            'watch = ["../common/*.py"]',
            "services.web.watch[0]: '../common/*.py' " + OUTSIDE,
        ),
        (
            'watch = ["src/../../x"]',
            "services.web.watch[0]: 'src/../../x' " + OUTSIDE,
        ),
        (
            'watch = ["/etc/passwd"]',
            "services.web.watch[0]: '/etc/passwd' " + OUTSIDE,
        ),
        ('watch = "src"', "services.web.watch: must be an array of globs, not str"),
        ("watch = []", "services.web.watch: must not be empty"),
        ('watch = ["a", 2]', "services.web.watch[1]: must be a string, not int"),
        ('watch = [""]', "services.web.watch[0]: must not be empty"),
        (
            'watch = ["src/[z-a].py"]',
            "services.web.watch[0]: invalid glob 'src/[z-a].py': "
            "bad character range z-a at position 5",
        ),
    ],
)
def test_watch_mistakes_in_a_config_file(tmp_path: Path, key: str, message: str) -> None:
    path = tmp_path / "app.toml"
    path.write_text(f'[services.web]\ncommand = "web"\nready.port = 80\n{key}\n')
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(error.value) == f"{path}: {message.replace('DIR', str(tmp_path))}"


def test_a_check_watches_nothing(tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    path.write_text('[services.gate]\nkind = "check"\nready.port = 80\nwatch = ["*.py"]\n')
    with pytest.raises(ConfigError, match=r"services.gate.watch: not allowed for a check"):
        load_config(path)


def test_a_simulated_run_watches_no_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """verify and explore replace the world around the system, files too."""
    from coordinator._watch import FileWatcher
    from coordinator.testing import explore, verify

    def no_watcher(*_: object) -> None:
        raise AssertionError("a simulated run started a file watcher")

    monkeypatch.setattr(FileWatcher, "start", no_watcher)
    system = Daemons.of().add_daemon(
        "web", exec=forever(), ready=Ready(None, Switch()), watch=Watch(["*.py"], "/nowhere")
    )
    verify(system, max_examples=3)
    explore(system, max_states=50)
