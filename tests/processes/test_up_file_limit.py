"""`healthdaemons up` raises its soft limit on open files to the hard limit (at
most `FILE_LIMIT`), so that a system of more services than the soft limit it
was started with allows starts and stops cleanly."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

from healthdaemons._control_server import FILE_LIMIT

COMMAND = str(Path(sys.executable).with_name("healthdaemons"))
LOW_SOFT_LIMIT = 64
SERVICES = 60
"""Two pipes each: 120 descriptors, far past the soft limit of 64."""


def _low_soft_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (LOW_SOFT_LIMIT, hard))


def _config(tmp_path: Path) -> Path:
    services = [
        f'[services.s{i}]\ncommand = "echo up; exec sleep 600"\n[services.s{i}.ready]\n'
        'log_line = "up"\n'
        for i in range(SERVICES)
    ]
    # What a service sees: the raised limit, which it inherits.
    services.append(
        '[services.limit]\ncommand = "echo limit $(ulimit -n); exec sleep 600"\n'
        '[services.limit.ready]\nlog_line = "limit"\n'
    )
    path = tmp_path / "many.toml"
    path.write_text("\n".join(services))
    return path


def test_up_raises_its_soft_file_limit_to_start_more_services_than_it_allows(
    tmp_path: Path,
) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert hard == resource.RLIM_INFINITY or hard > 4 * SERVICES, "hard limit too low to test"
    process = subprocess.Popen(
        [COMMAND, "up", str(_config(tmp_path)), "--until-ready", "--timeout", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=_low_soft_limit,
    )
    try:
        output, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, output
    assert "everything is ready" in output
    assert "Too many open files" not in output
    raised = FILE_LIMIT if hard == resource.RLIM_INFINITY else min(hard, FILE_LIMIT)
    assert f"limit {raised}" in output
