"""The control API of `up` (docs/api.md) over its real unix socket, with real
processes, on both backends."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import httpx
import pytest

from .control import serving, sse
from .helpers import alive, poll_until


async def test_health_entries_and_one_entry(tmp_path: Path) -> None:
    async with serving(tmp_path) as up:
        entries = await up.wait_for(lambda e: all(x["state"] == "ready" for x in e.values()))
        assert list(entries) == ["db", "web", "worker"]
        web = entries["web"]
        assert web["kind"] == "daemon" and web["requires"] == ["db"] and web["waiting_for"] == []
        assert web["health"] == {"result": "success", "message": "web up"}
        assert alive(web["pid"]) and web["uptime"] >= 0 and web["restarts"] == 0
        assert entries["db"]["name"] == "Database" and not entries["db"]["held"]
        health = await up.get("/v1/health")
        assert health["status"] == "running" and health["entries"] == 3 and health["ready"] == 3
        assert health["config"].endswith("system.toml") and health["uptime"] > 0
        assert (await up.entry("web")) | {"uptime": 0} == web | {"uptime": 0}
        missing = await up.client.get("/v1/entries/wbe")
        assert missing.status_code == 404
        assert missing.json() == {"error": "no entry 'wbe' in this system; did you mean 'web'?"}


async def test_restart_stop_and_start_with_real_processes(tmp_path: Path) -> None:
    async with serving(tmp_path) as up:
        before = await up.wait_for(lambda e: all(x["state"] == "ready" for x in e.values()))
        restarted = await up.post("/v1/entries/web/restart")
        assert restarted["id"] == "web"
        after = await up.wait_for(
            lambda e: (
                all(x["state"] == "ready" for x in e.values())
                and e["web"]["pid"] != before["web"]["pid"]
            )
        )
        assert after["db"]["pid"] == before["db"]["pid"]
        assert after["worker"]["pid"] != before["worker"]["pid"]
        events = (await up.get("/v1/events"))["events"]
        spawned = [e["entry"] for e in events if e["type"] == "spawned"]
        assert spawned == ["db", "web", "worker", "web", "worker"]  # the dependent after it

        stopped = await up.post("/v1/entries/db/stop")
        assert stopped["state"] == "stopped" and stopped["held"] and stopped["pid"] is None
        events = (await up.get("/v1/events"))["events"]
        signalled = [e["entry"] for e in events if e["type"] == "signalled"]
        assert signalled[-3:] == ["worker", "web", "db"]  # dependents first
        web = await up.entry("web")
        assert web["state"] == "waiting" and web["waiting_for"] == ["db"]
        assert web["health"]["message"] == "Database (stopped)"
        assert not alive(before["db"]["pid"])

        started = await up.post("/v1/entries/db/start")
        assert not started["held"]
        await up.wait_for(lambda e: all(x["state"] == "ready" for x in e.values()))
        assert (await up.post("/v1/wait", json={"entries": ["worker"], "timeout": 20})) == {
            "ready": True
        }


async def test_output_and_events_follow_live_and_end_at_shutdown(tmp_path: Path) -> None:
    async with serving(tmp_path) as up:
        await up.wait_for(lambda e: all(x["state"] == "ready" for x in e.values()))
        lines = (await up.get("/v1/output", params={"entry": "web"}))["lines"]
        assert [(x["entry"], x["stream"], x["text"]) for x in lines] == [
            ("web", "stdout", "web up")
        ]
        every = (await up.get("/v1/output", params={"lines": 2}))["lines"]
        assert [x["text"] for x in every] == ["web up", "worker up"]
        texts: dict[str, str] = {}

        async def follow(name: str, path: str) -> None:
            async with up.client.stream("GET", path) as answer:
                assert answer.status_code == 200
                assert answer.headers["content-type"].startswith("text/event-stream")
                assert not any(h.startswith("access-control") for h in answer.headers)
                texts[name] = "".join([chunk async for chunk in answer.aiter_text()])

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(follow, "output", "/v1/output?entry=worker&follow=true&lines=1")
            tasks.start_soon(follow, "events", "/v1/events?follow=true&history=true")
            # Lets the output stream start before the restart's line (its
            # first line is then the one printed before).
            await anyio.sleep(0.2)
            await up.post("/v1/entries/worker/restart")
            await up.wait_for(lambda e: e["worker"]["state"] == "ready")
            shutdown = await up.client.post("/v1/shutdown")
            assert shutdown.status_code == 202 and shutdown.json() == {"status": "stopping"}
        output = sse(texts["output"])
        assert output[0][0] == "line" and output[0][1]["text"] == "worker up"
        assert [m[1]["text"] for m in output if m[0] == "line"] == ["worker up", "worker up"]
        assert output[-1] == ("end", {})
        events = sse(texts["events"])
        assert events[-1] == ("end", {})
        every = [d for name, d in events if name == "event"]
        kinds = [(d["type"], d.get("entry")) for d in every]
        assert kinds.count(("spawned", "worker")) == 2 and ("transitioned", "db") in kinds
        # The history, then the live events: each once, in order, from the first.
        assert every[0]["type"] == "transitioned" and every[0]["source"] == "waiting"
        assert [d["at"] for d in every] == sorted(d["at"] for d in every)
        assert len({json.dumps(d, sort_keys=True) for d in every}) == len(every)
    assert up.exit_code == [0]
    assert not up.paths.socket.exists() and not up.paths.pid.exists()


async def test_bad_requests_get_json_errors(tmp_path: Path) -> None:
    async with serving(tmp_path) as up:
        client = up.client
        cases: list[tuple[httpx.Response, int]] = [
            (await client.delete("/v1/health"), 405),
            (await client.get("/v1/nothing"), 404),
            (await client.post("/v1/wait", content=b"{not json"), 400),
            (await client.post("/v1/wait", json={"entries": "web"}), 400),
            (await client.post("/v1/wait", json={"timeout": -1}), 400),
            (await client.post("/v1/wait", json={"entries": ["nope"]}), 404),
            (await client.post("/v1/wait", content=b"[" * 100_000), 413),
            (await client.post("/v1/entries/nope/restart"), 404),
            (await client.get("/v1/output", params={"lines": "-1"}), 400),
            # More digits than int() takes, and a number too large for a float.
            (await client.get("/v1/output", params={"lines": "9" * 5000}), 400),
            (await client.post("/v1/wait", content=b'{"timeout": 1' + b"0" * 400 + b"}"), 400),
            (await client.get("/v1/output", params={"entry": "nope"}), 404),
            (await client.get("/v1/events", params={"follow": "maybe"}), 400),
            (await client.get("/v1/graph", params={"format": "pdf"}), 400),
            (await client.get("/v1/health", headers={"Origin": "http://evil.example"}), 403),
        ]
        for answer, status in cases:
            assert answer.status_code == status, answer.text
            assert answer.headers["content-type"] == "application/json"
            assert set(answer.json()) == {"error"}
        timed_out = await client.post("/v1/wait", json={"entries": ["web"], "timeout": 0})
        assert timed_out.status_code == 200


async def test_graph_as_dot_and_svg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with serving(tmp_path) as up:
        await up.wait_for(lambda e: all(x["state"] == "ready" for x in e.values()))
        dot = await up.client.get("/v1/graph")
        assert dot.headers["content-type"].startswith("text/vnd.graphviz")
        assert "digraph" in dot.text and "[ready]" in dot.text
        svg = await up.client.get("/v1/graph", params={"format": "svg"})
        assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
        assert "<svg" in svg.text
        monkeypatch.setenv("HEALTHDAEMONS_DOT", str(tmp_path / "no-such-dot"))
        missing = await up.client.get("/v1/graph", params={"format": "svg"})
        assert missing.status_code == 503
        assert missing.json()["error"].startswith("The renderer given by $HEALTHDAEMONS_DOT")


async def test_actions_once_the_system_is_stopping_get_409(tmp_path: Path) -> None:
    config = """
