"""The `healthdaemons` command and the in-process demo of `make demo`."""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from coordinator import Daemons, Ready, dump_events
from healthdaemons import main
from healthdaemons._cli import COMMANDS, build_parser

from .support import Switch, check_invariants, forever

ROOT = Path(__file__).resolve().parent.parent


def load_demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "inprocess_demo", ROOT / "examples/inprocess_demo.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_each_command_is_a_row_of_the_table() -> None:
    """The parser is built from `COMMANDS`, and `main` runs the row's function."""
    (subparsers,) = (
        action
        for action in build_parser()._actions
        if isinstance(action, argparse._SubParsersAction)
    )
    assert list(subparsers.choices) == list(COMMANDS)
    assert list(COMMANDS) == [
        *("table", "defaults", "events", "lifecycle", "graph", "timeline", "up", "check", "verify"),
        *("explore", "export", "import"),
        *("ps", "logs", "stop", "start", "restart", "wait", "down"),
        "web",
    ]


def test_arguments_that_do_not_go_together_are_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "system.toml"
    config.write_text(
        '[services.db]\ncommand = ["sleep", "60"]\n[services.db.ready]\nlog_line = "x"\n'
    )
    with pytest.raises(SystemExit) as exited:
        main(["up", str(config), "--timeout", "5"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: healthdaemons up [-h] ")
    assert err.endswith(
        "healthdaemons up: error: --timeout needs --until-ready (a plain `up` runs until Ctrl-C)\n"
    )


def test_table_prints_the_lifecycle_rows(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["table", "--kind", "check"]) == 0
    out = capsys.readouterr().out
    assert "waiting    launch           dependencies_ready, not terminating" in out
    assert "give_up" not in out  # checks run no process


async def test_events_replays_a_recorded_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    system = Daemons.of().add_daemon("db", exec=forever(), ready=Ready("Database", Switch()))
    async with system.build() as running:
        await running.wait_ready(timeout=5)
    dump_events(running.history, tmp_path / "run.jsonl")
    assert main(["events", str(tmp_path / "run.jsonl")]) == 0
    out = capsys.readouterr().out
    assert "db           waiting -> starting  (launch)" in out
    assert "db           stopping -> stopped  (gone)" in out


def test_events_on_a_bad_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    assert main(["events", str(bad)]) == 2
    assert f"{bad}: not a recorded run: its one line is not an event\n" in capsys.readouterr().err
    bad.write_text("not json\n[]\n")
    assert main(["events", str(bad)]) == 2
    assert (
        f"{bad}: not a recorded run: none of its 2 lines is an event\n" in capsys.readouterr().err
    )
    assert main(["events", str(tmp_path / "missing.jsonl")]) == 2
    assert "missing.jsonl: cannot read: No such file or directory" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["a-directory", "under-a-file"])
def test_up_with_a_record_it_cannot_write_exits_2_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    config = tmp_path / "system.toml"
    config.write_text(
        '[services.db]\ncommand = ["sleep", "60"]\n[services.db.ready]\nlog_line = "x"\n'
    )
    record = tmp_path if where == "a-directory" else config / "run.jsonl"
    assert main(["up", str(config), "--record", str(record)]) == 2
    out, err = capsys.readouterr()
    assert err.startswith(f"healthdaemons: --record {record}: cannot write: ")
    assert "spawned" not in out


def seconds(value: str) -> str:
    if value == "x":
        return "not a number of seconds: 'x'"
    return f"must be a number of seconds >= 0, not {value!r}"


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        (["up", "s.toml", "--until-ready", "--timeout", value], f"--timeout: {seconds(value)}")
        for value in ("nan", "-1", "inf", "x")
    ]
    + [
        (["verify", "s.toml", "--budget", value], f"--budget: {seconds(value)}")
        for value in ("nan", "-1", "inf")
    ]
    + [
        (
            ["events", "r.jsonl", "--from", "-1"],
            "--from: must be a number of seconds >= 0, not '-1'",
        ),
        (["verify", "s.toml", "--examples", "-1"], "--examples: must be 0 or more, not -1"),
        (["verify", "s.toml", "--examples", "1.5"], "--examples: not a whole number: '1.5'"),
        (["explore", "s.toml", "--max-states", "0"], "--max-states: must be 1 or more, not 0"),
    ],
)
def test_the_number_options_are_checked_by_one_rule_per_kind(
    arguments: list[str], error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Seconds (`--timeout`, `--budget`, `--from`, `--to`) are finite and >= 0,
    counts whole numbers, each refused with the usage, before anything is read."""
    with pytest.raises(SystemExit) as exited:
        main(arguments)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: healthdaemons {arguments[0]} ")
    assert err.endswith(f"error: argument {error}\n")


@pytest.mark.processes
@pytest.mark.parametrize(
    "command",
    [
        [str(Path(sys.executable).with_name("healthdaemons"))],
        [sys.executable, "-m", "healthdaemons"],
    ],
    ids=["console-script", "python-m"],
)
def test_the_command_is_installed(command: list[str]) -> None:
    result = subprocess.run([*command, "--version"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("healthdaemons ")


async def test_the_demo_runs_its_hiccup_and_keeps_the_invariants() -> None:
    demo = load_demo()
    history = await demo.main()
    system: Daemons = demo.build(demo.Store())
    check_invariants(system.entries, history)
    lost = [
        e for e in history if getattr(getattr(e, "event", None), "value", "") == "dependency_lost"
    ]
    assert {e.entry for e in lost} == {"migrate", "worker", "api", "smoke"}


@pytest.mark.processes
@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize(
    "arguments", [["table"], ["defaults"], ["--help"], ["check", "examples/demo.toml"]]
)
def test_a_reader_that_has_gone_is_no_error(arguments: list[str], buffered: bool) -> None:
    """`healthdaemons defaults | head -3`: once the reader has closed the pipe,
    the rest of the output goes nowhere, quietly, and the exit status is 0;
    whether Python's stdout is buffered (the error would come in its final
    flush) or not (in `print`)."""
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if not buffered:
        environment["PYTHONUNBUFFERED"] = "1"
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "healthdaemons", *arguments],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
            cwd=ROOT,
            check=False,
        )
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (0, "")
