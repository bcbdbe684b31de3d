"""`stop_signal`, `log_file`, `log_max_bytes`, `log_backups` and `--log-dir`:
checked before anything starts, with the key path."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from coordinator import (
    Command,
    DaemonOptions,
    Daemons,
    LogDir,
    LogFile,
    OneshotOptions,
    load_config,
)
from coordinator._log_file import parse_size
from coordinator._stop_signal import resolve_stop_signal
from coordinator.errors import ConfigError, InvalidEntryError

from .processes.helpers import always_ready

DB = '[services.db]\ncommand = "postgres"\nready.port = 5432\n'


def _load(tmp_path: Path, text: str, **options: object) -> Daemons:
    path = tmp_path / "system.toml"
    path.write_text(text)
    return load_config(path, **options)  # type: ignore[arg-type]


def _command(daemons: Daemons, id: str = "db") -> Command:
    (spec,) = [s for s in daemons.entries if s.id == id]
    assert isinstance(spec.exec, Command)
    return spec.exec


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ('"SIGQUIT"', "SIGQUIT"),
        ('"QUIT"', "SIGQUIT"),
        ('"quit"', "SIGQUIT"),
        ("3", "SIGQUIT"),
        ('"SIGUSR1"', "SIGUSR1"),
        ('"SIGRTMIN+3"', "SIGRTMIN+3"),
        ('"rtmin+3"', "SIGRTMIN+3"),
    ],
)
def test_a_stop_signal_is_a_name_or_a_number(tmp_path: Path, given: str, expected: str) -> None:
    command = _command(_load(tmp_path, DB + f"stop_signal = {given}\n"))
    assert command.stop_signal == expected


def test_the_default_stop_signal_is_sigterm(tmp_path: Path) -> None:
    assert _command(_load(tmp_path, DB)).stop_signal == "SIGTERM"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ('"SIGQUITT"', "unknown signal 'SIGQUITT'; did you mean 'SIGQUIT'?"),
        ('"SIGKILL"', "SIGKILL is not a polite stop (SIGKILL follows sigterm_timeout anyway)"),
        ('"STOP"', "SIGSTOP stops a process instead of ending it"),
        ('"WINCH"', "SIGWINCH is ignored by default: it asks nothing of a process"),
        ("99", "unknown signal number 99"),
        (
            '"SIGRTMIN+99"',
            "unknown signal 'SIGRTMIN+99' (real-time ones are SIGRTMIN+0 to SIGRTMIN+30)",
        ),
        ("true", "must be a signal name or number, not bool"),
        ("1.5", "must be a signal name or number, not float"),
    ],
)
def test_a_bad_stop_signal_names_its_key(tmp_path: Path, given: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, DB + f"stop_signal = {given}\n")
    assert str(caught.value).endswith(f": services.db.stop_signal: {message}")


def test_the_builder_refuses_a_bad_stop_signal() -> None:
    with pytest.raises(InvalidEntryError, match=r"exec\.stop_signal unknown signal 'SIGTREM'"):
        Daemons.of().add_daemon(
            "web", exec=Command(["x"], stop_signal="SIGTREM"), ready=always_ready()
        )
    assert resolve_stop_signal(signal.SIGQUIT) == (signal.SIGQUIT, "SIGQUIT")
    rt = signal.SIGRTMIN + 3
    assert resolve_stop_signal("SIGRTMIN+3") == resolve_stop_signal(rt) == (rt, "SIGRTMIN+3")
    below_max = signal.SIGRTMAX - 1
    name = f"SIGRTMIN+{below_max - signal.SIGRTMIN}"
    assert resolve_stop_signal("rtmax-1") == (below_max, name)


def test_log_file_is_relative_to_the_config_file(tmp_path: Path) -> None:
    text = DB + 'log_file = "logs/db.log"\nlog_max_bytes = "10KB"\nlog_backups = 3\n'
    log = _command(_load(tmp_path, text)).log
    assert log == LogFile(tmp_path / "logs" / "db.log", 10 * 1024, 3)
    assert _command(_load(tmp_path, DB + 'log_file = "db.log"\n')).log == LogFile(
        tmp_path / "db.log", 50 * 1024 * 1024, 10
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("log_file = 3\n", "services.db.log_file: must be a string, not int"),
        ('log_file = ""\n', "services.db.log_file: must not be empty"),
        (
            'log_file = "a.log"\nlog_max_bytes = "ten"\n',
            'services.db.log_max_bytes: must be a size such as 10485760, "10MB" or '
            "\"512KB\", not 'ten'",
        ),
        (
            'log_file = "a.log"\nlog_max_bytes = -1\n',
            "services.db.log_max_bytes: must be a size >= 0, not -1",
        ),
        (
            'log_file = "a.log"\nlog_backups = -1\n',
            "services.db.log_backups: must be an integer >= 0, not -1",
        ),
        (
            'log_file = "a.log"\nlog_backups = "2"\n',
            "services.db.log_backups: must be an integer >= 0, not '2'",
        ),
        (
            # Each rotation renames every backup: a bound keeps it short.
            'log_file = "a.log"\nlog_backups = 1001\n',
            "services.db.log_backups: must be at most 1000, not 1001",
        ),
        (
            "log_backups = 2\n",
            "services.db.log_backups: only with log_file (up --log-dir has its own options)",
        ),
    ],
)
def test_a_bad_log_key_names_its_path(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, DB + text)
    assert str(caught.value).endswith(f": {message}")


def test_two_services_cannot_share_a_log_file(tmp_path: Path) -> None:
    text = DB + 'log_file = "all.log"\n[services.web]\ncommand = "w"\nready.port = 1\n'
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text + 'log_file = "./all.log"\n')
    real = os.path.realpath(tmp_path / "all.log")
    assert str(caught.value).endswith(
        f": services.web.log_file: {real} is the log file of service 'db' too, or one of "
        "its rotated files (each service needs its own: they rotate it)"
    )
    # Nor another's rotated file, nor the same file through a symbolic link.
    with pytest.raises(ConfigError, match="is the log file of service 'db' too"):
        _load(tmp_path, text + 'log_file = "all.log.2"\n')
    (tmp_path / "link").symlink_to(tmp_path)
    with pytest.raises(ConfigError, match="is the log file of service 'db' too"):
        _load(tmp_path, text + 'log_file = "link/all.log"\n')
    _load(tmp_path, text + 'log_file = "all.log.x"\n')
    # Nor a service's own file and another's --log-dir file.
    with pytest.raises(ConfigError, match="is the log file of service 'db' too"):
        _load(
            tmp_path,
            DB + 'log_file = "logs/web.log"\n[services.web]\ncommand = "w"\nready.port = 1\n',
            log_dir=LogDir(tmp_path / "logs"),
        )


def test_log_dir_gives_each_service_without_its_own_a_file(tmp_path: Path) -> None:
    text = DB + 'log_file = "db.log"\n[services.init]\nkind = "oneshot"\ncommand = "i"\n'
    daemons = _load(tmp_path, text, log_dir=LogDir(tmp_path / "logs", 100, 1))
    assert _command(daemons).log == LogFile(tmp_path / "db.log")
    assert _command(daemons, "init").log == LogFile(tmp_path / "logs" / "init.log", 100, 1)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_an_unwritable_log_file_is_refused_up_front_unless_root(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(
        ConfigError, match=r"services\.db\.log_file: cannot create .*permission denied"
    ):
        _load(
            tmp_path,
            DB.replace("postgres", "true") + 'log_file = "locked/db.log"\n',
            check_programs=True,
        )


def test_a_log_file_under_a_file_is_refused_up_front(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    text = DB.replace("postgres", "true") + 'log_file = "file/db.log"\n'
    _load(tmp_path, text)  # the machine is not checked by default
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text, check_programs=True)
    assert str(caught.value).endswith(
        f": services.db.log_file: cannot create {tmp_path}/file/db.log: "
        f"{tmp_path}/file is not a directory"
    )
    with pytest.raises(ConfigError) as caught:
        _load(
            tmp_path,
            DB.replace("postgres", "true"),
            check_programs=True,
            log_dir=LogDir(tmp_path / "file"),
        )
    assert str(caught.value).endswith(
        f": --log-dir {tmp_path}/file: cannot create {tmp_path}/file/db.log: "
        f"{tmp_path}/file is not a directory"
    )


@pytest.mark.parametrize(
    ("text", "size"),
    [("0", 0), ("512", 512), ("10KB", 10240), ("10 kb", 10240), ("2M", 2 << 20), ("1GB", 1 << 30)],
)
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_the_builder_checks_a_log_file() -> None:
    with pytest.raises(InvalidEntryError, match=r"exec.log.max_bytes must be an integer >= 0"):
        Daemons.of().add_oneshot(
            "x", OneshotOptions(Command(["x"], log=LogFile("a", max_bytes=-1)))
        )
    with pytest.raises(InvalidEntryError, match=r"exec.log must be a LogFile, not str"):
        Daemons.of().add_daemon(
            "x",
            DaemonOptions(Command(["x"], log="a.log"), always_ready()),  # type: ignore[arg-type]
        )
