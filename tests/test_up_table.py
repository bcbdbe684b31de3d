"""`up`'s live table on a terminal shorter than the system: a screenful of
rows, the entries most worth a look among them, and a row counting the others."""

from __future__ import annotations

import io

from rich.console import Console

from coordinator import Daemons, ExecFn, Ready
from healthdaemons._up_table import Processes, fitting_rows, table

from .support import Switch, forever

ENTRIES = 300


def crash_loop() -> ExecFn:
    async def run(_: object) -> None:
        raise RuntimeError("boom")

    return ExecFn(run)


def _render(drawn: object) -> list[str]:
    console = Console(file=io.StringIO(), width=200, force_terminal=False)
    console.print(drawn)
    assert isinstance(console.file, io.StringIO)
    return console.file.getvalue().splitlines()


def _rows(lines: list[str]) -> list[str]:
    """The first column of each row of a rendered table."""
    return [line.split("│")[1].strip() for line in lines if line.startswith("│")]


def test_a_terminal_has_room_for_its_height_less_the_table_around_the_rows() -> None:
    assert fitting_rows(50) == 42
    assert fitting_rows(3) == 5  # never none


async def test_a_long_system_shows_a_screenful_with_a_crash_and_who_waits_for_it() -> None:
    system = Daemons.of()
    for i in range(ENTRIES):
        system = system.add_daemon(f"s{i:03}", exec=forever(), ready=Ready(f"S {i}", Switch()))
    # Last in the file, and shown all the same: one crashing, one waiting for it.
    system = system.add_daemon("app", exec=crash_loop(), ready=Ready("App", Switch(ok=False)))
    system = system.add_daemon(
        "web", exec=forever(), ready=Ready("Web", Switch()), requires=["app"]
    )
    async with system.build() as running:
        await running.wait_until(lambda: running.statistics().restarts["app"] >= 1, timeout=30)
        await running.wait_until(lambda: running.statistics().ready >= ENTRIES, timeout=30)
        processes = Processes()
        for event in running.history:
            processes.see(event)
        lines = _render(table(running, processes, rows_at_most=20))
        rows = _rows(lines)
        assert len(rows) == 20
        # The one in trouble and the one on its way, and as many settled ones
        # as fit, in their order; then the count of the others.
        assert rows == [*(f"s{i:03}" for i in range(17)), "app", "web", "... 283 more"]
        assert "crashed (RuntimeError: boom" in next(line for line in lines if "│ app " in line)
        assert "283 ready" in lines[-2]
        # Room enough: every entry, no count.
        assert len(_rows(_render(table(running, processes, rows_at_most=ENTRIES + 2)))) == (
            ENTRIES + 2
        )
