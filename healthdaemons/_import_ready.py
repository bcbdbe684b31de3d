"""Readiness for imported services: the honest default for a daemon whose
source says nothing (ready once started, as compose's `service_started`),
and the simpler source a common health script could become."""

from __future__ import annotations

import re
import signal

from ._import_model import Place
from ._toml_writer import Value

__all__ = [
    "NOT_A_STOP_SIGNAL",
    "STARTED",
    "STARTED_HOW",
    "script_hint",
    "script_text",
    "stop_signal_named",
]

STARTED: dict[str, Value] = {"script": ["true"]}
"""Ready as soon as the process has started: the script `true` passes at once."""
STARTED_HOW = (
    'ready as soon as it has started (ready.script = ["true"]), as a dependency\'s '
    "'started' condition; give it a real check (port, url or script) so that "
    "dependents wait for it"
)

_HTTP = r"(?P<url>https?://[^\s'\"]+)"
_HINTS = (
    (re.compile(r"\bcurl\b[^|;&]*?\s" + _HTTP), "url"),
    (re.compile(r"\bwget\b[^|;&]*?\s" + _HTTP), "url"),
    (re.compile(r"\b(?:nc|netcat)\s+-z\s+(?:localhost|127\.0\.0\.1)\s+(?P<port>\d+)\b"), "port"),
)


def script_text(script: str | list[str]) -> str:
    return script if isinstance(script, str) else " ".join(script)


def script_hint(script: str | list[str]) -> str | None:
    """A note on a health script that a `url` or `port` source could replace,
    or `None`. Only a hint: the script is kept, as it says exactly what the
    source meant (`curl -f` wants a status below 400; `url` takes below 500)."""
    text = re.sub(r"\s*\|\|\s*exit\s+1\s*$", "", script_text(script))
    if "&&" in text or "||" in text:
        return None
    for pattern, kind in _HINTS:
        match = pattern.search(text)
        if match is None:
            continue
        if kind == "url":
            return (
                f'ready.url = "{match["url"]}" would check it without the program '
                "(ready on any status below 500)"
            )
        return (
            f"ready.port = {match['port']} would check it without nc (and that the "
            "service's own processes hold the port)"
        )
    return None


# Refused as a stop signal here (docs/config.md, "Stop signal").
_NOT_STOP_SIGNALS = frozenset(
    {"SIGKILL", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGCONT"}
    | {"SIGCHLD", "SIGWINCH", "SIGURG"}
)
_REAL_TIME = re.compile(r"SIGRT(?:MIN\+\d+|MAX-\d+|MIN|MAX)")
NOT_A_STOP_SIGNAL = "not a signal that asks a process to end here: SIGTERM instead"


def stop_signal_named(place: Place, value: str | int, key: str) -> str | int | None:
    """A stop signal as this format writes it (`SIGQUIT`, a real-time signal's
    number), `None` for one this format refuses (SIGKILL, SIGSTOP, ...)."""
    if isinstance(value, int):
        try:
            name: str | int = signal.Signals(value).name
        except ValueError:
            if not signal.SIGRTMIN <= value <= signal.SIGRTMAX:
                raise place.problem(key, f"no signal has the number {value}") from None
            name = value
    else:
        name = value.upper() if value.upper().startswith("SIG") else "SIG" + value.upper()
        if not (_REAL_TIME.fullmatch(name) or isinstance(getattr(signal, name, None), int)):
            raise place.problem(key, f"unknown signal {value!r}")
    return None if name in _NOT_STOP_SIGNALS else name
