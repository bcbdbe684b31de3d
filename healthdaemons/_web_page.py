"""The web console's listener (`up --web`, `healthdaemons web`): the page,
its static files, and the control API behind one token (docs/web.md).

`GET /?token=T` with the right token sets an HttpOnly, SameSite=Strict
cookie and sends the browser on to `/#token=T`, where the page keeps the
token in its origin's storage and takes it out of the address bar. The
cookie is not the token: browsers send a host's cookies to each of its
ports, so a server on another port of this machine that the person opens
receives it. It is a key derived from the token that lets a browser read
(the page, its files, `GET` of the API, the live streams), never act. A
request that changes something (any method but GET and HEAD) needs
`Authorization: Bearer T`, which the page sends from that storage: the
origin's, which another port cannot read. The `Host` and `Origin` checks
are `RequestGuard`'s, in front of this app.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import re
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._control_guard import first_headers, json_error

__all__ = [
    "DATA_MARKER",
    "SECURITY_HEADERS",
    "WebConsole",
    "cookie_name",
    "page_data",
    "read_key",
    "web_url",
]

DATA_MARKER = "<!--console-data-->"
"""Where in `web/index.html` the page's data block goes."""

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        b"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
        b"base-uri 'none'; form-action 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
)
"""On every answer of the web listener (those of the API too)."""

_STATIC_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
}
_STATIC_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_SAFE_METHODS = ("GET", "HEAD")


def cookie_name(port: int) -> str:
    """The cookie of the console on `port`. Browsers keep cookies per host,
    not per port: with one name for all, opening a second console on the
    same machine (another system, another port) would log the first out."""
    return f"healthdaemons-token-{port}"


