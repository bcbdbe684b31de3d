"""`ControlClient` alone, against a fake control server (tests/control_fake.py):
the requests it makes, how it reads answers and streams, and its errors.
The client against a real `up` is tested in tests/processes/test_control.py."""

from __future__ import annotations

import json
import socket
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import pytest

from healthdaemons import (
    ConnectionLostError,
    ControlClient,
    ControlError,
    EntryStatus,
    NoSystemError,
    Skipped,
    TerminatingError,
    UnknownEntryError,
)
from healthdaemons._control_paths import ControlPaths

from .control_fake import Answer, Asked, FakeServer, fake_server, sse


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Real time on both: sockets are real I/O, which a mock clock would jump over."""
    return str(request.param)


@pytest.fixture
def directory() -> Iterator[Path]:
    """Short enough for a unix socket's path (pytest's tmp_path may not be)."""
    with tempfile.TemporaryDirectory(prefix="hd-") as name:
        yield Path(name)


@pytest.fixture
async def server(directory: Path) -> AsyncIterator[FakeServer]:
    async with fake_server(directory / "control.sock") as fake:
        yield fake


def entry(id: str, **changes: Any) -> EntryStatus:
    status: dict[str, Any] = {
        "id": id,
        "name": None,
        "kind": "daemon",
        "state": "ready",
        "held": False,
        "ended": False,
        "health": {"result": "success", "message": None},
        "pid": 4242,
        "restarts": 0,
        "uptime": 12.5,
        "requires": [],
        "waiting_for": [],
    }
    status.update(changes)
    return status  # type: ignore[return-value]


async def test_entries_and_one_entry(server: FakeServer) -> None:
    server.routes[("GET", "/v1/entries")] = Answer(body={"entries": [entry("db"), entry("web")]})
    server.routes[("GET", "/v1/entries/db")] = Answer(body=entry("db"))
    async with ControlClient(server.socket) as client:
        assert [e["id"] for e in await client.entries()] == ["db", "web"]
        assert (await client.entry("db"))["pid"] == 4242
    assert [(a.method, a.target) for a in server.asked] == [
        ("GET", "/v1/entries"),
        ("GET", "/v1/entries/db"),
    ]
    # No token on the unix socket: its file mode is the access control.
    assert "authorization" not in server.asked[0].headers


async def test_actions_post_to_the_entry_and_return_it(server: FakeServer) -> None:
    for action in ("stop", "start", "restart"):
        server.routes[("POST", f"/v1/entries/web/{action}")] = Answer(body=entry("web"))
    async with ControlClient(server.socket) as client:
        assert (await client.stop("web"))["id"] == "web"
        await client.start("web")
        await client.restart("web")
    assert [a.path for a in server.asked] == [
        "/v1/entries/web/stop",
        "/v1/entries/web/start",
        "/v1/entries/web/restart",
    ]


async def test_an_id_is_quoted_in_the_path(server: FakeServer) -> None:
    async with ControlClient(server.socket) as client:
        with pytest.raises(UnknownEntryError):
            await client.entry("a/b?c")
    assert server.asked[0].target == "/v1/entries/a%2Fb%3Fc"


async def test_an_unknown_id_is_the_servers_message(server: FakeServer) -> None:
    message = "no entry 'wbe' in this system; did you mean 'web'?"
    server.routes[("POST", "/v1/entries/wbe/restart")] = Answer(404, {"error": message})
    async with ControlClient(server.socket) as client:
        with pytest.raises(UnknownEntryError) as raised:
            await client.restart("wbe")
    assert str(raised.value) == message
    assert raised.value.status == 404


async def test_an_action_once_terminating_is_a_terminating_error(server: FakeServer) -> None:
    server.routes[("POST", "/v1/entries/web/stop")] = Answer(
        409, {"error": "the system is shutting down"}
    )
    async with ControlClient(server.socket) as client:
        with pytest.raises(TerminatingError, match="the system is shutting down"):
            await client.stop("web")


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (Answer(500, {"error": "broken"}), "broken"),
        (Answer(502, b"<html>bad gateway</html>"), "<html>bad gateway</html>"),
        (Answer(400, b""), "HTTP 400"),
    ],
)
async def test_other_errors_carry_the_status_and_the_message(
    server: FakeServer, answer: Answer, message: str
) -> None:
    server.routes[("GET", "/v1/health")] = answer
    async with ControlClient(server.socket) as client:
        with pytest.raises(ControlError) as raised:
            await client.health()
    assert type(raised.value) is ControlError
    assert str(raised.value) == message
    assert raised.value.status == answer.status


async def test_an_answer_that_is_not_a_json_object_is_an_error(server: FakeServer) -> None:
    server.routes[("GET", "/v1/health")] = Answer(body=b"[1, 2]")
    async with ControlClient(server.socket) as client:
        with pytest.raises(ControlError, match=r"not a JSON object in the answer to GET /v1/h"):
            await client.health()


async def test_wait_sends_the_ids_and_the_timeout(server: FakeServer) -> None:
    outcome = {"ready": False, "reason": "timed out", "waiting": [entry("web", state="starting")]}
    server.routes[("POST", "/v1/wait")] = Answer(body=outcome)
    async with ControlClient(server.socket) as client:
        assert await client.wait(["web"], timeout=1.5) == outcome
        await client.wait()
    assert server.asked[0].json == {"entries": ["web"], "timeout": 1.5}
    assert server.asked[1].json == {"entries": [], "timeout": None}


async def test_output_asks_for_one_entry_or_all(server: FakeServer) -> None:
    line = {"entry": "web", "stream": "stdout", "at": 1.0, "text": "hello"}
    server.routes[("GET", "/v1/output")] = Answer(body={"lines": [line]})
    async with ControlClient(server.socket) as client:
        assert await client.output("web", 5) == [line]
        await client.output()
    assert [a.target for a in server.asked] == ["/v1/output?entry=web&lines=5", "/v1/output"]


async def test_follow_output_reads_the_stream_to_its_end(server: FakeServer) -> None:
    first = {"entry": "web", "stream": "stdout", "at": 1.0, "text": "one"}
    second = {"entry": "db", "stream": "stderr", "at": 2.0, "text": "two"}
    server.routes[("GET", "/v1/output")] = Answer(
        stream=[
            sse("line", first),
            ": keep-alive\n\n",
            sse("lost", {"lost": 3}),
            # One message may come in pieces.
            "event: line\n",
            f"data: {json.dumps(second)}\n\n",
            sse("end", {}),
            sse("line", first),  # after the end: never read
        ]
    )
    async with ControlClient(server.socket) as client:
        got = [item async for item in client.follow_output(lines=2)]
    assert got == [first, Skipped(3), second]
    assert server.asked[0].target == "/v1/output?lines=2&follow=true"


async def test_follow_events_with_and_without_history(server: FakeServer) -> None:
    event = {"type": "spawned", "entry": "db", "at": 5.0, "pid": 7}
    server.routes[("GET", "/v1/events")] = Answer(stream=[sse("event", event), sse("end", {})])
    async with ControlClient(server.socket) as client:
        assert [item async for item in client.follow_events(history=True)] == [event]
        assert [item async for item in client.follow_events()] == [event]
    assert [a.target for a in server.asked] == [
        "/v1/events?follow=true&history=true",
        "/v1/events?follow=true&history=false",
    ]


async def test_a_stream_cut_before_its_end_is_a_lost_connection(server: FakeServer) -> None:
    line = {"entry": "web", "stream": "stdout", "at": 1.0, "text": "one"}
    server.routes[("GET", "/v1/output")] = Answer(stream=[sse("line", line)], cut=True)
    got: list[object] = []

    async def read_all() -> None:
        async with ControlClient(server.socket) as client:
            async for item in client.follow_output():
                got.append(item)

    with pytest.raises(ConnectionLostError, match="connection to the system was lost"):
        await read_all()
    assert got == [line]


async def test_a_stream_closed_cleanly_without_its_end_is_a_lost_connection(
    server: FakeServer,
) -> None:
    server.routes[("GET", "/v1/events")] = Answer(stream=[])

    async def read_all() -> list[object]:
        async with ControlClient(server.socket) as client:
            return [item async for item in client.follow_events()]

    with pytest.raises(ConnectionLostError, match="before the system said it had stopped"):
        await read_all()


async def test_leaving_a_stream_early_closes_it(server: FakeServer) -> None:
    event = {"type": "spawned", "entry": "db", "at": 5.0, "pid": 7}
    server.routes[("GET", "/v1/events")] = Answer(stream=[sse("event", event)] * 3, cut=True)
    async with ControlClient(server.socket) as client:
        async with aclosing(client.follow_events()) as events:
            async for item in events:
                assert item == event
                break
        server.routes[("GET", "/v1/health")] = Answer(body={"status": "running"})
        assert (await client.health())["status"] == "running"


async def test_graph_is_text(server: FakeServer) -> None:
    server.routes[("GET", "/v1/graph")] = Answer(body=b"digraph { db }")
    async with ControlClient(server.socket) as client:
        assert await client.graph() == "digraph { db }"
    assert server.asked[0].target == "/v1/graph?format=dot"


async def test_shutdown_posts(server: FakeServer) -> None:
    server.routes[("POST", "/v1/shutdown")] = Answer(202, {"status": "stopping"})
    async with ControlClient(server.socket) as client:
        await client.shutdown()
    assert server.asked[0].method == "POST"


async def test_no_socket_is_no_system(directory: Path) -> None:
    config = directory / "stack.toml"
    path = directory / "absent.sock"
    async with ControlClient(path, config=config) as client:
        with pytest.raises(NoSystemError) as raised:
            await client.entries()
    assert str(raised.value) == f"no system is running for {config} (no control socket at {path})"


async def test_a_socket_nobody_listens_on_is_no_system(directory: Path) -> None:
    """What a killed `up` leaves behind."""
    path = directory / "stale.sock"
    left = socket.socket(socket.AF_UNIX)
    left.bind(str(path))
    left.close()
    assert path.exists()
    async with ControlClient(path) as client:
        with pytest.raises(NoSystemError, match=r"^no system is running \(no control socket at "):
            await client.health()


async def test_for_config_finds_the_socket_of_the_file(
    directory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(directory))
    config = directory / "stack.toml"
    async with fake_server(ControlPaths.for_config(config).socket) as fake:
        fake.routes[("GET", "/v1/health")] = Answer(body={"status": "running", "pid": 1})
        async with ControlClient.for_config(config) as client:
            assert (await client.health())["pid"] == 1


async def test_tcp_requests_carry_the_token(server: FakeServer) -> None:
    """Over TCP (`up --listen`), as the server wants it: `Authorization: Bearer TOKEN`."""
    seen: list[Asked] = []
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)

    async def proxy(stream: anyio.abc.SocketStream) -> None:
        async with (
            stream,
            await anyio.connect_unix(server.socket) as inner,
            anyio.create_task_group() as tasks,
        ):

            async def back() -> None:
                async for chunk in inner:
                    await stream.send(chunk)
                tasks.cancel_scope.cancel()

            tasks.start_soon(back)
            async for chunk in stream:
                await inner.send(chunk)

    def health(asked: Asked) -> Answer:
        seen.append(asked)
        return Answer(body={"status": "running"})

    server.routes[("GET", "/v1/health")] = health
    async with listener, anyio.create_task_group() as tasks:
        tasks.start_soon(listener.serve, proxy)
        async with ControlClient(url=f"http://127.0.0.1:{port}", token="s3cret") as client:
            assert (await client.health())["status"] == "running"
        tasks.cancel_scope.cancel()
    assert seen[0].headers["authorization"] == "Bearer s3cret"
    assert seen[0].headers["host"] == f"127.0.0.1:{port}"


def test_a_client_needs_one_place() -> None:
    with pytest.raises(ValueError, match="either the control socket or a TCP url"):
        ControlClient()
    with pytest.raises(ValueError, match="either the control socket or a TCP url"):
        ControlClient("/tmp/x.sock", url="http://127.0.0.1:1")
    with pytest.raises(ValueError, match="plain HTTP: give an http:// url, not 'https://"):
        ControlClient(url="https://127.0.0.1:8700")


async def test_subscribe_events_is_subscribed_once_entered(server: FakeServer) -> None:
    event = {"type": "spawned", "entry": "db", "at": 5.0, "pid": 7}
    server.routes[("GET", "/v1/events")] = Answer(stream=[sse("event", event), sse("end", {})])
    async with ControlClient(server.socket) as client, client.subscribe_events() as events:
        assert [a.path for a in server.asked] == ["/v1/events"]
        assert [item async for item in events] == [event]
