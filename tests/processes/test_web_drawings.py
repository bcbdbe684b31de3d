"""The drawings the web console shows, on the control API of a real `up`
(unix socket, asyncio and trio): `/v1/graph?states=false`, `/v1/lifecycle`,
`/v1/timeline`, and their refusals of bad query values."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import pytest

from .control import Up, serving

IDS = ("db", "web", "worker")


async def _ready(up: Up) -> None:
    await up.wait_for(lambda entries: all(e["state"] == "ready" for e in entries.values()))


async def _refused(up: Up, path: str, words: str) -> None:
    answer = await up.client.get(path)
    assert answer.status_code == 400, (path, answer.text)
    assert answer.headers["content-type"] == "application/json"
    assert words in answer.json()["error"], (path, answer.json())


async def test_the_graph_without_states_stays_the_same_while_states_change(tmp_path: Path) -> None:
    async with serving(tmp_path) as up:
        await _ready(up)
        stateless = await up.client.get("/v1/graph", params={"format": "svg", "states": "false"})
        assert stateless.status_code == 200
        assert stateless.headers["content-type"] == "image/svg+xml"
        svg = stateless.text
        for entry in IDS:
            assert f"<title>{entry}</title>" in svg
        # No state's colour or words: the page colours the nodes itself.
        assert "[ready]" not in svg and "#74c476" not in svg and "success" not in svg
        live = await up.client.get("/v1/graph", params={"format": "svg"})
        assert "[ready]" in live.text and "#74c476" in live.text
        dot = (await up.client.get("/v1/graph", params={"states": "false"})).text
        assert "ready" not in dot and "fillcolor" in dot
        await up.post("/v1/entries/worker/stop")
        await up.wait_for(lambda entries: entries["worker"]["state"] == "stopped")
        again = await up.client.get("/v1/graph", params={"format": "svg", "states": "false"})
        assert again.content == stateless.content
        assert "[stopped]" in (await up.client.get("/v1/graph?format=svg")).text
        await _refused(up, "/v1/graph?states=maybe", "states must be true or false")
        await _refused(up, "/v1/graph?format=png", "format must be dot or svg")


async def test_the_lifecycle_of_each_kind_with_its_current_state(tmp_path: Path) -> None:
    async with serving(tmp_path) as up:
        for kind in ("daemon", "oneshot", "check"):
            drawn = await up.client.get("/v1/lifecycle", params={"kind": kind})
            assert drawn.status_code == 200
            assert drawn.headers["content-type"] == "image/svg+xml"
            assert f"lifecycle_{kind}" in drawn.text
            assert "(now)" not in drawn.text
        current = await up.client.get("/v1/lifecycle?kind=daemon&current=failing")
        assert re.search(r"failing</text>\s*<text[^>]*>\(now\)", current.text)
        # Drawn once: the same bytes again.
        assert (await up.client.get("/v1/lifecycle?kind=daemon&current=failing")).content == (
            current.content
        )
        await _refused(up, "/v1/lifecycle", "kind must be one of daemon, oneshot, check, not none")
        await _refused(up, "/v1/lifecycle?kind=service", "not 'service'")
        await _refused(up, "/v1/lifecycle?kind=check&current=dead", "current must be one of")


async def test_the_timeline_of_the_run_so_far_and_a_window_of_it(tmp_path: Path) -> None:
    async with serving(tmp_path) as up:
        await _ready(up)
        first = await up.client.get("/v1/timeline")
        assert first.status_code == 200
        assert first.headers["content-type"] == "image/svg+xml"
        assert first.text.startswith('<svg xmlns="http://www.w3.org/2000/svg" width="1200"')
        for entry in IDS:
            assert f'<g class="lane" data-entry="{entry}">' in first.text
        narrow = await up.client.get("/v1/timeline", params={"width": "800"})
        assert narrow.text.startswith('<svg xmlns="http://www.w3.org/2000/svg" width="800"')
        window = await up.client.get("/v1/timeline", params={"start": "0", "end": "0.001"})
        assert window.status_code == 200 and window.text != first.text
        spawns = first.text.count('class="mark spawn')
        await up.post("/v1/entries/worker/restart")

        async def restarted() -> bool:
            text = (await up.client.get("/v1/timeline")).text
            return text.count('class="mark spawn') > spawns

        await _eventually(restarted)
        for query, words in (
            ("start=-1", "start must be a number of seconds >= 0, not '-1'"),
            ("start=abc", "start must be a number of seconds"),
            ("end=nan", "end must be a number of seconds"),
            ("end=inf", "end must be a number of seconds"),
            ("start=" + "9" * 400, "start must be a number of seconds"),
            ("start=2&end=1", "start (2 s) must come before end (1 s)"),
            ("start=1&end=1", "must come before"),
            ("start=100000", "after the last event"),
            ("width=299", "width must be a whole number of pixels from 300 to 20000"),
            ("width=20001", "width must be a whole number"),
            ("width=" + "9" * 5000, "width must be a whole number"),
            ("width=1e3", "width must be a whole number"),
        ):
            await _refused(up, f"/v1/timeline?{query}", words)


async def _eventually(condition: Callable[[], Awaitable[bool]], timeout: float = 20) -> None:
    with anyio.fail_after(timeout):
        while True:
            if await condition():
                return
            await anyio.sleep(0.05)


@pytest.mark.parametrize("path", ["/v1/lifecycle?kind=daemon", "/v1/timeline", "/v1/graph"])
async def test_the_drawings_are_in_the_openapi_document(tmp_path: Path, path: str) -> None:
    async with serving(tmp_path) as up:
        document = await up.get("/v1/openapi.json")
        assert path.split("?")[0] in document["paths"]
        assert (await up.client.get(path)).status_code == 200
