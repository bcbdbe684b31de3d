"""`ControlClient` on asyncio and trio against a real `up` (the installed
command, in a process of its own) running a stack of real commands; and
clients acting at once."""

from __future__ import annotations

import re
import subprocess
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import Process

from coordinator import load_config, load_events
from coordinator.testing import check_invariants
from healthdaemons import ControlClient, ControlError, NoSystemError, TerminatingError

from .stack import COMMAND, Stack, a_stack, exit_indices, pid_of, spawns


@dataclass
class Running:
    stack: Stack
    socket: Path
    process: Process

    def client(self) -> ControlClient:
        return ControlClient(self.socket)


@asynccontextmanager
async def running_stack(text: str | None = None, *options: str) -> AsyncIterator[Running]:
    """`healthdaemons up FILE --socket PATH --record RUN` in a process of its own;
    shut down through the API at the end if the test did not."""
    with a_stack(*(() if text is None else (text,))) as stack:
        socket = stack.directory / "control.sock"
        argv = [COMMAND, "up", str(stack.config), "--socket", str(socket)]
        with (stack.directory / "up.log").open("wb") as log:
            process = await anyio.open_process(
                [*argv, "--record", str(stack.record), *options],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=stack.environment,
            )
        running = Running(stack, socket, process)
        async with process:
            try:
                await _answering(running)
                yield running
            finally:
                if process.returncode is None:
                    with anyio.CancelScope(shield=True), anyio.fail_after(60):
                        try:
                            async with running.client() as client:
                                await client.shutdown()
                        except NoSystemError:
                            pass
                        await process.wait()


async def _answering(running: Running) -> None:
    async with running.client() as client:
        with anyio.fail_after(60):
            while True:
                try:
                    await client.health()
                    return
                except NoSystemError:
                    assert running.process.returncode is None, "up exited"
                    await anyio.sleep(0.02)


async def _request(port: int, path: str) -> None:
    """A request to web, which prints a line for it."""
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        await stream.send(f"GET {path} HTTP/1.0\r\n\r\n".encode())
        async for _ in stream:
            pass


async def _exit_of(up: Running) -> int:
    with anyio.fail_after(60):
        return await up.process.wait()


def _by_id(entries: list[Any]) -> dict[str, Any]:
    return {entry["id"]: entry for entry in entries}


async def test_the_client_on_a_real_stack() -> None:
    async with running_stack() as up, up.client() as client:
        stack = up.stack
        assert await client.wait(timeout=60) == {"ready": True}
        health = await client.health()
        assert (health["status"], health["pid"], health["ready"]) == ("running", up.process.pid, 4)

        # follow_output sees a line printed after the call started.
        async with aclosing(client.follow_output("web", lines=0)) as lines:
            with anyio.fail_after(30):
                async with anyio.create_task_group() as tasks:

                    async def knock() -> None:
                        while True:
                            await _request(stack.web_port, "/after-the-call")
                            await anyio.sleep(0.1)

                    tasks.start_soon(knock)
                    async for line in lines:
                        if isinstance(line, dict) and "/after-the-call" in line["text"]:
                            assert line["entry"] == "web"
                            break
                    tasks.cancel_scope.cancel()
        assert any(line["text"] == "migrated" for line in await client.output("migrate"))

        # restart web: a new pid; the worker stopped first and started after.
        web_pid = (await client.entry("web"))["pid"]
        before = len(await client.events())
        assert (await client.restart("web"))["id"] == "web"
        assert (await client.wait(["worker"], timeout=60))["ready"]
        restarted = await client.entry("web")
        assert restarted["pid"] not in (None, web_pid)
        history = load_events_of(await client.events())[before:]
        assert exit_indices(history, "worker")[0] < exit_indices(history, "web")[0]
        assert spawns(history, "web")[0] < spawns(history, "worker")[0]
        assert pid_of(history, "web") == restarted["pid"]

        # stop db: held; dependents wait for it. start db: everything back.
        stopped = await client.stop("db")
        assert (stopped["state"], stopped["held"], stopped["pid"]) == ("stopped", True, None)
        entries = _by_id(await client.entries())
        assert entries["web"]["state"] == "waiting"
        assert "db" in entries["web"]["waiting_for"]
        outcome = await client.wait(["web"], timeout=0.5)
        assert not outcome["ready"]
        assert [entry["id"] for entry in outcome.get("waiting", [])] == ["web"]
        await client.start("db")
        assert (await client.wait(timeout=60))["ready"]

        # The ordered shutdown, followed to its end.
        async with client.subscribe_events() as events:
            await client.shutdown()
            seen = [event async for event in events]
        assert seen
        assert await _exit_of(up) == 0
        check_invariants(load_config(stack.config).entries, load_events(stack.record))


