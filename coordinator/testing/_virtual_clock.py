"""The clock of `explore`'s runs: virtual time that starts again at 0.

All runs of one search share one trio run loop (setting one up and tearing
it down took about a tenth of each run). Each run must still see the
clock a run of its own would: from 0, moved only by the explorer, so that
the same path of choices meets the same timers at the same values (their
arithmetic in floating point included, which depends on where time
starts). trio's `MockClock` cannot be set back, so this is a
`trio.abc.Clock` of the explorer's own. Between runs no timer is left
(every task of a run has ended), so setting it back to 0 moves no
deadline of anyone's.
"""

from __future__ import annotations

import math

import trio
import trio.testing

__all__ = ["VirtualClock", "pass_time_when_idle"]

_BLOCK = 999_999_999.0
"""How long the loop may wait for I/O while time stands still (as
`MockClock` answers): in practice until a task wakes another."""


class VirtualClock(trio.abc.Clock):
    """Time that passes only when the explorer says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def start_clock(self) -> None:
        pass

    def current_time(self) -> float:
        return self.now

    def deadline_to_sleep_time(self, deadline: float) -> float:
        return 0.0 if deadline <= self.now else _BLOCK

    def jump(self, seconds: float) -> None:
        """Time passes by `seconds` (timers due by then fire)."""
        self.now += seconds

    def rewind(self) -> None:
        """Back to 0, for the next run; only with no timer left."""
        self.now = 0.0


async def pass_time_when_idle(clock: VirtualClock) -> None:
    """Whenever every task waits, time passes to the next timer (a run that
    is being ended lets its timeouts go by at once)."""
    while True:
        await trio.testing.wait_all_tasks_blocked()
        wait = trio.lowlevel.current_statistics().seconds_to_next_deadline
        if not math.isfinite(wait):
            await trio.sleep_forever()
        # (trio expires a deadline that is due before anyone waits: the next
        # one is later than now.)
        clock.jump(max(wait, 0.0))
