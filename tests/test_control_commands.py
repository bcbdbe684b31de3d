"""The client commands (`healthdaemons ps`, `logs`, `stop` ...) in this process,
against a fake control server (tests/control_fake.py): what they print and
how they exit for each answer. On a real stack: tests/processes/test_control_commands.py."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from coordinator import Daemons, Ready, event_json
from healthdaemons import main
from healthdaemons._control_commands import duration, entries_table

from .control_fake import Answer, FakeServer, fake_server_in_a_thread, sse
from .support import Switch, forever
from .test_control_client import entry


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with (
        tempfile.TemporaryDirectory(prefix="hd-") as name,
        fake_server_in_a_thread(Path(name) / "control.sock") as fake,
    ):
        yield fake


def run(server: FakeServer, *arguments: str) -> int:
    return main([*arguments[:1], "--socket", str(server.socket), *arguments[1:]])


def test_ps_prints_a_table_or_json(server: FakeServer, capsys: pytest.CaptureFixture[str]) -> None:
    entries = [
        entry("db", state="stopped", held=True, pid=None, uptime=None),
        entry("web", state="waiting", pid=None, uptime=None, health=None, waiting_for=["db"]),
        entry("worker", uptime=3725.0, restarts=2, health={"result": "success", "message": "ok"}),
        entry(
            "job",
            state="stopped",
            held=True,
            ended=True,
            pid=None,
            uptime=None,
            health={"result": "failure", "message": "exited; not restarted"},
        ),
    ]
    server.routes[("GET", "/v1/entries")] = Answer(body={"entries": entries})
    assert run(server, "ps") == 0
    # The one its restart policy ended says why; one an operator holds, nothing.
    assert capsys.readouterr().out == (
        "ID      KIND    STATE            PID   UPTIME  RESTARTS  HEALTH\n"
        "db      daemon  stopped (held)   -     -       0         -\n"
        "web     daemon  waiting          -     -       0         waiting for db\n"
        "worker  daemon  ready            4242  1h02m   2         success: ok\n"
        "job     daemon  stopped (ended)  -     -       0         failure: exited; not restarted\n"
    )
    assert run(server, "ps", "--json") == 0
    assert json.loads(capsys.readouterr().out) == {"entries": entries}


def test_a_health_message_cannot_drive_the_terminal() -> None:
    shown = entries_table([entry("db", health={"result": "failure", "message": "\x1b[2Jgone"})])
    assert "\x1b" not in shown
    assert "\\x1b[2Jgone" in shown


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0.4, "0s"),
        (59.9, "59s"),
        (60, "1m00s"),
        (3599, "59m59s"),
        (3600, "1h00m"),
        (90000, "1d01h"),
    ],
)
def test_durations(seconds: float, shown: str) -> None:
    assert duration(seconds) == shown


@pytest.mark.parametrize(
    ("status", "code"),
    [(404, 2), (409, 1), (500, 1)],
)
def test_an_action_refused_exits_with_its_code_and_the_servers_message(
    server: FakeServer, capsys: pytest.CaptureFixture[str], status: int, code: int
) -> None:
    server.routes[("POST", "/v1/entries/web/restart")] = Answer(status, {"error": "refused"})
    assert run(server, "restart", "web") == code
    out, err = capsys.readouterr()
    assert (out, err) == ("", "healthdaemons: refused\n")


def test_an_action_prints_what_it_did(
    server: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.routes[("POST", "/v1/entries/db/stop")] = Answer(body=entry("db", state="stopped"))
    assert run(server, "stop", "db") == 0
    assert capsys.readouterr().out == "db stopped (held until `start` or `restart`)\n"
    assert run(server, "stop", "db", "--json") == 0
    assert json.loads(capsys.readouterr().out)["state"] == "stopped"


def test_wait_exits_1_when_not_ready(
    server: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    waiting = entry("web", state="starting", health={"result": "starting", "message": "soon"})
    outcome = {"ready": False, "reason": "timed out after 2 s", "waiting": [waiting]}
    server.routes[("POST", "/v1/wait")] = Answer(body=outcome)
    assert run(server, "wait", "web", "db", "--timeout", "2") == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("healthdaemons: not ready: timed out after 2 s\nID ")
    assert "starting: soon" in err
    assert server.asked[-1].json == {"entries": ["web", "db"], "timeout": 2.0}
    assert run(server, "wait", "--json") == 1
    assert json.loads(capsys.readouterr().out) == outcome


def test_logs_of_all_entries_are_prefixed_and_of_one_are_not(
    server: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [
        {"entry": "db", "stream": "stdout", "at": 1.0, "text": "up"},
        {"entry": "worker", "stream": "stderr", "at": 2.0, "text": "tick"},
    ]
    server.routes[("GET", "/v1/entries")] = Answer(body={"entries": [entry("db"), entry("worker")]})
    server.routes[("GET", "/v1/entries/db")] = Answer(body=entry("db"))
    server.routes[("GET", "/v1/output")] = Answer(body={"lines": lines})
    assert run(server, "logs") == 0
    assert capsys.readouterr().out == "db     | up\nworker | tick\n"
    assert run(server, "logs", "db", "-n", "5") == 0
    assert capsys.readouterr().out == "up\ntick\n"  # as the (fake) server sent them
    assert server.asked[-1].target == "/v1/output?entry=db&lines=5"


def test_logs_follow_tells_of_skipped_lines_and_ends_with_the_system(
    server: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    line = {"entry": "db", "stream": "stdout", "at": 1.0, "text": "up"}
    server.routes[("GET", "/v1/entries/db")] = Answer(body=entry("db"))
    server.routes[("GET", "/v1/output")] = Answer(
        stream=[sse("line", line), sse("lost", {"lost": 7}), sse("line", line), sse("end", {})]
    )
    assert run(server, "logs", "db", "-f") == 0
    out, err = capsys.readouterr()
    assert out == "up\nup\n"
    assert err == "healthdaemons: 7 lines skipped (this reader fell behind)\n"


def test_logs_follow_of_a_system_that_vanishes_exits_1(
    server: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.routes[("GET", "/v1/entries/db")] = Answer(body=entry("db"))
    server.routes[("GET", "/v1/output")] = Answer(stream=[], cut=True)
    assert run(server, "logs", "db", "-f") == 1
    assert "the system is gone" in capsys.readouterr().err


def test_logs_of_an_unknown_entry_exits_2(
    server: FakeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.routes[("GET", "/v1/entries/dbb")] = Answer(404, {"error": "no entry 'dbb'"})
    assert run(server, "logs", "dbb", "-f") == 2
    assert capsys.readouterr().err == "healthdaemons: no entry 'dbb'\n"


def test_events_of_a_running_system_as_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    system = Daemons.of().add_daemon("db", exec=forever(), ready=Ready("Database", Switch()))

    async def a_run() -> list[dict[str, object]]:
        async with system.build() as running:
            await running.wait_ready(timeout=5)
        return [event_json(event) for event in running.history]

    history = anyio.run(a_run)
    with (
        tempfile.TemporaryDirectory(prefix="hd-") as name,
        fake_server_in_a_thread(Path(name) / "control.sock") as server,
    ):
        server.routes[("GET", "/v1/events")] = Answer(body={"events": history})
        assert run(server, "events") == 0
        out = capsys.readouterr().out
        assert "    0.000s  db           waiting -> starting  (launch)\n" in out
        assert "db           stopping -> stopped  (gone)" in out
        assert run(server, "events", "--json") == 0
        assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == history


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["events", "run.jsonl", "-f"], "-f and --json are for a running system"),
        (["events", "stack.toml", "--from", "1"], "--from and --to are for a recorded run"),
        (["events"], "give one recorded run"),
        (["ps"], "give the config file of the running system, or --socket PATH"),
        (["ps", "a.toml", "b"], "unexpected arguments: b"),
        (["logs", "a.toml", "web", "db"], "too many entry ids: web db"),
        (["restart", "a.toml"], "give one entry id"),
    ],
)
def test_usage_errors(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(arguments)
    assert exited.value.code == 2
    assert f": error: {message}" in capsys.readouterr().err


def test_no_system_at_the_socket_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    socket = tmp_path / "absent.sock"
    for command in (["ps"], ["down"], ["restart", "web"], ["events", "-f"], ["logs", "-f"]):
        assert main([command[0], "--socket", str(socket), *command[1:]]) == 2
        assert capsys.readouterr().err == (
            f"healthdaemons: no system is running (no control socket at {socket})\n"
        )


def test_up_detach_passes_every_option_on() -> None:
    """The background `up` gets the same options, `--detached` for `--detach`."""
    from healthdaemons._cli import build_parser
    from healthdaemons._detach import up_again

    arguments = ["up", "s.toml", "--detach", "--record", "r.jsonl", "--socket", "c.sock"]
    arguments += ["--listen", "0.0.0.0:8700", "--listen-remote"]
    parsed = build_parser("up").parse_args(arguments)
    again = up_again(parsed, parsed.command_parser)
    assert again[:2] == ["up", "s.toml"]
    assert again[-1] == "--detached"
    assert "--detach" not in again
    reparsed = build_parser("up").parse_args(again)
    for name in ("config", "record", "socket", "listen", "listen_remote", "timeout"):
        assert getattr(reparsed, name) == getattr(parsed, name), name
    assert (reparsed.detach, reparsed.detached) == (False, True)
