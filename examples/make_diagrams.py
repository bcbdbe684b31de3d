"""Draw the pictures of docs/diagrams.md from real code and a real run.

    python examples/make_diagrams.py [OUTPUT_DIR]      (make docs-diagrams)

A small stack of real processes runs: an HTTP server, a oneshot that seeds
a directory, a worker ready on a log line, and a gate check. Once all is
ready the gate fails for a moment: the worker and the API stop, dependents
first, and come back. The live graph is drawn during that hiccup and the
timeline from the recorded run. Nothing here is drawn by hand.
"""

from __future__ import annotations

import socket
import sys
import tempfile
from pathlib import Path

import anyio

from coordinator import Command, Daemons, HealthCheckResult, LifecycleState, Ready
from coordinator.checks import check_port_listening, log_line
from coordinator.triggers import cooldown_trigger
from viz import lifecycle_dot as lifecycle_source
from viz import save_drawing, system_dot, timeline_svg


class Gate:
    """A check the script opens and closes."""

    def __init__(self) -> None:
        self.open = True

    def __call__(self) -> HealthCheckResult:
        if self.open:
            return HealthCheckResult.success("open")
        return HealthCheckResult.failure("closed for maintenance")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stack(gate: Gate, port: int, data: Path) -> Daemons:
    python = [sys.executable, "-I", "-S"]
    return (
        Daemons.of()
        .add_daemon(
            "store",
            exec=Command(
                [*python, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                cwd=data,
                sigterm_timeout=5,
            ),
            ready=Ready("File store", lambda: check_port_listening(port)),
        )
        .add_oneshot("seed", exec=Command(f"echo hello > {data}/greeting"), requires=["store"])
        .add_health_check(
            "gate", ready=Ready("Maintenance gate", gate, trigger=cooldown_trigger(0.05))
        )
        .add_daemon(
            "worker",
            exec=Command("echo worker ready; exec sleep 3600"),
            ready=Ready("Worker", log_line("worker ready")),
            requires=["seed", "gate"],
        )
        .add_daemon(
            "api",
            exec=Command("echo api listening; exec sleep 3600"),
            ready=Ready("API", log_line("api listening")),
            requires=["worker"],
        )
    )


async def run(output: Path) -> None:
    gate = Gate()
    with tempfile.TemporaryDirectory() as data:
        system = stack(gate, free_port(), Path(data))
        save_drawing(system_dot(system, title="A small stack"), output / "system.svg")
        async with system.build() as running:
            await running.wait_ready(timeout=30)
            gate.open = False
            await running.wait_until(
                lambda: running.state("worker") is LifecycleState.WAITING, timeout=30
            )
            live = system_dot(running, title="During a hiccup of the gate")
            save_drawing(live, output / "system-live.svg")
            gate.open = True
            await running.wait_ready(timeout=30)
        title = "The run: start, a hiccup of the gate, shutdown"
        (output / "timeline.svg").write_text(timeline_svg(running.history, title=title))


def main() -> None:
    output = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/images")
    output.mkdir(parents=True, exist_ok=True)
    save_drawing(lifecycle_source(), output / "lifecycle.svg")
    save_drawing(lifecycle_source(), output / "lifecycle.dot")
    anyio.run(run, output)
    for name in ("lifecycle.svg", "system.svg", "system-live.svg", "timeline.svg"):
        print(output / name)


if __name__ == "__main__":
    main()
