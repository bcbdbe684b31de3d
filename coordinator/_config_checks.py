"""How a service of a config file shows it is ready (`[services.ID.ready]`)
and alive (`[services.ID.liveness]`): the checks the tables describe.
"""

from __future__ import annotations

import functools
import re
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import cast

from statemachines import EntryKind

from ._announced import Stream, stream_problem
from ._command import Command
from ._config_table import Problem, Table, key_path
from ._defaults import (
    CHECK_TIMEOUT,
    GRACE_PERIOD,
    LIVENESS_FAILURES,
    LIVENESS_INTERVAL,
    LIVENESS_TIMEOUT,
    READY_TIMEOUT,
    READY_TIMEOUT_MARGIN,
    SCRIPT_TIMEOUT,
)
from ._ready import CheckFn, Liveness, Ready
from ._trigger_steps import ResultGetter, Trigger, advance_steps, close_steps
from ._urls import url_problem
from .checks import check_port_listening, check_web_url, log_line, run_health_script, sd_notify
from .triggers import change_on_first_success, cooldown_trigger, default_trigger

__all__ = ["read_liveness", "read_ready"]

_SOURCES = ("port", "url", "script", "log_line", "notify")
_POLLED = ("port", "url", "script")
_READY_KEYS = ("display", *_SOURCES, "grace_period", "timeout", "interval", "stream", "owned")
_LIVENESS_KEYS = (*_POLLED, "interval", "timeout", "failures", "owned")


def read_liveness(table: Table, base: Path, process: Command) -> tuple[Liveness, Command | None]:
    """`[services.ID.liveness]`: a polled check, as in `ready`, and when to act on it."""
    table.only(_LIVENESS_KEYS)
    given = [s for s in _POLLED if table.has(s)]
    if len(given) != 1:
        raise Problem(
            f"{key_path(*table.path)}: give exactly one of {', '.join(_POLLED)} "
            f"(got {', '.join(given) or 'none'})",
            table.entry,
        )
    default_timeout = SCRIPT_TIMEOUT if given[0] == "script" else LIVENESS_TIMEOUT
    timeout = table.option("timeout", default_timeout)
    fn, script = _read_source(table, given[0], timeout, base, process)
    failures = table.integer("failures")
    liveness = Liveness(
        fn,
        interval=table.option("interval", LIVENESS_INTERVAL),
        # The check's own timeout ends it first, with its own message.
        timeout=timeout + READY_TIMEOUT_MARGIN,
        failures=LIVENESS_FAILURES if failures is None else failures,
    )
    return liveness, script


def read_ready(
    table: Table, kind: EntryKind, base: Path, process: Command | None
) -> tuple[Ready, Command | None]:
    """`[services.ID.ready]`. A `script` runs with the cwd, env and user of the
    service's `process`; for a check (no process), in the file's directory `base`."""
    table.only(_READY_KEYS)
    given = [s for s in _SOURCES if table.has(s) and table.values[s] is not False]
    if len(given) != 1:
        raise Problem(
            f"{key_path(*table.path)}: give exactly one of {', '.join(_SOURCES)} "
            f"(got {', '.join(given) or 'none'})",
            table.entry,
        )
    source = given[0]
    if kind is EntryKind.CHECK and source not in _POLLED:
        raise table.problem(source, "not allowed for a check (it runs no process to announce it)")
    for name in ("timeout", "interval"):
        if table.has(name) and source not in _POLLED:
            raise table.problem(name, "only with port, url or script")
    if table.has("stream") and source != "log_line":
        raise table.problem("stream", "only with log_line")
    display = table.string("display") or table.entry
    grace_period = table.option("grace_period", GRACE_PERIOD)
    timeout = table.option("timeout", SCRIPT_TIMEOUT if source == "script" else CHECK_TIMEOUT)
    fn, script = _read_source(table, source, timeout, base, process)
    trigger = None
    if table.has("interval"):
        interval = table.option("interval", 0.0)
        # As by default until the first success, then every `interval` seconds.
        trigger = change_on_first_success(_later_steps(default_trigger), cooldown_trigger(interval))
    # The check's own timeout ends it first, with its own message; Ready's
    # bound stays a backstop above it, as for the library's built-in checks.
    backstop = max(READY_TIMEOUT, timeout + READY_TIMEOUT_MARGIN)
    return Ready(display, fn, grace_period, trigger, timeout=backstop), script


def _later_steps(trigger: Trigger) -> Trigger:
    """`trigger` without its first step, which comes at once: `change_on_first_success`
    has just checked at once itself, so a second check at once would be wasted."""

    async def steps(last_result: ResultGetter) -> AsyncGenerator[None]:
        inner = trigger(last_result)
        try:
            if await advance_steps(inner):
                while await advance_steps(inner):
                    yield
        finally:
            await close_steps(inner)

    return steps


def _read_source(
    table: Table, source: str, timeout: float, base: Path, process: Command | None
) -> tuple[CheckFn, Command | None]:
    """The check, and the command it runs (for a `script`)."""
    # A port or a local URL must be answered by the service's own processes.
    if table.has("owned") and process is None:
        raise table.problem("owned", "not allowed for a check (it runs no process)")
    if table.has("owned") and source not in ("port", "url"):
        raise table.problem("owned", "only with port or url")
    owned = table.boolean("owned", True) and process is not None
    if source == "port":
        port = table.integer("port")
        assert port is not None
        return functools.partial(check_port_listening, port, timeout=timeout, owned=owned), None
    if source == "url":
        url = table.string("url")
        assert url is not None
        _check_url(table, url)
        return functools.partial(check_web_url, url, timeout=timeout, owned=owned), None
    if source == "script":
        script = table.command("script")
        assert script is not None
        if process is None:
            runner = Command(script, cwd=base)
        else:
            runner = Command(script, env=process.env, cwd=process.cwd, user=process.user)
        return functools.partial(run_health_script, runner, timeout), runner
    if source == "log_line":
        pattern = table.string("log_line")
        assert pattern is not None
        try:
            re.compile(pattern)
        except re.error as error:
            raise table.problem("log_line", f"invalid regular expression: {error}") from None
        return log_line(pattern, stream=_read_stream(table)), None
    table.boolean("notify", True)  # counted as given unless false: only its type is left
    return sd_notify(), None


def _read_stream(table: Table) -> Stream:
    stream = table.string("stream") or "both"
    problem = stream_problem(stream)
    if problem is not None:
        raise table.problem("stream", problem)
    return cast(Stream, stream)


def _check_url(table: Table, url: str) -> None:
    problem = url_problem(url)
    if problem is not None:
        raise table.problem("url", problem)
