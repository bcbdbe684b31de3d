"""The web console's listener on a real `up FILE --web` (docs/web.md): the
login by the printed URL, the cookie, the bearer header that every action
needs, the `Host` and `Origin` checks, the headers, the page, its static
files, and the token kept from one run to the next."""

from __future__ import annotations

import json
import re
import signal
import socket
import stat
from pathlib import Path

import httpx

from healthdaemons._control_paths import ControlPaths
from healthdaemons._web_page import cookie_name, read_key

from .stack import Stack, a_stack, until
from .web import Console, serving_console

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'"
)


def _web_token_file(stack: Stack) -> Path:
    runtime = Path(stack.environment["XDG_RUNTIME_DIR"])
    return ControlPaths.beside(
        runtime / "healthdaemons" / ControlPaths.for_config(stack.config).socket.name
    ).web_token


def _secured(answer: httpx.Response) -> None:
    assert answer.headers["content-security-policy"] == CSP
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["cache-control"] == "no-store"
    assert not any(name.startswith("access-control-") for name in answer.headers)


def _ready(console: Console) -> None:
    with console.client(bearer=True) as client:

        def all_ready() -> bool:
            entries = client.get("/v1/entries").json()["entries"]
            return all(entry["state"] == "ready" for entry in entries)

        until(all_ready, what="every entry ready")


def test_the_token_the_cookie_and_the_bearer_rules() -> None:
    with a_stack() as stack, serving_console(stack, "up", stack.config.name, "--web", "0") as up:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", up.base) and not up.base.endswith(":0")
        _ready(up)
        with up.client() as anonymous:
            for path in ("/", "/static/console.js", "/static/console.css", "/elsewhere"):
                refused = anonymous.get(path)
                assert refused.status_code == 401, path
                assert refused.headers["content-type"] == "text/html; charset=utf-8"
                assert "open the URL" in refused.text
                _secured(refused)
            for method, path in (("GET", "/v1/entries"), ("POST", "/v1/shutdown")):
                refused = anonymous.request(method, path)
                assert refused.status_code == 401, path
                assert "a token is needed" in refused.json()["error"]
            wrong = anonymous.get("/", params={"token": up.token + "x"})
            assert wrong.status_code == 401 and "wrong" in wrong.text
            assert "set-cookie" not in wrong.headers
            login = anonymous.get("/", params={"token": up.token})
            assert login.status_code == 303
            # The token goes on in the fragment, which no server and no
            # Referer ever sees; the page keeps it in its origin's storage.
            assert login.headers["location"] == f"/#token={up.token}"
            # The cookie is a key that reads, not the token: browsers send it
            # to every port of the host.
            key = read_key(up.token)
            assert key != up.token and up.token not in key
            assert login.headers["set-cookie"] == (
                f"healthdaemons-token-{up.port}={key}; HttpOnly; SameSite=Strict; Path=/"
            )
            _secured(login)
        # The cookie of a console on another port (another system) is not this one's.
        other = {cookie_name(up.port + 1): read_key(up.token)}
        with httpx.Client(base_url=up.base, cookies=other, timeout=30) as elsewhere:
            assert elsewhere.get("/v1/entries").status_code == 401
        with up.client(cookie=True) as browser:
            page = browser.get("/")
            assert page.status_code == 200
            assert page.headers["content-type"] == "text/html; charset=utf-8"
            _secured(page)
            (block,) = re.findall(
                r'<script type="application/json" id="console-data">(.*?)</script>', page.text
            )
            data = json.loads(block)
            # Nothing that acts is in the page a cookie opens.
            assert "token" not in data and up.token not in page.text
            assert data["config"] == stack.config.name
            assert data["states"][0] == "waiting" and "ready" in data["states"]
            assert data["palette"]["ready"] == {"fill": "#74c476", "text": "#000000"}
            assert "<!--console-data-->" not in page.text
            # No inline code: every other script is a file of /static.
            for script in re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.S):
                assert 'type="application/json"' in script[0] or not script[1].strip()
            script = browser.get("/static/console.js")
            assert script.status_code == 200
            assert script.headers["content-type"] == "text/javascript; charset=utf-8"
            _secured(script)
            style = browser.get("/static/console.css")
            assert style.headers["content-type"] == "text/css; charset=utf-8"
            for missing in ("/static/nothing.js", "/static/.hidden.js", "/static/%2e%2e%2f_up.py"):
                assert browser.get(missing).status_code == 404, missing
            entries = browser.get("/v1/entries")
            assert entries.status_code == 200
            _secured(entries)
            worker = entries.json()["entries"][-1]
            assert worker["id"] == "worker"
            # The cookie alone, which a browser sends by itself, changes nothing.
            refused = browser.post("/v1/entries/worker/restart")
            assert refused.status_code == 403
            assert "Authorization: Bearer" in refused.json()["error"]
            refused = browser.post(
                "/v1/entries/worker/restart", headers={"Authorization": f"Bearer {up.token}x"}
            )
            assert refused.status_code == 401
            # Nor does the cookie's value, as the token: whoever it leaked to reads, never acts.
            refused = browser.post(
                "/v1/entries/worker/restart",
                headers={"Authorization": f"Bearer {read_key(up.token)}"},
            )
            assert refused.status_code == 401
            assert browser.get("/v1/entries/worker").json()["pid"] == worker["pid"]
            # The page's way: the cookie, and the token the login's fragment gave it.
            done = browser.post(
                "/v1/entries/worker/restart", headers={"Authorization": f"Bearer {up.token}"}
            )
            assert done.status_code == 200, done.text
            assert done.json()["pid"] != worker["pid"]
        with up.client(bearer=True) as script_client:
            assert script_client.get("/v1/health").json()["web"] == up.base + "/"
            port = up.base.rsplit(":", 1)[1]
            for host in ("evil.example", f"evil.example:{port}", "127.0.0.1.nip.io"):
                refused = script_client.get("/v1/health", headers={"Host": host})
                assert refused.status_code == 400, host
            for origin in ("http://evil.example", "null", f"http://localhost:{port}"):
                refused = script_client.post(
                    "/v1/entries/worker/restart",
                    headers={"Origin": origin, "Host": f"127.0.0.1:{port}"},
                )
                assert refused.status_code == 403, origin
                assert "cross-origin" in refused.json()["error"]
            same = script_client.get("/v1/health", headers={"Origin": up.base})
            assert same.status_code == 200
        assert _raw(up, f"GET / HTTP/1.1\r\nHost: rebound.example:{port}\r\n").startswith(
            "HTTP/1.1 400"
        )
        cookie = f"Cookie: healthdaemons-token-{port}={read_key(up.token)}\r\n"
        answer = _raw(up, f"GET / HTTP/1.1\r\nHost: localhost:{port}\r\n{cookie}")
        assert answer.startswith("HTTP/1.1 200")
        answer = _raw(
            up,
            f"POST /v1/shutdown HTTP/1.1\r\nHost: localhost:{port}\r\n{cookie}"
            "Content-Length: 0\r\n",
        )
        assert answer.startswith("HTTP/1.1 403")
        assert up.stop(signal.SIGINT) == 0


