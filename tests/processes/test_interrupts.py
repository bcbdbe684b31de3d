"""`KeyboardInterrupt` from user code, beside real processes, as a program sees it.

Each run is a program of its own (`anyio.run` in a child Python), so that what
asyncio does with a `KeyboardInterrupt` that reaches its event loop (stop at
once; then `Runner.close` waits on the shielded tasks for ever) cannot take
pytest down with it. The program must stop its services in order, dependents
first, and then end by that same `KeyboardInterrupt`, leaving nothing alive.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest

from .helpers import PYTHON, alive

PROGRAM = """
import json, sys
import anyio
from coordinator import Command, Daemons, ExecFn, HealthCheckResult, Ready, Transitioned

backend, source = sys.argv[1], sys.argv[2]
armed = False
running = None


def interrupt(*_):
    if armed:
        raise KeyboardInterrupt("from " + source)


async def mid(_):
    while True:
        await anyio.sleep(0.05)
        if source == "exec":
            interrupt()


ok = Ready("Ok", lambda: HealthCheckResult.success())
top = Command(
    [sys.executable, "-I", "-S", "-c",
     "import time\\nwhile True: print('tick', flush=True); time.sleep(0.05)"],
    on_stdout=interrupt if source == "on_stdout" else None,
)
system = (
    Daemons.of()
    .add_daemon("base", exec=Command(["sleep", "1000"]), ready=ok)
    .add_daemon("mid", exec=ExecFn(mid), ready=ok, requires=["base"])
    .add_daemon("top", exec=top, ready=ok, requires=["mid"])
)


async def main():
    global armed, running
    async with system.build() as running:
        await running.wait_ready(20)
        pids = {e.entry: e.pid for e in running.history if type(e).__name__ == "ProcessSpawned"}
        print(json.dumps({"pids": pids}), flush=True)
        armed = True
        await anyio.sleep_forever()


try:
    anyio.run(main, backend=backend)
except KeyboardInterrupt as error:
    stopped = [
        e.entry for e in running.history
        if isinstance(e, Transitioned) and e.dest.value == "stopped"
    ]
    print(json.dumps({"raised": repr(error), "stopped": stopped}), flush=True)
    sys.exit(7)
"""


@pytest.mark.parametrize("source", ["exec", "on_stdout"])
@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_keyboard_interrupt_from_user_code_stops_the_services_in_order_and_ends_the_program(
    backend: str, source: str
) -> None:
    program = subprocess.Popen(
        [PYTHON, "-c", PROGRAM, backend, source],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    )
    try:
        out, _ = program.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(program.pid, signal.SIGKILL)
        out, _ = program.communicate()
        pytest.fail(f"the program hung after the KeyboardInterrupt; it printed:\n{out}")
    lines = [json.loads(line) for line in out.splitlines()]
    assert program.returncode == 7, out
    pids = lines[0]["pids"]
    assert lines[-1] == {
        "raised": f"KeyboardInterrupt('from {source}')",
        "stopped": ["top", "mid", "base"],
    }
    assert not [pid for pid in pids.values() if pid and alive(pid)]
