"""`Daemons`: the immutable builder of a system, and its validation."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TypeVar, final, overload

from statemachines import EntryKind

from ._announced import Announcement
from ._command import Command
from ._command_process import CommandProcess
from ._defaults import OUTPUT_BYTES, OUTPUT_LINES
from ._host import DEFAULT_HISTORY_LIMIT, Host, MemoryHost
from ._options import (
    RESTART_POLICIES,
    DaemonOptions,
    EntrySpec,
    Exec,
    ExecFn,
    HealthCheckOptions,
    OneshotOptions,
    Options,
    RestartPolicy,
    requirement_closure,
)
from ._ready import Liveness, Ready
from ._running import RunningDaemons
from ._subcontainer import SubContainer
from ._supervisor import SpawnFunction
from ._validation import (
    closest,
    did_you_mean,
    entry_id_problem,
    option_problem,
    require_option,
)
from ._watch import Watch
from .errors import (
    DuplicateIdError,
    InvalidEntryError,
    InvalidIdError,
    UnknownDependencyError,
    ValidationError,
)

__all__ = ["Daemons"]

T = TypeVar("T", DaemonOptions, OneshotOptions, HealthCheckOptions)
SyncFactory = Callable[[], T | None]
AsyncFactory = Callable[[], Awaitable[T | None]]


class _Store:
    """The specs of a line of builders, shared while nobody branches off it.

    Each `Daemons` sees the first `length` specs. Adding to the newest
    builder appends in place (O(1)); adding to an older one copies its prefix
    first, so every builder still behaves as an immutable value.
    """

    __slots__ = ("positions", "specs")

    def __init__(self, specs: list[EntrySpec]) -> None:
        self.specs = specs
        self.positions = {spec.id: i for i, spec in enumerate(specs)}


@final
class Daemons:
    """A system under construction. Every `add_*` returns a new `Daemons`.

    Entries may only require entries added before them, so a system never
    has a cycle, and each mistake is reported by the call that makes it.
    """

    __slots__ = ("_host", "_length", "_orphan_guard", "_store")

    def __init__(self, host: Host | None, store: _Store, length: int, orphan_guard: bool) -> None:
        self._host = host
        self._store = store
        self._length = length
        self._orphan_guard = orphan_guard

    @classmethod
    def of(cls, *, host: Host | None = None, orphan_guard: bool = False) -> Daemons:
        """An empty system. `host` receives health reports and events; by
        default each build gets its own `MemoryHost`.

        `orphan_guard=True`: if the supervising Python process dies, even by
        SIGKILL, every process tree the system started is killed too: its
        commands, and the scripts its checks run with `run_health_script`.
        Each runs under the minimal init, whose guardian holds one end of a
        pipe and kills the process group when the pipe closes. Processes
        that your own code starts otherwise are not covered (see the guide).
        """
        _check_host(host)
        return cls(host, _Store([]), 0, orphan_guard)

    @property
    def host(self) -> Host | None:
        """The host given to `of()`, if any."""
        return self._host

    @property
    def entries(self) -> tuple[EntrySpec, ...]:
        return tuple(self._store.specs[: self._length])

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(spec.id for spec in self._store.specs[: self._length])

    def __len__(self) -> int:
        return self._length

    def __repr__(self) -> str:
        return f"<Daemons {', '.join(self.ids) or '(empty)'}>"

    @overload
    def add_daemon(
        self, id: str, options: AsyncFactory[DaemonOptions], /
    ) -> Awaitable[Daemons]: ...

    @overload
    def add_daemon(
        self, id: str, options: DaemonOptions | SyncFactory[DaemonOptions] | None, /
    ) -> Daemons: ...

    @overload
    def add_daemon(
        self,
        id: str,
        /,
        *,
        exec: Exec,
        ready: Ready,
        requires: Sequence[str] = (),
        max_restarts: int | None = None,
        subcontainer: SubContainer | None = None,
        restart: RestartPolicy = "always",
        start_timeout: float | None = None,
        liveness: Liveness | None = None,
        exit_on_failure: bool = False,
        watch: Watch | None = None,
    ) -> Daemons: ...

    def add_daemon(
        self,
        id: str,
        options: object = None,
        /,
        *,
        exec: Exec | None = None,
        ready: Ready | None = None,
        requires: Sequence[str] = (),
        max_restarts: int | None = None,
        subcontainer: SubContainer | None = None,
        restart: RestartPolicy = "always",
        start_timeout: float | None = None,
        liveness: Liveness | None = None,
        exit_on_failure: bool = False,
        watch: Watch | None = None,
    ) -> Daemons | Awaitable[Daemons]:
        """A long-running process, ready when `ready.fn` succeeds.

        Give the options as keywords, as a `DaemonOptions`, or as a factory
        (sync or async) returning one or `None` (`None` skips the entry).
        With `watch`, it is restarted when its files change (see `Watch`).
        """
        if options is None and exec is None and ready is None:
            raise InvalidEntryError(f"daemon {id!r} needs exec= and ready=", entry=id)
        if options is None:
            options = DaemonOptions(
                exec,  # type: ignore[arg-type]
                ready,  # type: ignore[arg-type]
                requires,
                max_restarts,
                subcontainer,
                restart,
                start_timeout,
                liveness,
                exit_on_failure,
                watch,
            )
        return self._add(id, EntryKind.DAEMON, DaemonOptions, options)

    @overload
    def add_oneshot(
        self, id: str, options: AsyncFactory[OneshotOptions], /
    ) -> Awaitable[Daemons]: ...

    @overload
    def add_oneshot(
        self, id: str, options: OneshotOptions | SyncFactory[OneshotOptions] | None, /
    ) -> Daemons: ...

    @overload
    def add_oneshot(
        self,
        id: str,
        /,
        *,
        exec: Exec,
        requires: Sequence[str] = (),
        max_restarts: int | None = None,
        subcontainer: SubContainer | None = None,
        once: bool = False,
        exit_on_failure: bool = False,
        watch: Watch | None = None,
    ) -> Daemons: ...

    def add_oneshot(
        self,
        id: str,
        options: object = None,
        /,
        *,
        exec: Exec | None = None,
        requires: Sequence[str] = (),
        max_restarts: int | None = None,
        subcontainer: SubContainer | None = None,
        once: bool = False,
        exit_on_failure: bool = False,
        watch: Watch | None = None,
    ) -> Daemons | Awaitable[Daemons]:
        """A task run once; ready (for good) when it exits successfully, retried
        with backoff when it crashes; with `watch`, run again when its files change."""
        if options is None and exec is None:
            raise InvalidEntryError(f"oneshot {id!r} needs exec=", entry=id)
        if options is None:
            options = OneshotOptions(
                exec,  # type: ignore[arg-type]
                requires,
                max_restarts,
                subcontainer,
                once,
                exit_on_failure,
                watch,
            )
        return self._add(id, EntryKind.ONESHOT, OneshotOptions, options)

    @overload
    def add_health_check(
        self, id: str, options: AsyncFactory[HealthCheckOptions], /
    ) -> Awaitable[Daemons]: ...

    @overload
    def add_health_check(
        self, id: str, options: HealthCheckOptions | SyncFactory[HealthCheckOptions] | None, /
    ) -> Daemons: ...

    @overload
    def add_health_check(
        self, id: str, /, *, ready: Ready, requires: Sequence[str] = ()
    ) -> Daemons: ...

    def add_health_check(
        self,
        id: str,
        options: object = None,
        /,
        *,
        ready: Ready | None = None,
        requires: Sequence[str] = (),
    ) -> Daemons | Awaitable[Daemons]:
        """Nothing runs; ready when `ready.fn` succeeds (a gate for dependents)."""
        if options is None and ready is None:
            raise InvalidEntryError(f"health check {id!r} needs ready=", entry=id)
        if options is None:
            options = HealthCheckOptions(ready, requires)  # type: ignore[arg-type]
        return self._add(id, EntryKind.CHECK, HealthCheckOptions, options)

    def select(self, ids: Iterable[str], /, *, dependencies: bool = True) -> Daemons:
        """A new `Daemons` of the entries `ids` and, with `dependencies`
        (the default), everything they require, directly or not; the others
        are left out. The entries keep their order and options.

        `dependencies=False` keeps only the entries named, as
        `docker compose up --no-deps` does: an entry's requirements that are
        left out are dropped, so it starts without waiting for them (those
        among the named entries are kept). `healthdaemons up FILE ID...`
        and its `--no-deps` are this, on a config file.

        Raises `ValidationError` naming an id that is not in the system
        (with the closest one), and `TypeError` for a lone string.
        """
        if isinstance(ids, str):
            raise TypeError(f"ids must be a list of ids, not the string {ids!r}")
        named = list(ids)
        for id in named:
            if not isinstance(id, str) or self._position(id) is None:
                message = f"cannot select {id!r}: no such entry in this system"
                suggestion = did_you_mean(closest(str(id), self.ids))
                raise ValidationError(message + suggestion, entry=str(id))
        specs = self._store.specs
        if dependencies:
            kept = requirement_closure(named, lambda id: specs[self._store.positions[id]].requires)
        else:
            kept = dict.fromkeys(named)
        selected = [_within(spec, kept) for spec in self.entries if spec.id in kept]
        return Daemons(self._host, _Store(selected), len(selected), self._orphan_guard)

    def build(
        self,
        *,
        history_limit: int | None = DEFAULT_HISTORY_LIMIT,
        host: Host | None = None,
        spawn: SpawnFunction = CommandProcess.start,
        output_lines: int | None = OUTPUT_LINES,
        output_bytes: int | None = OUTPUT_BYTES,
        exit_code_from: str | None = None,
    ) -> RunningDaemons:
        """The system, ready to run: `async with system.build() as running: ...`.

        `running.history` keeps the latest `history_limit` events (10,000 by
        default; `None` keeps every event), dropping the oldest, and so does
        the default host; `statistics()` counts what was dropped. Raises
        `ValueError` for a limit that is not an int >= 0 or `None`.

        `host` receives this build's health reports and events, instead of
        the host given to `of()` (by default, a fresh `MemoryHost`). `spawn`
        starts each command: real processes by default; `coordinator.testing`
        passes a simulation of its own (see `SpawnFunction`). An exception
        it raises, or a result that is not a `ProcessHandle`, means that
        command could not start (an `ErrorReported` event), as a
        `SpawnError` does. Raises `TypeError` for a `host` that is not a
        `Host` or a `spawn` that cannot be called.

        Each entry keeps its latest `output_lines` lines of output (1,000 by
        default), at most `output_bytes` bytes of them (1 MiB), for
        `running.output()` and `running.follow_output()`; `None` lifts a
        bound. `ValueError` for a bound that is not an int >= 0 or `None`.

        `exit_code_from`: the id of a daemon or oneshot whose first exit ends
        the run, whatever its code (a test runner that is expected to
        finish): the system shuts down in order, and `running.ended_by` holds
        the code. `ValueError` for an id that is not such an entry.
        """
        require_option("history_limit", history_limit)
        require_option("output_lines", output_lines)
        require_option("output_bytes", output_bytes)
        _check_host(host)
        if not callable(spawn):
            raise TypeError(
                "spawn must be an async function (command, settings) -> ProcessHandle, "
                f"not {type(spawn).__name__}"
            )
        if exit_code_from is not None:
            self._check_exit_code_from(exit_code_from)
        if host is None:
            # (Not `or`: a host may well be empty, as a list of events is.)
            host = self._host if self._host is not None else MemoryHost(history_limit)
        return RunningDaemons(
            self.entries,
            host,
            orphan_guard=self._orphan_guard,
            history_limit=history_limit,
            output_lines=output_lines,
            output_bytes=output_bytes,
            spawn=spawn,
            exit_code_from=exit_code_from,
        )

    def _check_exit_code_from(self, id: str) -> None:
        position = self._position(id) if isinstance(id, str) else None
        if position is None:
            suggestion = closest(str(id), self.ids)
            raise ValueError(f"exit_code_from: no entry {id!r}" + did_you_mean(suggestion))
        if self._store.specs[position].kind is EntryKind.CHECK:
            raise ValueError(f"exit_code_from: {id!r} is a check, which runs no process to exit")

    async def run_until_success(self, timeout: float | None = None) -> None:
        """Build, wait until every entry is ready at the same time, then terminate.

        On timeout it terminates and raises `WaitTimeoutError` (a
        `TimeoutError`): `Timed out waiting for db, web`.
        """
        async with self.build() as running:
            await running.wait_ready(timeout)

    # Adding and validating.

    def _add(
        self, id: str, kind: EntryKind, expected: type[Options], options: object
    ) -> Daemons | Awaitable[Daemons]:
        self._check_id(id)
        if callable(options) and not isinstance(options, Options):
            produced = options()
            if inspect.isawaitable(produced):
                return self._add_later(id, kind, expected, produced)
            options = produced
        return self._add_now(id, kind, expected, options)

    async def _add_later(
        self, id: str, kind: EntryKind, expected: type[Options], produced: Awaitable[object]
    ) -> Daemons:
        return self._add_now(id, kind, expected, await produced)

    def _add_now(
        self, id: str, kind: EntryKind, expected: type[Options], options: object
    ) -> Daemons:
        if options is None:
            return self
        if not isinstance(options, expected):
            raise InvalidEntryError(
                f"{kind.value} {id!r}: options must be {expected.__name__}, "
                f"not {type(options).__name__}",
                entry=id,
            )
        return self._append(self._spec(id, kind, options))

    def _check_id(self, id: object) -> None:
        problem = entry_id_problem(id)
        if problem is not None:
            raise InvalidIdError(f"Invalid id {id!r}: {problem}", entry=str(id))
        assert isinstance(id, str)  # the rule takes only strings
        if self._position(id) is not None:
            raise DuplicateIdError(f"The id '{id}' is already used", entry=id)

    def _spec(self, id: str, kind: EntryKind, options: Options) -> EntrySpec:
        ready = getattr(options, "ready", None)
        exec_ = getattr(options, "exec", None)
        max_restarts = getattr(options, "max_restarts", None)
        subcontainer = getattr(options, "subcontainer", None)
        problems: list[str | None] = []
        if kind is not EntryKind.ONESHOT:
            if not isinstance(ready, Ready):
                problems.append(f"ready must be a Ready, not {type(ready).__name__}")
            else:
                problems.append(ready.problem())
                if kind is EntryKind.CHECK and isinstance(ready.fn, Announcement):
                    problems.append(
                        f"ready.fn waits for {ready.fn.waiting_for}, "
                        "but a health check runs no process to announce it"
                    )
        if kind is not EntryKind.CHECK:
            if not isinstance(exec_, ExecFn | Command):
                problems.append(f"exec must be a Command or an ExecFn, not {type(exec_).__name__}")
            else:
                problems.append(exec_.problem())
        if subcontainer is not None and not isinstance(subcontainer, SubContainer):
            problems.append(
                f"subcontainer must be a SubContainer, not {type(subcontainer).__name__}"
            )
        problem = option_problem("max_restarts", max_restarts)
        if problem is not None:
            problems.append(f"max_restarts {problem}")
        watch = getattr(options, "watch", None)
        if watch is not None:
            if not isinstance(watch, Watch):
                problems.append(f"watch must be a Watch, not {type(watch).__name__}")
            else:
                problems.append(watch.problem())
        for problem in problems:
            if problem is not None:
                raise InvalidEntryError(f"{kind.value} {id!r}: {problem}", entry=id)
        problem = _policy_problem(options)
        if problem is not None:
            raise InvalidEntryError(f"{kind.value} {id!r}: {problem}", entry=id)
        requires = self._requires(id, options.requires)
        return EntrySpec(
            id,
            kind,
            requires,
            ready,
            exec_,
            max_restarts,
            subcontainer,
            restart=getattr(options, "restart", "always"),
            start_timeout=getattr(options, "start_timeout", None),
            liveness=getattr(options, "liveness", None),
            exit_on_failure=getattr(options, "exit_on_failure", False),
            once=getattr(options, "once", False),
            watch=watch,
        )

    def _requires(self, id: str, requires: object) -> tuple[str, ...]:
        if isinstance(requires, str) or not isinstance(requires, Sequence | set | frozenset):
            raise InvalidEntryError(
                f"{id!r}: requires must be a list of ids, not {type(requires).__name__}", entry=id
            )
        result: list[str] = []
        for required in requires:
            if required == id:
                raise UnknownDependencyError(
                    f"{id!r} cannot require itself", entry=id, missing=id, suggestion=None
                )
            if not isinstance(required, str) or self._position(required) is None:
                raise self._unknown(id, required)
            if required not in result:
                result.append(required)
        return tuple(result)

    def _unknown(self, id: str, required: object) -> UnknownDependencyError:
        suggestion = closest(str(required), self.ids)
        message = f"{id!r} requires {required!r}, which is not an earlier entry"
        message += did_you_mean(suggestion)
        return UnknownDependencyError(
            message, entry=id, missing=str(required), suggestion=suggestion
        )

    def _position(self, id: str) -> int | None:
        position = self._store.positions.get(id)
        if position is None or position >= self._length:
            return None
        return position

    def _append(self, spec: EntrySpec) -> Daemons:
        store = self._store
        if len(store.specs) != self._length:
            store = _Store(store.specs[: self._length])
        store.specs.append(spec)
        store.positions[spec.id] = self._length
        return Daemons(self._host, store, self._length + 1, self._orphan_guard)


def _within(spec: EntrySpec, kept: dict[str, None]) -> EntrySpec:
    """`spec`, requiring only entries that are `kept`."""
    requires = tuple(required for required in spec.requires if required in kept)
    return spec if requires == spec.requires else dataclasses.replace(spec, requires=requires)


def _policy_problem(options: Options) -> str | None:
    """What is wrong with the options that say how an entry runs and ends."""
    if isinstance(options, HealthCheckOptions):
        return None
    for name in ("exit_on_failure", *(("once",) if isinstance(options, OneshotOptions) else ())):
        if not isinstance(getattr(options, name), bool):
            return f"{name} must be a boolean, not {type(getattr(options, name)).__name__}"
    if isinstance(options, OneshotOptions):
        return None
    if options.restart not in RESTART_POLICIES:
        allowed = ", ".join(repr(policy) for policy in RESTART_POLICIES)
        return f"restart must be one of {allowed}, not {options.restart!r}"
    problem = option_problem("start_timeout", options.start_timeout)
    if problem is not None:
        return f"start_timeout {problem}"
    if options.liveness is not None:
        if not isinstance(options.liveness, Liveness):
            return f"liveness must be a Liveness, not {type(options.liveness).__name__}"
        problem = options.liveness.problem()
        if problem is not None:
            return problem
    if options.exit_on_failure and options.max_restarts is None and options.restart != "no":
        # Restarted for ever, it would never fail for good.
        return 'exit_on_failure needs max_restarts or restart="no"'
    return None


def _check_host(host: object) -> None:
    if host is not None and not isinstance(host, Host):
        raise TypeError(
            f"host must be a Host (with set_health and record methods), not {type(host).__name__}"
        )
