"""Lifecycle state machines: the states, the transition table (data) and its guards.

This package imports neither `coordinator` nor `viz`.
"""

from ._lifecycle import ACTIVE_STATES as ACTIVE_STATES
from ._lifecycle import RUNNING_STATES as RUNNING_STATES
from ._lifecycle import TRANSITIONS as TRANSITIONS
from ._lifecycle import EntryKind as EntryKind
from ._lifecycle import Guard as Guard
from ._lifecycle import IllegalTransition as IllegalTransition
from ._lifecycle import Lifecycle as Lifecycle
from ._lifecycle import LifecycleEvent as LifecycleEvent
from ._lifecycle import LifecycleState as LifecycleState
from ._lifecycle import Transition as Transition
from ._lifecycle import fire as fire
from ._lifecycle import new_machine as new_machine
from ._lifecycle import transitions_for as transitions_for

__all__ = (
    "ACTIVE_STATES",
    "RUNNING_STATES",
    "TRANSITIONS",
    "EntryKind",
    "Guard",
    "IllegalTransition",
    "Lifecycle",
    "LifecycleEvent",
    "LifecycleState",
    "Transition",
    "fire",
    "new_machine",
    "transitions_for",
)
