"""Every error the library raises on purpose, in one hierarchy.

Validation errors are raised by the `Daemons.add_*` calls, before anything
runs; each names the entry and says what is wrong with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from statemachines import IllegalTransition

__all__ = (
    "ConfigError",
    "DuplicateIdError",
    "GaveUpError",
    "HealthDaemonsError",
    "IllegalTransition",
    "InvalidEntryError",
    "InvalidIdError",
    "NotReadyError",
    "SystemTerminatedError",
    "SystemTerminatingError",
    "UnknownDependencyError",
    "ValidationError",
    "WaitTimeoutError",
)


class HealthDaemonsError(Exception):
    """Base class of the library's errors. `entry` is the entry concerned, if one is."""

    def __init__(self, message: str, *, entry: str | None = None) -> None:
        super().__init__(message)
        self.entry = entry


class ValidationError(HealthDaemonsError):
    """Raised by `Daemons.add_*` when an entry cannot be added; nothing was changed."""


class InvalidIdError(ValidationError):
    """Raised when an id is empty or not of the form `^[a-z0-9]+(-[a-z0-9]+)*$`."""


class DuplicateIdError(ValidationError):
    """Raised when an id is already used by an earlier entry."""


class UnknownDependencyError(ValidationError):
    """Raised when `requires` names an id that is not an earlier entry.

    Dependencies must be added first, which is also why a system can never
    contain a cycle. `missing` is the unknown id; `suggestion` the closest
    known id, if any is close.
    """

    def __init__(self, message: str, *, entry: str, missing: str, suggestion: str | None) -> None:
        super().__init__(message, entry=entry)
        self.missing = missing
        self.suggestion = suggestion


class InvalidEntryError(ValidationError):
    """Raised when an entry's options are wrong: a daemon without `ready`, a
    negative timeout or grace period, a non-callable check, and the like."""


class NotReadyError(HealthDaemonsError):
    """Base of the errors raised when a system did not become ready.

    `not_ready` lists the ids of the entries that were not ready; `reasons`
    says why, by id: the entry's state and its last health message
    (`starting: connection refused`, `failing: gave up after 3 restarts`,
    `waiting for Database`). The message ends with one line per entry.
    """

    def __init__(
        self, message: str, *, not_ready: Sequence[str], reasons: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.not_ready = tuple(not_ready)
        self.reasons: Mapping[str, str] = dict(reasons or {})


class WaitTimeoutError(NotReadyError, TimeoutError):
    """Raised by `wait_ready` and `run_until_success` when the timeout ran out:
    `Timed out waiting for db, web`, then a line per entry with its reason."""


class GaveUpError(NotReadyError):
    """Raised by `wait_ready` and `run_until_success` as soon as an entry has
    given up (reached its `max_restarts`), without waiting for the timeout:
    that entry stays `failing` and its dependents `waiting` until `term()`.
    `gave_up` lists the ids of the entries that gave up."""

    def __init__(
        self,
        message: str,
        *,
        not_ready: Sequence[str],
        reasons: Mapping[str, str] | None = None,
        gave_up: Sequence[str],
    ) -> None:
        super().__init__(message, not_ready=not_ready, reasons=reasons)
        self.gave_up = tuple(gave_up)


class SystemTerminatedError(NotReadyError):
    """Raised by `wait_ready` when the system was terminated while waiting."""


class SystemTerminatingError(HealthDaemonsError):
    """Raised by `RunningDaemons.stop`, `start` and `restart` called once `term()`
    has begun (docs/spec.md section 10 calls it `SystemTerminating`), and by a
    `restart` still waiting for its launch when `term()` overrides it. `entry`
    is the entry the action was for."""


class ConfigError(ValidationError):
    """Raised by `load_config` for a bad config file; the message names the file
    and the TOML key path: `app.toml: services.web.requires: unknown service 'dbb'`."""
