"""The fidelity report of an export: for each guarantee of docs/spec.md,
whether the target keeps it, approximates it (and how) or loses it, for
this system; then what happened to each service's settings. Printed by
every export and written as a comment at the top of its output.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = ["GUARANTEES", "Fidelity", "FidelityReport", "Kept", "ServiceNote", "guarantees"]


class Fidelity(Enum):
    KEPT = "kept"
    APPROXIMATED = "approximated"
    LOST = "lost"


GUARANTEES: tuple[tuple[str, str], ...] = (
    ("start-gated", "start gated on health (docs/spec.md section 4, Start)"),
    ("lost-dependency", "dependents stopped when a dependency is lost (section 4)"),
    ("restart-after", "dependents restarted once it is ready again (section 4)"),
    ("ordered-shutdown", "ordered shutdown, dependents first (section 6)"),
    ("critical-path", "critical-path shutdown, no rounds (section 6)"),
    ("sigterm-sigkill", "stop signal, then SIGKILL to the whole group (section 6)"),
    ("no-orphans", "no orphans: nothing the system started outlives it (section 8.4)"),
    ("backoff", "restart backoff 0, 1, 2, 4 ... 30 s, max_restarts (section 4)"),
)
"""Each guarantee's key and its line in the report, in the report's order."""


@dataclass(frozen=True, slots=True)
class Kept:
    """One guarantee for one target and system."""

    guarantee: str
    """A key of `GUARANTEES`."""
    fidelity: Fidelity
    how: str
    """One sentence: how it is kept, approximated, or why it is lost."""


@dataclass(frozen=True, slots=True)
class ServiceNote:
    """What became of one setting of one service (`api`, `ready.log_line`, ...)."""

    service: str
    key: str
    fidelity: Fidelity
    how: str


@dataclass(frozen=True, slots=True)
class FidelityReport:
    target: str
    """`docker compose`, `Kubernetes`, `Kubernetes, one pod`."""
    source: str
    guarantees: tuple[Kept, ...]
    """One per key of `GUARANTEES`, in that order."""
    notes: tuple[ServiceNote, ...] = ()

    def __post_init__(self) -> None:
        keys = [kept.guarantee for kept in self.guarantees]
        assert keys == [key for key, _ in GUARANTEES], keys

    def lines(self) -> list[str]:
        """The report as text lines (no trailing spaces, no newlines)."""
        titles = dict(GUARANTEES)
        counts = ", ".join(f"{self._count(fidelity)} {fidelity.value}" for fidelity in Fidelity)
        lines = [f"Fidelity of {self.source} exported to {self.target} ({counts}):"]
        for kept in self.guarantees:
            lines.append(f"  {kept.fidelity.value:<12} {titles[kept.guarantee]}")
            lines.extend(_wrapped(kept.how, "      "))
        if self.notes:
            lines.append("Services:")
            for note in self.notes:
                head = f"{note.service}.{note.key}: {note.fidelity.value}: {note.how}"
                lines.extend(_wrapped(head, "      ", first="  "))
        return lines

    def text(self) -> str:
        return "\n".join(self.lines()) + "\n"

    def comment(self) -> str:
        """The report as `#` comment lines, for the top of a YAML file."""
        return "".join(f"# {line}".rstrip() + "\n" for line in self.lines())

    def _count(self, fidelity: Fidelity) -> int:
        return sum(1 for kept in self.guarantees if kept.fidelity is fidelity)


def _wrapped(text: str, indent: str, *, first: str | None = None, width: int = 88) -> list[str]:
    """`text` in lines of at most `width` characters (words never split)."""
    lines: list[str] = []
    line = indent if first is None else first
    start = len(line)
    for word in text.split():
        if len(line) > start and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = indent
            start = len(line)
        line += (" " if len(line) > start else "") + word
    lines.append(line)
    return lines


def guarantees(**how: tuple[Fidelity, str]) -> tuple[Kept, ...]:
    """The report's guarantees from keyword arguments (`start_gated=(KEPT, "...")`),
    one per key of `GUARANTEES`: a missing one is a bug of the exporter."""
    return tuple(Kept(key, *how[key.replace("-", "_")]) for key, _ in GUARANTEES)
