"""The console's security in a real browser (docs/api.md, "Security model";
the contract in docs/web.md): no token, no page; another site open in the
same browser cannot act on the system; a foreign `Host` (DNS rebinding) is
refused."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from coordinator import LifecycleState, Transitioned

from ..processes.stack import until
from .chromium import expect
from .conftest import OpenPage
from .system import System, entries

if TYPE_CHECKING:
    from playwright.sync_api import Page


def _stopped_anything(system: System) -> list[Transitioned]:
    return [
        event
        for event in system.stack.events()
        if isinstance(event, Transitioned) and event.dest is LifecycleState.STOPPING
    ]


def test_without_the_token_nothing_is_served(system: System, page: Page) -> None:
    origin = system.console.base
    for path in ("/", "/?token=wrong", "/static/console.js", "/v1/entries"):
        answer = page.goto(origin + path)
        assert answer is not None and answer.status == 401, path
    page.goto(origin + "/?token=wrong")
    assert "open the URL that was printed" in page.locator("body").inner_text()

    answer = page.goto(system.url)
    assert answer is not None and answer.status == 200
    # The token leaves the address bar, and the page's scripts cannot read the cookie.
    assert page.url == origin + "/"
    assert page.evaluate("document.cookie") == ""
    answer = page.goto(origin + "/v1/entries")
    assert answer is not None and answer.status == 200
    # The cookie reads; it does not act: a POST also needs the token in a header.
    status = page.evaluate(
        "async () => (await fetch('/v1/entries/web/stop', {method: 'POST'})).status"
    )
    assert status in (401, 403)
    assert entries(system.stack)["web"]["state"] == "ready"
    assert not _stopped_anything(system)


def test_the_token_stays_with_the_console_and_out_of_the_cookie(system: System, page: Page) -> None:
    """The cookie, which the browser also sends to every other port of the
    host, only reads; the token that acts stays in the console's own origin
    (its storage), where a second tab opened without it finds it."""
    origin = system.console.base
    page.goto(system.url)
    expect(page.locator("#connection")).to_have_attribute("data-status", "connected")
    assert page.url == origin + "/"
    (cookie,) = page.context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert system.console.token not in cookie["value"]
    assert system.console.token not in page.content()

    other = page.context.new_page()
    try:
        other.goto(origin + "/")
        expect(other.locator("#connection")).to_have_attribute("data-status", "connected")
        other.locator('tr[data-entry="web"] td.id').click()
        other.locator('#actions button[data-action="stop"]').click()
        other.locator('dialog#confirm button[value="confirm"]').click()
        expect(other.locator("#action-result")).to_have_attribute("data-outcome", "ok")
        until(lambda: entries(system.stack)["web"]["state"] == "stopped", what="web stopped")
    finally:
        other.close()


FOREIGN_PAGE = """<!doctype html>
<title>another site</title>
<form method="post" action="{target}"><button>go</button></form>
"""

# What a page of another origin may try, the console open in the same browser
# (its cookie set; 127.0.0.1 on another port is the same site, so SameSite
# alone would let the cookie go).
ATTEMPTS = """
async ([target, read]) => {
  const outcome = {};
  const attempt = async (name, url, options) => {
    try {
      const answer = await fetch(url, options);
      const body = answer.type === "opaque" ? "" : await answer.text();
      outcome[name] = answer.type + " " + answer.status + " " + body;
    } catch (error) {
      outcome[name] = "refused";
    }
  };
  await attempt("blind post", target, {method: "POST", mode: "no-cors", credentials: "include"});
  await attempt("post with a guessed token", target, {
    method: "POST", credentials: "include", headers: {Authorization: "Bearer guessed"},
  });
  await attempt("read", read, {credentials: "include"});
  return outcome;
}
"""


@contextmanager
def another_site(directory: Path, target: str) -> Iterator[str]:
    """A plain web site on another port, its page holding a form aimed at `target`."""
    directory.mkdir()
    (directory / "index.html").write_text(FOREIGN_PAGE.format(target=target))
    handler = partial(SimpleHTTPRequestHandler, directory=str(directory))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        serving = threading.Thread(target=server.serve_forever, daemon=True)
        serving.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/"
        finally:
            server.shutdown()
            serving.join(timeout=10)


def test_another_origin_cannot_trigger_an_action(
    system: System, page: Page, tmp_path: Path
) -> None:
    origin = system.console.base
    target = origin + "/v1/entries/web/stop"
    web_pid = entries(system.stack)["web"]["pid"]
    page.goto(system.url)
    with another_site(tmp_path / "site", target) as site:
        page.goto(site)
        outcome = page.evaluate(ATTEMPTS, [target, origin + "/v1/entries"])
        # The blind POST reached the server, which answered it (refused, unseen).
        assert outcome["blind post"] == "opaque 0 "
        # A request with a header needs a CORS preflight, which is refused.
        assert outcome["post with a guessed token"] == "refused"
        assert outcome["read"] == "refused"
        # A form posted from that site: the browser sends the cookie and its Origin.
        with page.expect_navigation() as navigation:
            page.click("button")
        answer = navigation.value
        assert answer is not None and answer.status in (401, 403)
    # Had one of them been taken, web would be stopping by the time it was answered.
    shown = entries(system.stack)["web"]
    assert (shown["state"], shown["pid"]) == ("ready", web_pid)
    assert not _stopped_anything(system)


def test_a_foreign_host_is_refused(system: System, open_page: OpenPage) -> None:
    """A name of the attacker's that resolves to 127.0.0.1 (DNS rebinding) gets
    nothing, in the browser (its resolver told so) and from a plain client."""
    url = urlsplit(system.url)
    port = url.port
    rebinding = ("--host-resolver-rules=MAP rebound.example 127.0.0.1",)
    with open_page(args=rebinding) as page:
        answer = page.goto(f"http://rebound.example:{port}/?{url.query}")
        assert answer is not None and answer.status == 400
        answer = page.goto(f"http://rebound.example:{port}/v1/entries")
        assert answer is not None and answer.status == 400
    bearer = {"Authorization": f"Bearer {system.console.token}"}
    for host in ("evil.example", f"evil.example:{port}"):
        for method, path in (
            ("GET", "/"),
            ("GET", "/v1/entries"),
            ("POST", "/v1/entries/web/stop"),
        ):
            client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                client.request(method, path, headers={"Host": host, **bearer})
                assert client.getresponse().status == 400, (host, method, path)
            finally:
                client.close()
    assert entries(system.stack)["web"]["state"] == "ready"
    assert not _stopped_anything(system)
