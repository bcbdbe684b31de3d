"""The `healthdaemons` application: the command line, `up` and its console,
and `ControlClient`, which sees and acts on a running `up` from elsewhere.

It is built on the library (`statemachines`, `coordinator`, `viz`) through
their public names; nothing in the library imports it. Importing it loads
neither the library nor rich: each command loads what it needs.
"""

from ._cli import main as main
from ._client import (
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
