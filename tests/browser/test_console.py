"""The console in a real browser against a real `up --web` (issue 15, "Tests,
in a real browser"): the printed URL shows the stack, the buttons act on it,
what happens outside shows without a reload, and shutting down from the page
leaves nothing running."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
from typing import TYPE_CHECKING, Any

import pytest

from coordinator import Transitioned

from ..processes.stack import a_stack, free_port, gone, pid_of, until
from ..processes.web import serving_console
from .chromium import expect
from .system import BROWSER_STACK, EXPECTED_STATES, System, all_in, entries, web_up
from .watch import (
    applied,
    collect_applied,
    fills_seen,
    rgb,
    seconds_to_show,
    wait_for_states,
    watch_states,
)

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page, Route

SHOWN_WITHIN = 3.0
"""Seconds from an event leaving `up` to the page showing it, at most, in a test."""


def _open(page: Page, system: System) -> dict[str, Any]:
    """Open the printed URL, connected; the page's data block."""
    page.goto(system.url)
    expect(page.locator("#connection")).to_have_attribute("data-status", "connected")
    data: dict[str, Any] = json.loads(page.locator("#console-data").text_content() or "")
    return data


def _row(page: Page, entry: str) -> Locator:
    return page.locator(f'table#entries tbody tr[data-entry="{entry}"]')


def _node(page: Page, entry: str) -> Locator:
    return page.locator(f'#graph svg g.node[data-entry="{entry}"]')


def _fill(node: Locator) -> str:
    shape = node.locator("polygon, ellipse, path, rect").first
    fill: str = shape.evaluate("(shape) => getComputedStyle(shape).fill")
    return fill


def _pid_shown(page: Page, entry: str, other_than: object) -> int:
    """The pid in the entry's row once it is not `other_than`."""
    cell = _row(page, entry).locator("td.pid")
    expect(cell).not_to_have_text(str(other_than))
    expect(cell).to_have_text(re.compile(r"^\s*\d+\s*$"))
    return int((cell.text_content() or "").strip())


def test_the_printed_url_lists_every_entry_and_draws_every_node(system: System, page: Page) -> None:
    data = _open(page, system)
    assert page.url == system.console.base + "/"
    shown = entries(system.stack)
    assert {entry: info["state"] for entry, info in shown.items()} == EXPECTED_STATES
    expect(page.locator("table#entries tbody tr[data-entry]")).to_have_count(len(shown))
    expect(page.locator("#graph svg g.node")).to_have_count(len(shown))
    for entry, info in shown.items():
        state = str(info["state"])
        expect(_row(page, entry)).to_have_attribute("data-state", state)
        expect(_row(page, entry).locator("td.state")).to_contain_text(state)
        if info["pid"] is not None:
            expect(_row(page, entry).locator("td.pid")).to_have_text(str(info["pid"]))
        expect(_node(page, entry)).to_have_attribute("data-state", state)
        assert _fill(_node(page, entry)) == rgb(data["palette"][state]["fill"]), entry
    # The health message is the node's tooltip and in the row.
    health = shown["broken"]["health"]
    assert isinstance(health, dict)
    expect(_node(page, "broken").locator("title")).to_contain_text(health["message"])
    expect(_row(page, "broken").locator("td.health")).to_contain_text(health["message"])


