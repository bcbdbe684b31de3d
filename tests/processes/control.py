"""A running `up` in the test's own event loop, with its control API served on a
real unix socket, and an httpx client on it."""

from __future__ import annotations

import io
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
from rich.console import Console

from coordinator import load_config
from healthdaemons._control_options import ControlOptions
from healthdaemons._control_paths import ControlPaths
from healthdaemons._up import run_up

from .helpers import poll_until

CHAIN = """
[services.db]
command = "echo db up; exec sleep 600"
[services.db.ready]
display = "Database"
log_line = "db up"

[services.web]
command = "echo web up; exec sleep 600"
requires = ["db"]
[services.web.ready]
log_line = "web up"

[services.worker]
command = "echo worker up; exec sleep 600"
requires = ["web"]
[services.worker.ready]
log_line = "worker up"
"""


@dataclass
class Up:
    paths: ControlPaths
    client: httpx.AsyncClient
    output: io.StringIO
    exit_code: list[int] = field(default_factory=list)

    async def get(self, path: str, **options: Any) -> Any:
        answer = await self.client.get(path, **options)
        assert answer.status_code == 200, answer.text
        return answer.json()

    async def post(self, path: str, **options: Any) -> Any:
        answer = await self.client.post(path, **options)
        assert answer.status_code in (200, 202), answer.text
        return answer.json()

    async def entry(self, entry_id: str) -> Any:
        return await self.get(f"/v1/entries/{entry_id}")

    async def wait_for(self, condition: Any, timeout: float = 20.0) -> Any:
        """Poll `GET /v1/entries` until `condition(entries by id)` holds."""
        with anyio.fail_after(timeout):
            while True:
                entries = {e["id"]: e for e in (await self.get("/v1/entries"))["entries"]}
                if condition(entries):
                    return entries
                await anyio.sleep(0.02)


def accepts(path: Path) -> bool:
    """Whether someone listens on the unix socket `path` (httpx would leak
    the socket of a refused connection)."""
    with socket.socket(socket.AF_UNIX) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def client_on(socket: Path, **options: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.AsyncHTTPTransport(uds=str(socket)),
        base_url="http://healthdaemons",
        timeout=30,
        **options,
    )


@asynccontextmanager
async def serving(
    tmp_path: Path,
    config: str = CHAIN,
    *,
    listen: tuple[str, int] | None = None,
    web: tuple[str, int] | None = None,
) -> AsyncIterator[Up]:
    """`up` of `config` in this event loop; shut down through the API at the end."""
    path = tmp_path / "system.toml"
    path.write_text(config)
    daemons = load_config(path, check_programs=True)
    paths = ControlPaths.beside(tmp_path / "control.sock")
    output = io.StringIO()
    console = Console(file=output, highlight=False, soft_wrap=True, width=200)
    async with client_on(paths.socket) as client, anyio.create_task_group() as tasks:
        up = Up(paths, client, output)

        async def run() -> None:
            options = ControlOptions(paths, config=str(path), listen=listen, web=web)
            up.exit_code.append(await run_up(daemons, console=console, control=options))

        tasks.start_soon(run)
        await poll_until(paths.socket.exists, timeout=20)
        try:
            yield up
        finally:
            if not up.exit_code and accepts(paths.socket):
                with anyio.CancelScope(shield=True), anyio.fail_after(30):
                    try:
                        await client.post("/v1/shutdown")
                    except httpx.TransportError:
                        pass  # closing already: shut down by the test


def sse(text: str) -> list[tuple[str, Any]]:
    """The (event, data) messages of a server-sent event stream."""
    messages = []
    for block in text.split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if not line.startswith(":")
        )
        if "event" in fields:
            messages.append((fields["event"], json.loads(fields["data"])))
    return messages