def read_key(token: str) -> str:
    """The cookie's value for `token`: the same for every run that keeps the
    token (so an open page survives a restart of `up`), and no use for acting."""
    digest = hmac.new(token.encode(), b"healthdaemons web console: read", hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")


def page_data(config: str | None) -> dict[str, Any]:
    """What the page reads from its data block (no secret: the cookie gets it)."""
    from statemachines import LifecycleState
    from viz import STATE_COLOURS, STATE_TEXT

    return {
        "config": config,
        "states": [state.value for state in LifecycleState],
        "palette": {
            state.value: {"fill": STATE_COLOURS[state], "text": STATE_TEXT[state]}
            for state in LifecycleState
        },
    }


class WebConsole:
    """ASGI app: the login, the page, `/static/*`, and `api` for `/v1/*`."""

    def __init__(self, api: ASGIApp, *, token: str, config: str | None) -> None:
        self._api = api
        self._token = token.encode()
        self._read_key = read_key(token).encode()
        self._data = page_data(config)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._api(scope, receive, send)
            return
        send = _with_security_headers(send)
        path: str = scope["path"]
        method: str = scope["method"]
        is_api = path == "/v1" or path.startswith("/v1/")
        query = parse_qs(scope["query_string"].decode("latin-1"))
        if path == "/" and "token" in query and method in _SAFE_METHODS:
            await self._login(query["token"][-1], cookie_name(_port(scope)), send)
            return
        headers = first_headers(scope)
        authorization = headers.get(b"authorization")
        bearer = authorization is not None and self._bearer(authorization)
        if authorization is not None and not bearer:
            await _refuse(send, 401, "the token is wrong: open the URL that was printed", is_api)
            return
        cookie = cookie_name(_port(scope)).encode()
        if not bearer and not self._cookie(cookie, headers.get(b"cookie", b"")):
            await _refuse(
                send,
                401,
                "a token is needed: open the URL that `up --web` or `healthdaemons web` printed",
                is_api,
            )
            return
        if method not in _SAFE_METHODS and not bearer:
            await _refuse(
                send,
                403,
                "a request that changes something needs Authorization: Bearer TOKEN",
                True,
            )
            return
        if is_api:
            await self._api(scope, receive, send)
        elif path == "/":
            await _answer(send, 200, "text/html; charset=utf-8", self._page(), method)
        elif path.startswith("/static/"):
            await _static(path.removeprefix("/static/"), method, send)
        else:
            await _answer(send, 404, "text/plain; charset=utf-8", b"no such page\n", method)

    def _bearer(self, authorization: bytes) -> bool:
        scheme, _, given = authorization.partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), self._token)

    def _cookie(self, cookie: bytes, header: bytes) -> bool:
        for pair in header.split(b";"):
            name, _, value = pair.strip().partition(b"=")
            if name == cookie and hmac.compare_digest(value.strip(), self._read_key):
                return True
        return False

    async def _login(self, given: str, cookie: str, send: Send) -> None:
        if not hmac.compare_digest(given.encode("utf-8", "replace"), self._token):
            await _refuse(send, 401, "this token is wrong: open the URL that was printed", False)
            return
        set_cookie = f"{cookie}={self._read_key.decode()}; HttpOnly; SameSite=Strict; Path=/"
        await send(
            {
                "type": "http.response.start",
                "status": 303,
                "headers": [
                    # A fragment is never sent to a server, nor in a Referer.
                    (b"location", b"/#token=" + self._token),
                    (b"set-cookie", set_cookie.encode()),
                    (b"content-length", b"0"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    def _page(self) -> bytes:
        page = _web_file("index.html").decode("utf-8")
        # `<`, `>` and `&` escaped, so nothing in the data (a config file's
        # name) can end the script element.
        data = (
            json.dumps(self._data)
            .replace("<", "\\u003c")
            .replace(">", "\\u003e")
            .replace("&", "\\u0026")
        )
        block = f'<script type="application/json" id="console-data">{data}</script>'
        return page.replace(DATA_MARKER, block, 1).encode("utf-8")


def _port(scope: Scope) -> int:
    """The port this request came in on (the listener's own, whatever `Host` says)."""
    server = scope.get("server")
    return int(server[1]) if server and server[1] is not None else 0


def _web_file(name: str) -> bytes:
    return resources.files("healthdaemons").joinpath("web", name).read_bytes()


async def _static(name: str, method: str, send: Send) -> None:
    suffix = name[name.rfind(".") :] if "." in name else ""
    kind = _STATIC_TYPES.get(suffix)
    body = None
    if kind is not None and _STATIC_NAME.fullmatch(name):
        try:
            body = _web_file(name)
        except OSError:
            body = None
    if body is None or kind is None:
        await _answer(send, 404, "text/plain; charset=utf-8", b"no such file\n", method)
    else:
        await _answer(send, 200, kind, body, method)


def _with_security_headers(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            present = {name.lower() for name, _ in headers}
            headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
            message = {**message, "headers": headers}
        await send(message)

    return sending


async def _refuse(send: Send, status: int, error: str, as_json: bool) -> None:
    if as_json:
        await json_error(send, status, error)
        return
    text = html.escape(error)
    page = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>healthdaemons: {status}</title></head><body><h1>{status}</h1>"
        f"<p>{text}.</p><p>The URL with the token is printed by "
        "<code>healthdaemons up FILE --web</code> or <code>healthdaemons web FILE</code>, "
        "and kept in the <code>.web-token</code> file beside the control socket.</p>"
        "</body></html>\n"
    )
    await _answer(
        send, status, "text/html; charset=utf-8", page.encode(), "GET", bearer=status == 401
    )


async def _answer(
    send: Send, status: int, kind: str, body: bytes, method: str, *, bearer: bool = False
) -> None:
    headers = [(b"content-type", kind.encode()), (b"content-length", str(len(body)).encode())]
    if bearer:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})


def web_url(host: str, port: int, *, token: str | None) -> str:
    """The address to open; with `token`, the one that logs the browser in."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/" + ("" if token is None else f"?token={token}")
