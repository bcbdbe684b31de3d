"""The control API on TCP (`up --listen`): a token on every request, the `Host`
checked, no cross-origin request, no CORS header ever (docs/api.md,
"Security model")."""

from __future__ import annotations

import re
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from healthdaemons._control_options import parse_listen

from .control import Up, serving
from .helpers import poll_until

COMMAND = str(Path(sys.executable).with_name("healthdaemons"))


async def _address(up: Up) -> tuple[str, str]:
    """The URL and token `up` printed (from its printer's thread)."""
    pattern = re.compile(r"control API on (http://\S+) \(token (\S+), also in ")
    await poll_until(lambda: pattern.search(up.output.getvalue()) is not None)
    found = pattern.search(up.output.getvalue())
    assert found is not None
    return found[1], found[2]


async def test_every_tcp_request_needs_the_token(tmp_path: Path) -> None:
    async with serving(tmp_path, listen=("127.0.0.1", 0)) as up:
        url, token = await _address(up)
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
        assert up.paths.token.read_text() == token + "\n"
        assert stat.S_IMODE(up.paths.token.stat().st_mode) == 0o600
        assert len(token) >= 40
        async with httpx.AsyncClient(base_url=url, timeout=30) as tcp:
            for headers in ({}, {"Authorization": f"Bearer {token}x"}, {"Authorization": token}):
                for method, path in (("GET", "/v1/entries"), ("POST", "/v1/shutdown")):
                    refused = await tcp.request(method, path, headers=headers)
                    assert refused.status_code == 401, (method, path, headers)
                    assert refused.json()["error"].startswith("a token is needed")
                    assert refused.headers["www-authenticate"] == "Bearer"
            allowed = await tcp.get("/v1/health", headers={"Authorization": f"Bearer {token}"})
            assert allowed.status_code == 200
            # The scheme is case-insensitive (RFC 7235).
            allowed = await tcp.get("/v1/health", headers={"Authorization": f"bearer {token}"})
            assert allowed.status_code == 200 and allowed.json()["status"] == "running"
        # The unix socket needs none.
        assert (await up.get("/v1/health"))["status"] == "running"
    assert not up.paths.token.exists()


async def test_a_foreign_host_or_origin_is_refused_and_no_cors_header_is_sent(
    tmp_path: Path,
) -> None:
    async with serving(tmp_path, listen=("127.0.0.1", 0)) as up:
        url, token = await _address(up)
        port = url.rsplit(":", 1)[1]
        bearer = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=url, timeout=30, headers=bearer) as tcp:
            for host in ("evil.example", f"evil.example:{port}", "127.0.0.1.nip.io", ""):
                refused = await tcp.get("/v1/entries", headers={"Host": host})
                assert refused.status_code == 400, host
                assert "not allowed" in refused.json()["error"]
            for host in (f"localhost:{port}", f"127.0.0.1:{port}", "localhost", "[::1]:1"):
                assert (await tcp.get("/v1/health", headers={"Host": host})).status_code == 200
            for origin in ("http://evil.example", "null", f"http://localhost:{port}"):
                refused = await tcp.post(
                    "/v1/shutdown", headers={"Origin": origin, "Host": f"127.0.0.1:{port}"}
                )
                assert refused.status_code == 403, origin
            same = await tcp.get("/v1/health", headers={"Origin": url})
            assert same.status_code == 200
            preflight = await tcp.options(
                "/v1/entries/web/restart",
                headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
            )
            assert preflight.status_code == 403
            answers = [
                preflight,
                same,
                await tcp.options("/v1/entries/web/restart"),
                await tcp.get("/v1/output", params={"follow": "false"}),
            ]
            for answer in answers:
                assert not [h for h in answer.headers if h.lower().startswith("access-control")]
        assert (await up.get("/v1/health"))["status"] == "running"


def test_parse_listen() -> None:
    assert parse_listen("8080", remote=False) == ("127.0.0.1", 8080)
    assert parse_listen("localhost:0", remote=False) == ("127.0.0.1", 0)
    assert parse_listen("[::1]:9", remote=False) == ("::1", 9)
    assert parse_listen("0.0.0.0:80", remote=True) == ("0.0.0.0", 80)
    with pytest.raises(ValueError, match="add --listen-remote"):
        parse_listen("0.0.0.0:80", remote=False)
    with pytest.raises(
        ValueError, match=re.escape("an IP address or localhost, not 'example.com'")
    ):
        parse_listen("example.com:80", remote=True)
    with pytest.raises(ValueError, match="the port must be a number from 0 to 65535"):
        parse_listen("127.0.0.1:http", remote=False)
    with pytest.raises(ValueError, match="the port must be"):
        parse_listen("127.0.0.1:70000", remote=False)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--listen", "0.0.0.0:0"], "not a loopback address"),
        (["--listen-remote"], "--listen-remote goes with --listen HOST:PORT"),
        (["--listen", "nowhere"], "the port must be a number"),
    ],
)
def test_bad_listen_arguments_exit_2_and_start_nothing(
    tmp_path: Path, arguments: list[str], message: str
) -> None:
    config = tmp_path / "system.toml"
    config.write_text('[services.a]\ncommand = "sleep 600"\n')
    done = subprocess.run(
        [COMMAND, "up", str(config), *arguments], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2
    assert message in done.stderr and done.stdout == ""