def _raw(console: Console, head: str) -> str:
    """What the server answers to a request written by hand."""
    host, port = console.base.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall((head + "Connection: close\r\n\r\n").encode())
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer.decode("latin-1")


def test_the_token_is_kept_for_the_next_run_of_the_same_file() -> None:
    with a_stack() as stack:
        with serving_console(stack, "up", stack.config.name, "--web", "127.0.0.1:0") as first:
            token_file = _web_token_file(stack)
            assert token_file.read_text() == first.token + "\n"
            assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
            assert first.stop() == 0
        assert token_file.exists()
        with serving_console(stack, "up", stack.config.name, "--web", "0") as second:
            assert second.token == first.token
            # The cookie an open page holds works on the new run.
            with second.client(cookie=True) as browser:
                assert browser.get("/v1/health").status_code == 200
            assert second.stop(signal.SIGTERM) == 0
        token_file.unlink()
        with serving_console(stack, "up", stack.config.name, "--web", "0") as third:
            assert third.token != first.token
            assert token_file.read_text() == third.token + "\n"
            # A token file others could read is not trusted: a new one replaces it.
            token_file.chmod(0o644)
            assert third.stop() == 0
        with serving_console(stack, "up", stack.config.name, "--web", "0") as fourth:
            assert fourth.token != third.token
            assert stat.S_IMODE(token_file.stat().st_mode) == 0o600


def test_a_busy_or_bad_web_address_is_refused_before_anything_starts() -> None:
    with a_stack() as stack, socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = stack.run("up", stack.config.name, "--web", f"127.0.0.1:{port}", code=2)
        assert done.stderr == (f"healthdaemons: --web 127.0.0.1:{port}: Address already in use\n")
        assert not stack.events() and "spawned" not in done.stdout
        done = stack.run("up", stack.config.name, "--web", "10.1.2.3:8080", code=2)
        assert "--web 10.1.2.3:8080: not a loopback address" in done.stderr
        assert "--listen-remote" in done.stderr
        done = stack.run("up", stack.config.name, "--web", "example.com:80", code=2)
        assert "--web example.com:80: the host must be an IP address or localhost" in done.stderr
        done = stack.run("up", stack.config.name, "--web", "127.0.0.1:99999", code=2)
        assert "--web 127.0.0.1:99999: the port must be a number" in done.stderr
        runtime = Path(stack.environment["XDG_RUNTIME_DIR"]) / "healthdaemons"
        assert not list(runtime.glob("*.sock")) and not list(runtime.glob("*.pid"))


def test_a_ctrl_c_as_soon_as_the_url_is_printed_stops_up_in_order() -> None:
    """A person (or a test) acts on the printed URL at once: `up` handles
    signals by then (it hung when asyncio's own handler got the SIGINT)."""
    with a_stack() as stack:
        for _ in range(4):
            with serving_console(stack, "up", stack.config.name, "--web", "0") as up:
                assert up.stop(signal.SIGINT, timeout=30) == 0
