"""`healthdaemons check` and `up` refuse a config whose programs this machine
cannot run: not found on PATH, missing from `cwd`, not executable by the
service's user (issue 11, item 16). Nothing starts."""

from __future__ import annotations

import os
import pwd
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from coordinator._config import load_config
from coordinator._programs import shell_program
from coordinator.errors import ConfigError
from healthdaemons import main

MISSING = "no-such-program-for-healthdaemons"


def write(directory: Path, service: str) -> Path:
    path = directory / "app.toml"
    path.write_text(f"[services.db]\n{service}\n", encoding="utf-8")
    return path


def executable(path: Path, mode: int = 0o755) -> Path:
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(mode)
    return path


def problem(tmp_path: Path, service: str) -> str | None:
    """The config error of `check` on `[services.db]` with `service`, after the file name."""
    path = write(tmp_path, service)
    try:
        load_config(path, check_programs=True)
    except ConfigError as error:
        return str(error).removeprefix(f"{path}: ")
    return None


PORT = "ready.port = 5432"


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        (
            f'command = ["{MISSING}"]\n{PORT}',
            f"services.db.command: cannot run '{MISSING}': not found on PATH",
        ),
        (
            f'command = "exec {MISSING} --port 1"\n{PORT}',
            f"services.db.command: cannot run '{MISSING}': not found on PATH",
        ),
        (
            f'command = "{MISSING} 2>&1 | tee log"\n{PORT}',
            f"services.db.command: cannot run '{MISSING}': not found on PATH",
        ),
        (
            f'command = ["./{MISSING}"]\n{PORT}',
            f"services.db.command: cannot run './{MISSING}': no such file in {{tmp}}",
        ),
        (
            f'command = ["true"]\nready.script = "{MISSING} --ping"',
            f"services.db.ready.script: cannot run '{MISSING}': not found on PATH",
        ),
        (
            f'command = ["true"]\ncwd = "nowhere"\n{PORT}',
            "services.db.cwd: not a directory: '{tmp}/nowhere'",
        ),
        (
            f'command = ["true"]\nuser = "no-such-user-for-healthdaemons"\n{PORT}',
            "services.db.user: unknown user 'no-such-user-for-healthdaemons'",
        ),
        (f'command = ["./script"]\n{PORT}', "services.db.command: cannot run './script': "),
    ],
)
def test_a_program_that_cannot_run_here_is_a_config_error_naming_the_service(
    tmp_path: Path, service: str, expected: str
) -> None:
    (tmp_path / "script").write_text("#!/bin/sh\n")  # not executable
    expected = expected.format(tmp=tmp_path)
    if expected.endswith(": "):
        expected += "permission denied"
    found = problem(tmp_path, service)
    assert found == expected
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, service), check_programs=True)
    assert caught.value.entry == "db"


@pytest.mark.parametrize(
    "service",
    [
        f'command = ["true"]\n{PORT}',
        f'command = "exec sleep 1000"\n{PORT}',
        f'command = ["./bin/server"]\n{PORT}',  # relative to the file's directory
        f'command = ["server"]\nenv = {{ PATH = "bin" }}\n{PORT}',  # a relative PATH entry
        f'command = ["server"]\nenv = {{ PATH = "/nowhere:{{tmp}}/bin" }}\n{PORT}',
        'command = ["true"]\nready.script = "exec true"',
        # What the shell decides is not checked: assignments, builtins, quoting, compounds.
        f'command = "FOO=1 {MISSING}"\n{PORT}',
        f'command = "cd /tmp && {MISSING}"\n{PORT}',
        f"command = \"'{MISSING}' x\"\n{PORT}",
        # `$$`: a `$` for the shell, not the file's own `${SERVER:-...}`.
        f'command = "$${{SERVER:-{MISSING}}}"\n{PORT}',
        f'command = "if true; then {MISSING}; fi"\n{PORT}',
    ],
)
def test_programs_that_can_run_here_or_that_the_shell_decides_pass(
    tmp_path: Path, service: str
) -> None:
    (tmp_path / "bin").mkdir()
    executable(tmp_path / "bin" / "server")
    assert problem(tmp_path, service.replace("{tmp}", str(tmp_path))) is None


