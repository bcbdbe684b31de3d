"""Real services end to end: Python's own HTTP server, ready by port and by URL."""

from __future__ import annotations

import socket

from coordinator import Command, Daemons, HealthStatus, Ready
from coordinator.checks import check_port_listening, check_web_url

from .helpers import PYTHON, exits, signals, stopped_order


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _http_server(port: int) -> Command:
    return Command(
        [PYTHON, "-m", "http.server", str(port), "--bind", "127.0.0.1"], sigterm_timeout=5
    )


async def test_http_servers_ready_by_port_and_by_url_and_closed_after_term() -> None:
    store_port, api_port = _free_port(), _free_port()
    system = (
        Daemons.of()
        .add_daemon(
            "store",
            exec=_http_server(store_port),
            ready=Ready("Store", lambda: check_port_listening(store_port)),
        )
        .add_daemon(
            "api",
            exec=_http_server(api_port),
            ready=Ready("API", lambda: check_web_url(f"http://127.0.0.1:{api_port}/")),
            requires=["store"],
        )
    )
    async with system.build() as running:
        await running.wait_ready(timeout=20)
        assert running.health("store") == await check_port_listening(store_port)
        api_health = running.health("api")
        assert api_health is not None
        assert api_health.message == f"Reached http://127.0.0.1:{api_port}/"
    assert stopped_order(running.history) == ["api", "store"]
    for name in ("store", "api"):
        assert signals(running.history, name) == ["SIGTERM"]
        assert exits(running.history, name)[-1].clean
    for port in (store_port, api_port):
        assert (await check_port_listening(port)).result is HealthStatus.FAILURE
