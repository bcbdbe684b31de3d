"""One colour per lifecycle state, shared by every drawing.

Chosen to stay apart for the common colour-vision deficiencies (blue/orange
rather than red/green alone) and to keep black text readable on each.
"""

from __future__ import annotations

from statemachines import LifecycleState

__all__ = ["STATE_COLOURS", "STATE_TEXT"]

STATE_COLOURS: dict[LifecycleState, str] = {
    LifecycleState.WAITING: "#e0e0e0",
    LifecycleState.STARTING: "#9ecae1",
    LifecycleState.READY: "#74c476",
    LifecycleState.FAILING: "#fd8d3c",
    LifecycleState.STOPPING: "#fdd835",
    LifecycleState.STOPPED: "#757575",
}
STATE_TEXT: dict[LifecycleState, str] = {
    state: "#ffffff" if state is LifecycleState.STOPPED else "#000000" for state in LifecycleState
}