[services.slow]
command = "trap 'sleep 1; exit 0' TERM; echo up; while true; do sleep 0.05; done"
[services.slow.ready]
log_line = "up"
"""
    async with serving(tmp_path, config) as up:
        await up.wait_for(lambda e: e["slow"]["state"] == "ready")
        await up.post("/v1/shutdown")
        assert (await up.post("/v1/shutdown")) == {"status": "stopping"}  # idempotent
        refused = await up.client.post("/v1/entries/slow/restart")
        assert refused.status_code == 409 and "terminating" in refused.json()["error"]
        # Still answering while it stops.
        assert (await up.get("/v1/health"))["status"] in ("stopping", "stopped")
        entries = await up.get("/v1/entries")
        assert entries["entries"][0]["state"] in ("stopping", "stopped")
        await poll_until(lambda: bool(up.exit_code), timeout=20)
    assert up.exit_code == [0]


async def test_a_slow_output_reader_skips_ahead_with_lost(tmp_path: Path) -> None:
    flag = tmp_path / "go"
    config = f"""
[services.burst]
command = "echo ready; while [ ! -e {flag} ]; do sleep 0.02; done; seq 1 20000; exec sleep 600"
[services.burst.ready]
log_line = "ready"
"""
    async with serving(tmp_path, config) as up:
        await up.wait_for(lambda e: e["burst"]["state"] == "ready")
        params = {"entry": "burst", "follow": "true", "lines": "0"}
        async with up.client.stream("GET", "/v1/output", params=params) as stream:
            assert stream.status_code == 200
            flag.touch()
            # The reader reads nothing until the burst is over (and long gone
            # from the 1,000 lines the buffer keeps).
            while True:
                last = await up.get("/v1/output", params={"entry": "burst", "lines": 1})
                if last["lines"] and last["lines"][0]["text"] == "20000":
                    break
                await anyio.sleep(0.05)
            received = ""
            async for text in stream.aiter_text():
                received += text
                if '"text":"20000"' in text:
                    # Read to the end (breaking off would leave httpx's generators behind).
                    await up.post("/v1/shutdown")
        messages = sse(received)
        lines = [int(data["text"]) for name, data in messages if name == "line"]
        lost = sum(data["lost"] for name, data in messages if name == "lost")
        assert lost > 0 and len(lines) + lost == 20000
        assert lines == sorted(lines) and lines[-1] == 20000
        assert messages[-1] == ("end", {})


async def test_wait_says_why_not_ready(tmp_path: Path) -> None:
    config = """
