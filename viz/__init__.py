"""Diagrams of lifecycles, systems and runs (drawn from `statemachines` and `coordinator`).

The drawing functions arrive with their own issue; this package exists now so
that the layering (statemachines -> coordinator -> viz) is fixed from the start.
"""

__all__: tuple[str, ...] = ()
