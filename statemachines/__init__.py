"""Lifecycle state machines: the states, the transition table and the
state-triggered rules (data), and their guards.

This package imports neither `coordinator` nor `viz`.
"""

from ._lifecycle import ACTIVE_STATES as ACTIVE_STATES
from ._lifecycle import RUNNING_STATES as RUNNING_STATES
from ._lifecycle import STATE_TRIGGERS as STATE_TRIGGERS
from ._lifecycle import TRANSITIONS as TRANSITIONS
from ._lifecycle import EntryKind as EntryKind
from ._lifecycle import Guard as Guard
from ._lifecycle import IllegalTransition as IllegalTransition
from ._lifecycle import Lifecycle as Lifecycle
from ._lifecycle import LifecycleEvent as LifecycleEvent
from ._lifecycle import LifecycleModel as LifecycleModel
from ._lifecycle import LifecycleState as LifecycleState
from ._lifecycle import StateTrigger as StateTrigger
from ._lifecycle import Transition as Transition
from ._lifecycle import fire as fire
from ._lifecycle import new_machine as new_machine
from ._lifecycle import shared_machine as shared_machine
from ._lifecycle import state_triggered_events as state_triggered_events
from ._lifecycle import state_triggers_for as state_triggers_for
from ._lifecycle import transitions_for as transitions_for

__all__ = (
    "ACTIVE_STATES",
    "RUNNING_STATES",
    "STATE_TRIGGERS",
    "TRANSITIONS",
    "EntryKind",
    "Guard",
    "IllegalTransition",
    "Lifecycle",
    "LifecycleEvent",
    "LifecycleModel",
    "LifecycleState",
    "StateTrigger",
    "Transition",
    "fire",
    "new_machine",
    "shared_machine",
    "state_triggered_events",
    "state_triggers_for",
    "transitions_for",
)
