"""The `healthdaemons` application: the command line, `up` and its console.

It is built on the library (`statemachines`, `coordinator`, `viz`) through
their public names; nothing in the library imports it.
"""

from ._cli import main as main

__all__ = ("main",)
