"""The forwarder of `healthdaemons web` (`_web_forward.Forwarder`) behind the
web console's listener, in this process, on asyncio and trio: an event
stream forwarded as it happens, an action with the bearer header, the end
of the stream when the system stops, then 503."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import httpx

from healthdaemons._control_guard import RequestGuard
from healthdaemons._control_server import serve_on, tcp_socket
from healthdaemons._web_forward import Forwarder
from healthdaemons._web_page import WebConsole

from .control import serving
from .helpers import poll_until

TOKEN = "t" * 43


async def test_a_stream_and_an_action_through_the_forwarder(tmp_path: Path) -> None:
    listener = tcp_socket("127.0.0.1", 0)
    port = listener.getsockname()[1]
    closing = anyio.Event()
    notes: list[str] = []
    try:
        async with serving(tmp_path) as up, anyio.create_task_group() as tasks:
            forwarder = Forwarder(up.paths.socket, "system.toml")
            console = WebConsole(forwarder, token=TOKEN, config=None)
            app = RequestGuard(console, token=None, listen_host="127.0.0.1", report=notes.append)
            tasks.start_soon(serve_on, app, listener, closing, notes.append)
            try:
                await up.wait_for(lambda entries: entries["worker"]["state"] == "ready")
                async with httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{port}",
                    headers={"Authorization": f"Bearer {TOKEN}"},
                    timeout=httpx.Timeout(30, read=None),
                ) as client:
                    entry = (await client.get("/v1/entries/worker")).json()
                    too_large = await client.post("/v1/wait", content=b" " * (64 * 1024 + 1))
                    assert too_large.status_code == 413
                    waited = await client.post("/v1/wait", json={"entries": ["worker"]})
                    assert waited.json() == {"ready": True}
                    async with client.stream("GET", "/v1/events?follow=true") as stream:
                        assert stream.status_code == 200
                        assert stream.headers["content-type"].startswith("text/event-stream")
                        done = await client.post("/v1/entries/worker/restart")
                        assert done.status_code == 200 and done.json()["pid"] != entry["pid"]
                        seen: list[dict[str, object]] = []
                        lines = stream.aiter_lines()
                        with anyio.fail_after(30):
                            async for line in lines:
                                if line.startswith("data: "):
                                    seen.append(json.loads(line[6:]))
                                if any(e.get("dest") == "ready" for e in seen):
                                    break
                        assert any(e.get("entry") == "worker" for e in seen)
                        await client.post("/v1/shutdown")
                        with anyio.fail_after(30):
                            rest = [line async for line in lines]
                        assert "event: end" in rest
                    await poll_until(lambda: not up.paths.socket.exists(), timeout=30)
                    absent = await client.get("/v1/health")
                    assert absent.status_code == 503
                    assert "no system is running for system.toml" in absent.json()["error"]
            finally:
                closing.set()
    finally:
        listener.close()
    assert not notes, notes