def load_events_of(objects: list[dict[str, Any]]) -> list[Any]:
    import io
    import json

    return load_events(io.StringIO("".join(json.dumps(o) + "\n" for o in objects)))


async def test_two_clients_restarting_the_same_entry_at_once() -> None:
    async with running_stack() as up:
        async with up.client() as client:
            assert (await client.wait(timeout=60))["ready"]
            old = (await client.entry("web"))["pid"]
        results: list[Any] = []

        async def restart() -> None:
            async with up.client() as client:
                results.append(await client.restart("web"))

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(restart)
                tasks.start_soon(restart)
        assert len(results) == 2
        assert [result["id"] for result in results] == ["web", "web"]
        async with up.client() as client:
            assert (await client.wait(timeout=60))["ready"]
            assert (await client.entry("web"))["pid"] not in (None, old)
            assert (await client.health())["status"] == "running"
            await client.shutdown()
        assert await _exit_of(up) == 0
        check_invariants(load_config(up.stack.config).entries, load_events(up.stack.record))


SLOW_TO_STOP = """\
[services.db]
command = "echo db up; exec sleep 600"
[services.db.ready]
log_line = "db up"

[services.web]
command = "trap 'sleep 1; exit 0' TERM; echo web up; while :; do sleep 0.1; done"
requires = ["db"]
[services.web.ready]
log_line = "web up"
"""


async def test_a_restart_during_shutdown() -> None:
    """A restart still waiting for its launch when the shutdown comes ends
    with TerminatingError; one asked after it too; the shutdown goes on."""
    async with running_stack(SLOW_TO_STOP) as up, up.client() as client:
        assert (await client.wait(timeout=60))["ready"]
        outcome: list[BaseException] = []

        async def restart() -> None:
            async with up.client() as other:
                try:
                    await other.restart("db")
                except TerminatingError as error:
                    outcome.append(error)

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(restart)
                # web (db's dependent) takes a second to stop: the restart is pending.
                while (await client.entry("web"))["state"] != "stopping":  # noqa: ASYNC110
                    await anyio.sleep(0.02)
                await client.shutdown()
        assert len(outcome) == 1
        with pytest.raises(TerminatingError):
            await client.restart("web")
        assert await _exit_of(up) == 0
        check_invariants(load_config(up.stack.config).entries, load_events(up.stack.record))


async def test_the_client_over_tcp_with_the_token() -> None:
    async with running_stack(None, "--listen", "127.0.0.1:0") as up:
        log = up.stack.directory / "up.log"
        with anyio.fail_after(30):
            while not (found := re.search(r"control API on (http://\S+)", log.read_text())):  # noqa: ASYNC110
                await anyio.sleep(0.02)
        url = found.group(1)
        token = up.socket.with_suffix(".token").read_text().strip()
        async with ControlClient(url=url, token=token) as client:
            assert (await client.health())["pid"] == up.process.pid
            assert (await client.wait(timeout=60))["ready"]
        async with ControlClient(url=url, token="wrong") as client:
            with pytest.raises(ControlError) as refused:
                await client.entries()
        assert refused.value.status == 401
