"""The `healthdaemons` application: the command line, `up` and its console,
and `ControlClient`, which sees and acts on a running `up` from elsewhere.

It is built on the library (`statemachines`, `coordinator`, `viz`) through
their public names; nothing in the library imports it. Importing it loads
neither the library nor rich: each command loads what it needs.
"""

import sys

# httpx imports its own command line (click, rich, pygments: about 40 ms) on
# `import httpx` whenever click is installed. Nothing here uses it, and
# `healthdaemons ps` must start quickly: httpx then falls back to its stub.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

from ._cli import main as main  # noqa: E402 (after the line above)
from ._client import (  # noqa: E402
    ConnectionLostError,
    ControlClient,
    ControlError,
    EntryStatus,
    NoSystemError,
    OutputLine,
    Skipped,
    SupervisorStatus,
    TerminatingError,
    UnknownEntryError,
    WaitOutcome,
)

__all__ = (
    "ConnectionLostError",
    "ControlClient",
    "ControlError",
    "EntryStatus",
    "NoSystemError",
    "OutputLine",
    "Skipped",
    "SupervisorStatus",
    "TerminatingError",
    "UnknownEntryError",
    "WaitOutcome",
    "main",
)
