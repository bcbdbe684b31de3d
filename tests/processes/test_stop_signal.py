"""A command's `stop_signal`: sent instead of SIGTERM, with and without the init."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import anyio
import pytest

from coordinator import Command, Daemons, Ready
from coordinator._process_table import group_members
from coordinator.checks import check_port_listening

from .helpers import PYTHON, always_ready, exits, last_pid, poll_until, signals

# Every test here, on both ways of running a child (the conftest).
pytestmark = pytest.mark.usefixtures("process_layer")

# A trap on QUIT that writes a marker, ends its `sleep` and exits 0. (The
# background `sleep` of a non-interactive shell ignores QUIT itself.)
TRAPPED = "trap 'echo quit > {marker}; kill $!; exit 0' QUIT; sleep 1000 & wait"


@pytest.mark.parametrize("run_as_init", [False, True], ids=["plain", "init"])
async def test_the_stop_signal_replaces_sigterm(tmp_path: Path, run_as_init: bool) -> None:
    marker = tmp_path / "marker"
    command = Command(
        TRAPPED.format(marker=marker),
        stop_signal="SIGQUIT",
        run_as_init=run_as_init,
        # A stop that needed SIGKILL would take this long: the test would see it.
        sigterm_timeout=60,
    )
    system = Daemons.of().add_daemon("web", exec=command, ready=always_ready())
    async with system.build() as running:
        await running.wait_ready(timeout=10)
        group = last_pid(running, "web")
        # The trap is set once the shell has started its `sleep`.
        await poll_until(lambda: any(_runs_sleep(pid) for pid in group_members(group)))
    assert signals(running.history, "web") == ["SIGQUIT"]
    (exited,) = exits(running.history, "web")
    assert (exited.returncode, exited.clean) == (0, True)
    assert marker.read_text() == "quit\n"


def _runs_sleep(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes() == b"sleep\x001000\x00"
    except OSError:
        return False


async def test_under_the_init_the_rest_of_the_group_gets_the_stop_signal(tmp_path: Path) -> None:
    # The command exits at once on QUIT, leaving a child that ignores SIGTERM
    # and ends on QUIT only: the init stops it with the service's signal, so
    # the stop takes no `sigterm_timeout` and no SIGKILL.
    marker = tmp_path / "child"
    child = (
        "import signal, sys, time, pathlib\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"def quit(*_): pathlib.Path({str(marker)!r}).write_text('quit'); sys.exit(0)\n"
        "signal.signal(signal.SIGQUIT, quit)\n"
        f"pathlib.Path({str(marker)!r} + '.ready').write_text('')\n"
        "time.sleep(1000)\n"
    )
    script = f"{PYTHON} -I -S -c \"$CHILD\" & trap 'exit 0' QUIT; wait"
    command = Command(
        script, env={"CHILD": child}, stop_signal="QUIT", run_as_init=True, sigterm_timeout=60
    )
    system = Daemons.of().add_daemon("web", exec=command, ready=always_ready())
    async with system.build() as running:
        await running.wait_ready(timeout=10)
        await poll_until(lambda: Path(f"{marker}.ready").exists())
    assert signals(running.history, "web") == ["SIGQUIT"]
    assert exits(running.history, "web")[-1].clean
    assert marker.read_text() == "quit"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _nginx_config(root: Path, port: int) -> Path:
    for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (root / name).mkdir()
    config = root / "nginx.conf"
    config.write_text(
        f"""
daemon off;
master_process on;
worker_processes 2;
pid {root}/nginx.pid;
error_log {root}/error.log notice;
events {{ worker_connections 64; }}
http {{
    access_log {root}/access.log;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    server {{ listen 127.0.0.1:{port}; location / {{ return 200 "ok\\n"; }} }}
}}
"""
    )
    return config


NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
)


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed on this machine")
@pytest.mark.parametrize("run_as_init", [False, True], ids=["plain", "init"])
async def test_a_real_nginx_stops_gracefully_on_sigquit(tmp_path: Path, run_as_init: bool) -> None:
    assert NGINX is not None
    port = _free_port()
    config = _nginx_config(tmp_path, port)
    tested = await anyio.run_process([NGINX, "-t", "-c", str(config)], check=False)
    if tested.returncode != 0:
        pytest.skip(f"nginx cannot run here: {tested.stderr.decode(errors='replace')}")
    command = Command(
        [NGINX, "-c", str(config)],
        stop_signal="SIGQUIT",
        run_as_init=run_as_init,
        sigterm_timeout=30,
    )
    ready = Ready("nginx", lambda: check_port_listening(port), grace_period=10)
    system = Daemons.of().add_daemon("web", exec=command, ready=ready)
    async with system.build() as running:
        await running.wait_ready(timeout=20)
    assert signals(running.history, "web") == ["SIGQUIT"]
    (exited,) = exits(running.history, "web")
    assert (exited.returncode, exited.clean) == (0, True)
    log = (tmp_path / "error.log").read_text()
    assert "gracefully shutting down" in log, log


@pytest.mark.parametrize("run_as_init", [False, True], ids=["plain", "init"])
async def test_a_real_time_stop_signal(tmp_path: Path, run_as_init: bool) -> None:
    # systemd's own stop signal in a container: SIGRTMIN+3.
    marker = tmp_path / "marker"
    program = (
        "import signal, sys, time, pathlib\n"
        "def stop(*_):\n"
        f"    pathlib.Path({str(marker)!r}).write_text('stopped')\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGRTMIN + 3, stop)\n"
        f"pathlib.Path({str(marker)!r} + '.ready').write_text('')\n"
        "time.sleep(1000)\n"
    )
    command = Command(
        [PYTHON, "-I", "-S", "-c", program],
        stop_signal="SIGRTMIN+3",
        run_as_init=run_as_init,
        sigterm_timeout=60,
    )
    system = Daemons.of().add_daemon("init", exec=command, ready=always_ready())
    async with system.build() as running:
        await running.wait_ready(timeout=10)
        await poll_until(Path(f"{marker}.ready").exists)
    assert signals(running.history, "init") == ["SIGRTMIN+3"]
    (exited,) = exits(running.history, "init")
    assert (exited.returncode, exited.clean) == (0, True)
    assert marker.read_text() == "stopped"