def test_without_checking_programs_the_file_still_loads(tmp_path: Path) -> None:
    path = write(tmp_path, f'command = ["{MISSING}"]\n{PORT}')
    assert load_config(path).ids == ("db",)


def unprivileged() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user 'nobody' on this machine")


@pytest.fixture
def open_directory() -> Iterator[Path]:
    """A directory every user can reach (pytest's own are under a private one)."""
    with tempfile.TemporaryDirectory(dir="/tmp") as name:
        os.chmod(name, 0o755)
        yield Path(name)


def test_the_program_is_resolved_as_the_services_user(tmp_path: Path, open_directory: Path) -> None:
    nobody = unprivileged()
    as_nobody = f"(as user '{nobody.pw_name}')"
    user = f'user = "{nobody.pw_name}"'
    shared = executable(open_directory / "shared", 0o755)
    mine = executable(open_directory / "mine", 0o700)  # the owner's alone
    assert os.stat(mine).st_uid != nobody.pw_uid
    assert problem(open_directory, f'command = ["{shared}"]\n{user}\n{PORT}') is None
    assert problem(open_directory, f'command = ["{mine}"]\n{user}\n{PORT}') == (
        f"services.db.command: cannot run '{mine}': permission denied {as_nobody}"
    )
    # Without the user, this process (the owner) may run it.
    assert problem(open_directory, f'command = ["{mine}"]\n{PORT}') is None
    # A directory the user cannot search hides what is in it, however open the file.
    hidden = tmp_path / "hidden"
    hidden.mkdir(mode=0o700)
    inside = executable(hidden / "tool", 0o755)
    assert problem(open_directory, f'command = ["{inside}"]\n{user}\n{PORT}') == (
        f"services.db.command: cannot run '{inside}': permission denied {as_nobody}"
    )


def test_check_reports_a_missing_program_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, f'command = ["{MISSING}"]\n{PORT}')
    assert main(["check", str(path)]) == 2
    assert capsys.readouterr().err == (
        f"healthdaemons: {path}: services.db.command: cannot run '{MISSING}': not found on PATH\n"
    )


def test_up_starts_nothing_when_a_program_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "started"
    path = tmp_path / "app.toml"
    path.write_text(
        f'[services.first]\nkind = "oneshot"\ncommand = ["touch", "{marker}"]\n\n'
        f'[services.second]\ncommand = ["{MISSING}"]\nrequires = ["first"]\n{PORT}\n',
        encoding="utf-8",
    )
    assert main(["up", str(path), "--until-ready", "--timeout", "5"]) == 2
    assert "services.second.command: cannot run" in capsys.readouterr().err
    assert not marker.exists()


@pytest.mark.parametrize(
    ("script", "program"),
    [
        ("redis-server --port 1", "redis-server"),
        ("  exec ./worker --queue jobs", "./worker"),
        ("/usr/bin/env python3 -c 'x'", "/usr/bin/env"),
        ("app && other", "app"),
        ("exec", None),
        ("exec -a name app", None),
        ("echo hi", None),
        ("A=1 app", None),
        ("$APP", None),
        ('"app"', None),
        ("~/bin/app", None),
        ("app*", None),
        ("(app)", None),
        ("{ app; }", None),
        ("! app", None),
    ],
)
def test_the_program_of_a_shell_string(script: str, program: str | None) -> None:
    assert shell_program(script) == program


def test_the_spawn_check_keeps_its_words(tmp_path: Path) -> None:
    """The init's early check (`_require_program`) shares the rule and its messages."""
    from coordinator._command_process import SpawnError, _require_program

    with pytest.raises(SpawnError, match=f"^no such file or directory: '{MISSING}'$"):
        _require_program(MISSING, {"PATH": "/nowhere"}, None)
    (tmp_path / "tool").write_text("")
    tmp_path.joinpath("tool").chmod(stat.S_IRUSR)
    with pytest.raises(SpawnError, match=r"^permission denied: '\./tool'$"):
        _require_program("./tool", {}, str(tmp_path))
    with pytest.raises(SpawnError, match=r"^permission denied: '\./'$"):
        _require_program("./", {}, str(tmp_path))
