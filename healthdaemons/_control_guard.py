"""Who may use the control API, checked before any endpoint runs (docs/api.md,
"Security model"); and the last line of defence: an endpoint that fails
answers 500 and is reported, never reaching the server or supervision.

On the unix socket the file's permissions decide who connects. On TCP
(`up --listen`) every request needs the token, compared in constant time,
and a `Host` header naming the listen address, `localhost` or an IP address
(a browser tricked by DNS rebinding sends the attacker's name). On both, a
request with an `Origin` that is not the server's own is refused: no
cross-origin request, and no `Access-Control-*` header is ever sent.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["RequestGuard", "allowed_host", "first_headers", "json_error"]


class RequestGuard:
    """ASGI middleware: the checks above, then `app`."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        token: str | None,
        listen_host: str | None,
        report: Callable[[str], None],
    ) -> None:
        self._app = app
        self._token = None if token is None else token.encode()
        self._listen_host = listen_host
        """None on the unix socket: no `Host` check, no token."""
        self._report = report

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._app(scope, receive, send)
            return
        if scope["type"] != "http":
            # A websocket would skip the checks below (and browsers apply no
            # CORS to them): none is served, so none is let in.
            await send({"type": "websocket.close", "code": 1008})
            return
        headers = first_headers(scope)
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            await json_error(send, *refusal)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._app(scope, receive, sending)
        except Exception as error:
            self._report(
                f"control API: {scope['method']} {scope['path']} failed: {error!r} (a bug)"
            )
            if not started:
                await json_error(send, 500, f"internal error: {error!r}")

    def _refusal(self, scope: Scope, headers: dict[bytes, bytes]) -> tuple[int, str] | None:
        host = headers.get(b"host", b"").decode("latin-1")
        if self._listen_host is not None and not allowed_host(host, self._listen_host):
            return 400, f"Host {host!r} not allowed: use the listen address or localhost"
        origin = headers.get(b"origin")
        if origin is not None and origin.decode("latin-1") != f"{scope['scheme']}://{host}":
            return 403, "cross-origin requests are not allowed"
        if self._token is not None:
            scheme, _, given = headers.get(b"authorization", b"").partition(b" ")
            # The scheme's case does not matter (RFC 7235); the token's does.
            if scheme.lower() != b"bearer" or not hmac.compare_digest(given.strip(), self._token):
                return 401, "a token is needed: Authorization: Bearer TOKEN (see up's output)"
        return None


def allowed_host(host: str, listen_host: str) -> bool:
    """Whether a `Host` header (name, optional port) names this server:
    `localhost`, the listen address, or any IP address (no DNS name but
    localhost can be rebound to it)."""
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 or host.startswith("[") else host
    if host.startswith("["):
        name = host[1:].split("]", 1)[0]
    name = name.lower()
    if name in ("localhost", listen_host.lower().strip("[]")):
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def first_headers(scope: Scope) -> dict[bytes, bytes]:
    """The request's headers by name, the first of each (names come lower-case)."""
    headers: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        headers.setdefault(name, value)
    return headers


async def json_error(send: Send, status: int, error: str) -> None:
    """`{"error": error}` with `status` (and the Bearer challenge with a 401)."""
    body = json.dumps({"error": error}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