def test_restart_from_the_page(system: System, page: Page) -> None:
    """web restarts, then worker (which requires it), seen as they happen: the
    row goes stopping, starting, ready; new pids; no reload; the events the
    page applied are those `up --record` wrote."""
    _open(page, system)
    before = entries(system.stack)
    page.evaluate("window.__not_reloaded = true")
    for entry in ("web", "worker"):
        watch_states(page, entry, "table#entries", f'tr[data-entry="{entry}"]')
        expect(_row(page, entry)).to_have_attribute("data-state", "ready")
    collect_applied(page)
    since = max(event.at for event in system.stack.events())

    actions = page.locator("#actions")
    expect(actions.locator('button[data-action="restart"]')).to_be_disabled()
    _row(page, "web").locator("td.id").click()
    expect(_row(page, "web")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#selected")).to_contain_text("web")
    # Asked first; cancelling does nothing.
    actions.locator('button[data-action="restart"]').click()
    expect(page.locator("dialog#confirm")).to_be_visible()
    page.locator('dialog#confirm button[value="cancel"]').click()
    expect(page.locator("dialog#confirm")).to_be_hidden()
    actions.locator('button[data-action="restart"]').click()
    page.locator('dialog#confirm button[value="confirm"]').click()
    expect(page.locator("#action-result")).to_have_attribute("data-outcome", "ok")

    for entry in ("web", "worker"):
        wait_for_states(page, entry, ["ready", "stopping", "starting", "ready"])
        expect(_row(page, entry)).to_have_attribute("data-state", "ready")
        pid = _pid_shown(page, entry, other_than=before[entry]["pid"])
        assert pid == entries(system.stack)[entry]["pid"]
        assert pid == pid_of(system.stack.events(), entry)
    # db and migrate were left alone.
    for entry in ("db", "migrate"):
        assert entries(system.stack)[entry]["pid"] == before[entry]["pid"]
    assert page.evaluate("window.__not_reloaded") is True

    def recorded() -> list[tuple[str, str, str]]:
        return [
            (event.entry, event.source.value, event.dest.value)
            for event in system.stack.events()
            if isinstance(event, Transitioned) and event.at > since
        ]

    def shown() -> list[tuple[str, str, str]]:
        return [
            (event["entry"], event["source"], event["dest"])
            for event in applied(page)
            if event.get("type") == "transitioned" and event["at"] > since
        ]

    until(
        lambda: shown() and shown() == recorded(),
        timeout=30,
        what="the page and the record to agree",
    )
    assert ("web", "ready", "stopping") in recorded()
    assert ("worker", "ready", "stopping") in recorded()


def test_a_process_killed_from_outside_turns_its_node_failing_and_back(
    system: System, page: Page
) -> None:
    data = _open(page, system)
    web = entries(system.stack)["web"]["pid"]
    assert isinstance(web, int)
    expect(_node(page, "web")).to_have_attribute("data-state", "ready")
    watch_states(page, "web", "#graph", 'g.node[data-entry="web"]')
    collect_applied(page)
    os.kill(web, signal.SIGKILL)
    gone(web)
    wait_for_states(page, "web", ["ready", "failing", "ready"])
    # Shown as the events came: the issue asks for a second; the bound here is
    # loose for a loaded 2-core machine, and bench/bench_web.py measures the
    # figure (p95 150 ms at 50 events a second).
    shown = [
        event
        for event in applied(page)
        if event["type"] == "transitioned" and event["entry"] == "web"
    ]
    dests = [event["dest"] for event in shown]
    assert "failing" in dests and dests[-1] == "ready", dests
    late = [round(seconds_to_show(event), 3) for event in shown]
    assert max(late) < SHOWN_WITHIN, late
    assert fills_seen(page, "web")["failing"] == rgb(data["palette"]["failing"]["fill"])
    expect(_node(page, "web")).to_have_attribute("data-state", "ready")
    assert _fill(_node(page, "web")) == rgb(data["palette"]["ready"]["fill"])
    _pid_shown(page, "web", other_than=web)


def test_a_line_a_service_prints_shows_in_the_log(system: System, page: Page) -> None:
    _open(page, system)
    # Nothing selected: every entry's output.
    expect(page.locator('#log .line[data-entry="worker"]', has_text="tick").first).to_be_attached()
    _node(page, "web").click()
    expect(page.locator("#selected")).to_contain_text("web")
    # http.server prints a line for each request.
    system.stack.get("/asked-by-the-browser-test")
    line = page.locator('#log .line[data-entry="web"]', has_text="/asked-by-the-browser-test")
    expect(line).to_have_count(1)
    # The selected entry's output only.
    expect(page.locator('#log .line[data-entry="worker"]')).to_have_count(0)
    # The filter hides the lines without its text; emptied, they show again.
    page.locator("#log-filter").fill("not in any line")
    expect(line).to_be_hidden()
    page.locator("#log-filter").fill("")
    expect(line).to_be_visible()
    # Paused, a new line is held (the button says so), and shown on resuming.
    pause = page.locator("#log-pause")
    pause.click()
    expect(pause).to_have_attribute("aria-pressed", "true")
    system.stack.get("/asked-while-paused")
    expect(pause).to_have_text(re.compile(r"Resume \(\d+ new\)"))  # 404 and the request
    held = page.locator("#log .line", has_text="/asked-while-paused")
    expect(held).to_have_count(0)
    pause.click()
    expect(pause).to_have_attribute("aria-pressed", "false")
    expect(held).to_have_count(1)


def test_shut_down_from_the_page(system: System, page: Page) -> None:
    _open(page, system)
    pids = [int(str(info["pid"])) for info in entries(system.stack).values() if info["pid"]]
    assert len(pids) == 3  # db, web, worker
    page.locator('button[data-action="shutdown"]').click()
    expect(page.locator("dialog#confirm")).to_be_visible()
    page.locator('dialog#confirm button[value="confirm"]').click()
    connection = page.locator("#connection")
    expect(connection).to_have_attribute("data-status", "shutdown")
    expect(connection).to_contain_text("the system has shut down")
    system.console.process.wait(timeout=60)
    for pid in pids:
        gone(pid)
    # The leftover check (conftest) then finds no process of the stack either.


@pytest.mark.parametrize(
    ("how", "said"),
    [
        # Ctrl-C: the system shut down, and the page says so, then finds the next one.
        (signal.SIGTERM, "the system has shut down"),
        # `up` gone at once (killed, or the connection lost): its services linger.
        (signal.SIGKILL, "disconnected - reconnecting..."),
    ],
    ids=["after SIGTERM", "after SIGKILL"],
)
def test_the_page_reconnects_after_the_supervisor_restarts(
    page: Page, how: signal.Signals, said: str
) -> None:
    """`up` ended and started again on the same port and file: the page says
    what happened, then shows the new run by itself (the web token is reused)."""
    port = free_port()
    with a_stack(BROWSER_STACK) as stack:
        with web_up(stack, f"127.0.0.1:{port}") as first:
            all_in(stack, EXPECTED_STATES)
            _open(page, System(stack, first))
            old = entries(stack)
            watch_states(page, "connection", "body", "#connection", "data-status")
            first.stop(how)
        if how == signal.SIGKILL:
            for info in old.values():
                if isinstance(info["pid"], int):
                    with contextlib.suppress(ProcessLookupError):  # a oneshot's, ended
                        os.killpg(info["pid"], signal.SIGKILL)  # its own process group
                    gone(info["pid"])
        connection = page.locator("#connection")
        expect(connection).to_have_text(said)
        status = "shutdown" if how == signal.SIGTERM else "disconnected"
        wait_for_states(page, "connection", ["connected", status])
        with web_up(stack, f"127.0.0.1:{port}") as second:
            assert second.token == first.token
            all_in(stack, EXPECTED_STATES)
            expect(connection).to_have_attribute("data-status", "connected")
            expect(_row(page, "web")).to_have_attribute("data-state", "ready")
            new = _pid_shown(page, "web", other_than=old["web"]["pid"])
            assert new == entries(stack)["web"]["pid"]


def test_a_new_supervisor_while_the_first_entries_are_still_coming(page: Page) -> None:
    """The page's first `GET /v1/entries` is held until after `up` has stopped
    and a new one has started: the new connection reads the entries itself
    (it once waited for the held request, which then belonged to a stream
    gone, and stayed "connected" with no rows)."""
    port = free_port()
    held: list[Route] = []

    def hold_the_first(route: Route) -> None:
        if held:
            route.continue_()
        else:
            held.append(route)

    page.route("**/v1/entries", hold_the_first)
    with a_stack(BROWSER_STACK) as stack:
        with web_up(stack, f"127.0.0.1:{port}") as first:
            all_in(stack, EXPECTED_STATES)
            with page.expect_request("**/v1/entries"):
                page.goto(System(stack, first).url)
            expect(page.locator("#connection")).to_have_attribute("data-status", "connecting")
            assert held
            first.stop(signal.SIGTERM)
        with web_up(stack, f"127.0.0.1:{port}"):
            all_in(stack, EXPECTED_STATES)
            expect(page.locator("#connection")).to_have_attribute("data-status", "connected")
            held[0].abort()
            for entry, state in EXPECTED_STATES.items():
                expect(_row(page, entry)).to_have_attribute("data-state", state)


def test_the_web_command_serves_the_console_of_a_detached_system(page: Page) -> None:
    """`healthdaemons web FILE` beside `up --detach`: the same page, the same
    buttons; it outlives the system it shows, and says when that one stops."""
    with a_stack(BROWSER_STACK) as stack:
        name = stack.config.name
        stack.run("up", name, "--detach")
        try:
            with serving_console(stack, "web", name, "--web", "127.0.0.1:0") as web:
                all_in(stack, EXPECTED_STATES)
                _open(page, System(stack, web))
                expect(page.locator("table#entries tbody tr[data-entry]")).to_have_count(5)
                expect(_row(page, "web")).to_have_attribute("data-state", "ready")
                worker = entries(stack)["worker"]["pid"]
                _row(page, "worker").locator("td.id").click()
                page.locator('#actions button[data-action="restart"]').click()
                page.locator('dialog#confirm button[value="confirm"]').click()
                expect(page.locator("#action-result")).to_have_attribute("data-outcome", "ok")
                _pid_shown(page, "worker", other_than=worker)
                stack.run("down", name)
                expect(page.locator("#connection")).to_have_attribute("data-status", "shutdown")
                assert web.process.poll() is None
        finally:
            if entries(stack):
                stack.run("down", name)
