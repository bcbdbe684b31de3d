"""What a running system tells the world: health reports, events, subscribers."""

from __future__ import annotations

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from statemachines import LifecycleState

from ._entry import Entry
from ._events import ErrorReported, Event, HealthReported
from ._fatal import is_fatal
from ._host import Host, append_bounded
from ._results import HealthCheckResult, HealthStatus

__all__ = ["EventRecorder"]


class EventRecorder:
    """Records events and reports health; the coordinator builds on it.

    Nothing here decides anything: it only tells the host, the history,
    the subscribers and whoever waits in `wait_until` what happened.
    """

    def __init__(self, host: Host, history_limit: int | None) -> None:
        self.host = host
        self.history: list[Event] = []
        """The latest `history_limit` events, in order (every event if `None`)."""
        self._history_limit = history_limit
        self._history_dropped = 0
        self._finished = False
        self._changed: anyio.Event | None = None
        self._subscribers: list[MemoryObjectSendStream[Event]] = []
        self._dropped_events = 0

    def subscribe(self, max_buffer_size: float = 1000) -> MemoryObjectReceiveStream[Event]:
        """A stream of the events from now on; it ends when the system has stopped.

        A subscriber that falls `max_buffer_size` events behind loses the
        newer ones (counted in `statistics().dropped_events`); the system
        never waits for a subscriber.
        """
        send, receive = anyio.create_memory_object_stream[Event](max_buffer_size)
        if self._finished:
            send.close()
        else:
            self._subscribers.append(send)
        return receive

    def _report(self, entry: Entry, raw: HealthCheckResult, soften: bool = True) -> None:
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
        self._record(report)
        if entry.spec.display is not None:
            try:
                self.host.set_health(report)
            except Exception as error:
                self._error(entry.spec.id, f"host.set_health failed: {error!r}")
            except BaseException as error:
                if not is_fatal(error):
                    raise
                self._fatal(entry.spec.id, "host.set_health", error, in_step=True)

    def _report_waiting(self, entry: Entry) -> None:
        pending = ", ".join(
            d.spec.display
            for d in entry.dependencies
            if d.state is not LifecycleState.READY and d.spec.display is not None
        )
        self._report(entry, HealthCheckResult.waiting(pending or None))

    def _record(self, event: Event) -> None:
        self._keep(event)
        try:
            self.host.record(event)
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
        self._notify()

    def _keep(self, event: Event) -> None:
        self._history_dropped += append_bounded(self.history, event, self._history_limit)

    def _publish(self, event: Event) -> None:
        for send in list(self._subscribers):
            try:
                send.send_nowait(event)
            except anyio.WouldBlock:
                self._dropped_events += 1
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                self._subscribers.remove(send)

    def _error(self, entry_id: str | None, message: str) -> None:
        self._record(ErrorReported(anyio.current_time(), entry_id, message))

    def _fatal(
        self, entry_id: str | None, source: str, error: BaseException, *, in_step: bool = False
    ) -> None:
        """User code (`source`) raised `error`, which ends the system (see `_fatal.py`)."""
        self._error(entry_id, _fatal_message(source, error))
        self._stop_for(error, in_step=in_step)

    def _stop_for(self, error: BaseException, *, in_step: bool) -> None:
        raise NotImplementedError  # the coordinator's rules

    def _notify(self) -> None:
        # Waiters create the event; a step nobody waits for allocates nothing.
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    def _close_subscribers(self) -> None:
        for send in self._subscribers:
            send.close()
        self._subscribers.clear()


def _fatal_message(source: str, error: BaseException) -> str:
    return f"{source} raised {error!r}; stopping the system"
