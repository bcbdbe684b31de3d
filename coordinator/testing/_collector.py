"""The garbage collector during `explore`: young collections only.

Every run of the explorer builds a coordinator, a trio run loop and their
tasks, and drops them all at its end as one cluster of reference cycles
(a few hundred objects). Meanwhile the search keeps, for good, what it
has seen and what is left to run: hundreds of thousands of objects on a
larger system. With the collector's default thresholds, the cycles that
runs leave push it into collecting, and every so often into full
collections that scan all of the search's own objects again, each time
(about a tenth of a search's time on the demo stack).

So while the search runs, automatic collection is off and the explorer
collects the young generations after each run: that finds each run's
cycles (they are younger than the last collection) without scanning the
search's long-lived objects again. The collector is left as it was found
when the search ends, by a violation or an error too; garbage of the rest
of the program that is already old waits until then.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collect_young", "young_collections"]

YOUNG = 1
"""The generations collected after each run (0 and 1)."""


@contextmanager
def young_collections() -> Iterator[None]:
    """Automatic collection off for the block (as it was found after it)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def collect_young() -> None:
    """Collect what the last run left in reference cycles."""
    gc.collect(YOUNG)
