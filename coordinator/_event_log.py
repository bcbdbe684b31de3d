"""What a running system tells the world: health reports, events, subscribers.

The event log decides nothing: it tells the host, the history, the
subscribers and whoever waits in `wait_until` what happened. The one thing
it hands back is an exception of user code that ends the system: to the
`stop_for` it was built with (the coordinator's `_stop_for`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from statemachines import LifecycleState

from ._entry import Entry
from ._events import ErrorReported, Event, HealthReported
from ._fatal import is_fatal
from ._host import Host, append_bounded
from ._results import HealthCheckResult, HealthStatus

__all__ = ["EventLog", "StopFor"]


class StopFor(Protocol):
    """Ends the system for an exception of user code (`RunningDaemons._stop_for`)."""

    def __call__(self, error: BaseException, *, in_step: bool) -> None: ...


class EventLog:
    """The history, the subscribers and the host of one running system."""

    __slots__ = (
        "_changed",
        "_finished",
        "_history_limit",
        "_host",
        "_stop_for",
        "_subscribers",
        "dropped_events",
        "history",
        "history_dropped",
    )

    def __init__(self, host: Host, history_limit: int | None, stop_for: StopFor) -> None:
        self._host = host
        self.history: list[Event] = []
        """The latest `history_limit` events, in order (every event if `None`)."""
        self.history_dropped = 0
        """The oldest events `history` let go, to keep within its limit."""
        self.dropped_events = 0
        """Events lost by subscribers that fell behind."""
        self._history_limit = history_limit
        self._stop_for = stop_for
        self._finished = False
        self._changed: anyio.Event | None = None
        self._subscribers: list[MemoryObjectSendStream[Event]] = []

    @property
    def host(self) -> Host:
        return self._host

    @property
    def finished(self) -> bool:
        """Whether the system has stopped for good: no step changes it any more."""
        return self._finished

    def finish(self) -> None:
        self._finished = True

    def subscribe(self, max_buffer_size: float) -> MemoryObjectReceiveStream[Event]:
        send, receive = anyio.create_memory_object_stream[Event](max_buffer_size)
        if self._finished:
            send.close()
        else:
            self._subscribers.append(send)
        return receive

    def end_streams(self) -> None:
        """The system's tasks are all gone: end the subscribers' streams."""
        for send in self._subscribers:
            send.close()
        self._subscribers.clear()

    async def wait_until(self, condition: Callable[[], bool], timeout: float | None) -> bool:
        """Wait until `condition()` is true, evaluating it after each `notify()`."""
        with anyio.move_on_after(timeout):
            while not condition():
                if self._changed is None:
                    self._changed = anyio.Event()
                await self._changed.wait()
            return True
        return False

    def notify(self) -> None:
        """Something changed (an event, or the end of a step): wake the waiters."""
        # Waiters create the event; a step nobody waits for allocates nothing.
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    def report(self, entry: Entry, raw: HealthCheckResult, soften: bool = True) -> None:
        """The entry's check said `raw`; a failure within the grace period is
        reported as starting (unless not `soften`). Only changes are reported."""
        reported = raw
        if soften and raw.result is HealthStatus.FAILURE and not entry.grace_expired():
            reported = HealthCheckResult.starting(raw.message)
        if reported == entry.health:
            return
        entry.health = reported
        report = HealthReported(
            anyio.current_time(),
            entry.spec.id,
            entry.spec.display,
            reported.result,
            reported.message,
        )
        self.record(report)
        if entry.spec.display is not None:
            try:
                self._host.set_health(report)
            except Exception as error:
                self.error(entry.spec.id, f"host.set_health failed: {error!r}")
            except BaseException as error:
                if not is_fatal(error):
                    raise
                self.fatal(entry.spec.id, "host.set_health", error, in_step=True)

    def report_waiting(self, entry: Entry) -> None:
        pending = ", ".join(
            f"{d.spec.display} (stopped)" if d.on_hold else d.spec.display
            for d in entry.dependencies
            if d.state is not LifecycleState.READY and d.spec.display is not None
        )
        self.report(entry, HealthCheckResult.waiting(pending or None))

    def record(self, event: Event) -> None:
        self._keep(event)
        try:
            self._host.record(event)
        except Exception as error:
            self._keep(ErrorReported(event.at, event.entry, f"host.record failed: {error!r}"))
        except BaseException as error:
            if not is_fatal(error):
                raise
            # Not through the host again: it would raise again.
            self._keep(ErrorReported(event.at, event.entry, _fatal_message("host.record", error)))
            self._stop_for(error, in_step=True)
        if self._subscribers:
            self._publish(event)
        self.notify()

    def error(self, entry_id: str | None, message: str) -> None:
        self.record(ErrorReported(anyio.current_time(), entry_id, message))

    def fatal(
        self, entry_id: str | None, source: str, error: BaseException, *, in_step: bool = False
    ) -> None:
        """User code (`source`) raised `error`, which ends the system (see `_fatal.py`)."""
        self.error(entry_id, _fatal_message(source, error))
        self._stop_for(error, in_step=in_step)

    def _keep(self, event: Event) -> None:
        self.history_dropped += append_bounded(self.history, event, self._history_limit)

    def _publish(self, event: Event) -> None:
        for send in list(self._subscribers):
            try:
                send.send_nowait(event)
            except anyio.WouldBlock:
                self.dropped_events += 1
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                self._subscribers.remove(send)


def _fatal_message(source: str, error: BaseException) -> str:
    return f"{source} raised {error!r}; stopping the system"