[services.fine]
command = "echo up; exec sleep 600"
[services.fine.ready]
log_line = "up"

[services.never]
command = "sleep 600"
[services.never.ready]
log_line = "never printed"

[services.crashy]
command = "exit 3"
max_restarts = 1
[services.crashy.ready]
log_line = "never printed"
"""
    async with serving(tmp_path, config) as up:
        assert (await up.post("/v1/wait", json={"entries": ["fine"], "timeout": 20})) == {
            "ready": True
        }
        late = await up.post("/v1/wait", json={"entries": ["never", "fine"], "timeout": 0.2})
        assert late["ready"] is False and late["reason"] == "timed out after 0.2 s"
        assert [e["id"] for e in late["waiting"]] == ["never"]
        gave_up = await up.post("/v1/wait", json={"timeout": 60})
        assert gave_up["ready"] is False
        assert gave_up["reason"] == "crashy gave up (max_restarts reached)"
        assert {e["id"] for e in gave_up["waiting"]} == {"never", "crashy"}
        async with anyio.create_task_group() as tasks:

            async def wait_for_never() -> None:
                stopped = await up.post("/v1/wait", json={"entries": ["never"]})
                assert stopped["reason"] == "the system is shutting down"

            tasks.start_soon(wait_for_never)
            await anyio.sleep(0.2)  # not needed for correctness: lets the wait begin
            await up.post("/v1/shutdown")


ENDS = """
[services.db]
command = "echo db up; exec sleep 600"
[services.db.ready]
log_line = "db up"

[services.job]
command = "echo job up; exit 0"
restart = "no"
requires = ["db"]
[services.job.ready]
log_line = "never"
"""


async def test_an_entry_its_restart_policy_ended_is_shown_and_ends_a_wait(tmp_path: Path) -> None:
    async with serving(tmp_path, ENDS) as up:
        entries = await up.wait_for(lambda e: e["job"]["state"] == "stopped")
        job = entries["job"]
        assert (job["held"], job["ended"]) == (True, True)
        assert job["health"]["message"] == 'job daemon exited; not restarted (restart = "no")'
        assert not entries["db"]["ended"]
        # A wait does not wait out its timeout for what will not run again.
        with anyio.fail_after(20):
            answer = await up.client.post("/v1/wait", json={"timeout": 600})
        assert answer.json()["ready"] is False
        assert answer.json()["reason"] == "job ended (its restart policy does not run it again)"
