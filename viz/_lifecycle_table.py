"""The lifecycle tables as text, for `healthdaemons table`: the transition
table of one kind of entry, then its state-triggered rules."""

from __future__ import annotations

from statemachines import EntryKind, state_triggers_for, transitions_for

__all__ = ["lifecycle_table"]


def lifecycle_table(kind: EntryKind) -> str:
    """The rows of `TRANSITIONS` and `STATE_TRIGGERS` that apply to `kind`, as aligned text."""
    rows = [
        (
            row.source.value,
            row.event.value,
            ", ".join([g.value for g in row.conditions] + [f"not {g.value}" for g in row.unless]),
            row.dest.value if row.dest else f"{row.source.value} (internal)",
        )
        for row in transitions_for(kind)
    ]
    guard_width = max(len(guards) for _, _, guards, _ in [("", "", "guard", ""), *rows]) + 2
    lines = [f"{'from':<10} {'event':<16} {'guard':<{guard_width}} to"]
    lines += [
        f"{source:<10} {event:<16} {guards:<{guard_width}} {dest}"
        for source, event, guards, dest in rows
    ]
    lines += [
        "",
        "state-triggered: the coordinator fires the event at every entry in the state;",
        "the rows above decide whether it is taken",
        f"{'in':<10} event",
    ]
    lines += [f"{rule.source.value:<10} {rule.event.value}" for rule in state_triggers_for(kind)]
    return "\n".join(lines) + "\n"
