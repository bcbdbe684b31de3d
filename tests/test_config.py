"""Config files: `load_config` builds the system a TOML file describes, and
reports every mistake, before anything runs, as a `ConfigError` naming the
file and the key path. Nothing here runs a process."""

from __future__ import annotations

import errno
import functools
import itertools
import os
import re
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import NoReturn

import anyio
import pytest
import trio.testing

from coordinator import Command, Daemons, EntryKind, EntrySpec, HealthCheckResult, Ready
from coordinator._config import MAX_CONFIG_BYTES, describe_plan, load_config, start_layers
from coordinator.checks import (
    LogLineReadiness,
    NotifyReadiness,
    check_port_listening,
    check_web_url,
    run_health_script,
)
from coordinator.errors import ConfigError, ValidationError

from .test_config_container import CONTAINER_MESSAGES
from .test_config_variables import DOCUMENTED_MESSAGES
from .test_selection import DOCUMENTED as SELECTION_MESSAGES

EXAMPLE = """
orphan_guard = true

[services.api]
command = ["python3", "-m", "http.server", "8765"]
requires = ["migrate", "store"]
env = { APP_ENV = "dev", "MY VAR" = "x" }
cwd = "srv"
user = "www-data"
sigterm_timeout = 5
run_as_init = true
max_restarts = 3

[services.api.ready]
display = "API"
url = "http://127.0.0.1:8765/health"
grace_period = 2.5
timeout = 3
interval = 10

[services.worker]
command = "exec worker --queue jobs"
requires = ["migrate"]
ready = { log_line = 'listening on \\d+', stream = "stderr" }

[services.migrate]
kind = "oneshot"
command = "./migrate.sh"
requires = ["store"]
max_restarts = 0

[services.store]
command = ["redis-server", "--port", "6390"]
ready.port = 6390

[services.gate]
kind = "check"
requires = ["api"]
ready = { script = "./gate.sh" }

[services.notifier]
command = ["my-daemon"]
env = { LEVEL = "debug" }
ready = { notify = true, display = "Notifier" }
"""


def write(directory: Path, text: str, name: str = "app.toml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def entries(daemons: Daemons) -> dict[str, EntrySpec]:
    return {spec.id: spec for spec in daemons.entries}


def command(spec: EntrySpec) -> Command:
    assert isinstance(spec.exec, Command)
    return spec.exec


def check_fn(spec: EntrySpec) -> functools.partial[object]:
    assert spec.ready is not None
    assert isinstance(spec.ready.fn, functools.partial)
    return spec.ready.fn


# A good file


def test_the_example_builds_the_system_it_describes(tmp_path: Path) -> None:
    daemons = load_config(write(tmp_path, EXAMPLE))
    # Requirements first; file order among the others.
    assert daemons.ids == ("store", "migrate", "api", "worker", "gate", "notifier")
    assert daemons._orphan_guard is True
    specs = entries(daemons)
    assert [specs[i].kind for i in daemons.ids] == [
        EntryKind.DAEMON,
        EntryKind.ONESHOT,
        EntryKind.DAEMON,
        EntryKind.DAEMON,
        EntryKind.CHECK,
        EntryKind.DAEMON,
    ]

    api = specs["api"]
    assert api.requires == ("migrate", "store")
    assert api.max_restarts == 3
    assert command(api) == Command(
        ["python3", "-m", "http.server", "8765"],
        sigterm_timeout=5.0,
        run_as_init=True,
        env={"APP_ENV": "dev", "MY VAR": "x"},
        cwd=tmp_path / "srv",
        user="www-data",
    )
    assert api.ready is not None
    assert api.ready.display == "API"
    assert api.ready.grace_period == 2.5
    assert api.ready.trigger is not None
    fn = check_fn(api)
    assert fn.func is check_web_url
    assert fn.args == ("http://127.0.0.1:8765/health",)
    assert fn.keywords == {"timeout": 3.0, "owned": True}

    store = specs["store"]
    assert command(store) == Command(["redis-server", "--port", "6390"], cwd=tmp_path)
    assert store.max_restarts is None
    assert store.ready is not None
    assert store.ready.display == "store"  # the id by default
    assert store.ready.grace_period == 5.0
    assert store.ready.trigger is None  # the default trigger
    fn = check_fn(store)
    assert fn.func is check_port_listening
    assert fn.args == (6390,)
    assert fn.keywords == {"timeout": 1.0, "owned": True}

    migrate = specs["migrate"]
    assert migrate.ready is None
    assert migrate.max_restarts == 0
    assert command(migrate) == Command("./migrate.sh", cwd=tmp_path)

    worker = specs["worker"]
    assert command(worker).command == "exec worker --queue jobs"
    assert worker.ready is not None
    assert worker.ready.fn == LogLineReadiness(re.compile(r"listening on \d+"), "stderr")

    gate = specs["gate"]
    assert gate.exec is None
    assert gate.requires == ("api",)
    fn = check_fn(gate)
    assert fn.func is run_health_script
    # A check runs no process: its script runs in the file's directory.
    assert fn.args == (Command("./gate.sh", cwd=tmp_path), 30.0)

    notifier = specs["notifier"]
    assert notifier.ready is not None
    assert notifier.ready.display == "Notifier"
    assert isinstance(notifier.ready.fn, NotifyReadiness)


def test_a_script_runs_like_its_service(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [services.queue]
        command = "rabbitmq-server"
        cwd = "/srv/queue"
        env = { HOME = "/srv" }
        user = 1000
        ready = { script = ["rabbitmq-diagnostics", "ping"], timeout = 10 }
        """,
    )
    fn = check_fn(entries(load_config(path))["queue"])
    runner = Command(
        ["rabbitmq-diagnostics", "ping"], env={"HOME": "/srv"}, cwd=Path("/srv/queue"), user=1000
    )
    assert fn.args == (runner, 10.0)


def test_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "[services.db]\ncommand = 'postgres'\nready.port = 5432\n")
    daemons = load_config(path)
    assert daemons._orphan_guard is False
    spec = entries(daemons)["db"]
    assert command(spec) == Command(
        "postgres", sigterm_timeout=30.0, run_as_init=False, env=None, cwd=tmp_path, user=None
    )
    assert spec.requires == ()
    assert spec.max_restarts is None


@pytest.mark.parametrize(
    ("cwd", "expected"),
    [
        (None, ""),
        (".", ""),
        ("data", "data"),
        ("data/../logs", "logs"),
        ("../shared", "../shared"),
    ],
)
def test_cwd_is_relative_to_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cwd: str | None, expected: str
) -> None:
    config = tmp_path / "conf"
    config.mkdir()
    line = "" if cwd is None else f"cwd = {cwd!r}\n"
    write(config, f"[services.job]\nkind = 'oneshot'\ncommand = 'true'\n{line}")
    monkeypatch.chdir(tmp_path)  # the supervisor's directory does not matter
    spec = entries(load_config(Path("conf/app.toml")))["job"]
    assert command(spec).cwd == Path(os.path.normpath(config / expected))
    assert Path(command(spec).cwd or "").is_absolute()


def test_an_absolute_cwd_is_kept(tmp_path: Path) -> None:
    path = write(tmp_path, "[services.job]\nkind = 'oneshot'\ncommand = 'true'\ncwd = '/srv'\n")
    assert command(entries(load_config(path))["job"]).cwd == Path("/srv")


def test_the_file_may_be_named_by_a_string(tmp_path: Path) -> None:
    path = write(tmp_path, "[services.db]\ncommand = 'postgres'\nready.port = 5432\n")
    assert load_config(str(path)).ids == ("db",)


# Order


CHAIN = {
    "store": '[services.store]\ncommand = "s"\nready.port = 1\n',
    "migrate": '[services.migrate]\nkind = "oneshot"\ncommand = "m"\nrequires = ["store"]\n',
    "api": '[services.api]\ncommand = "a"\nrequires = ["migrate"]\nready.port = 2\n',
    "worker": '[services.worker]\ncommand = "w"\nrequires = ["migrate", "store"]\nready.port = 3\n',
    "cache": '[services.cache]\ncommand = "c"\nready.port = 4\n',
}


def test_the_order_of_the_file_does_not_matter(tmp_path: Path) -> None:
    for number, order in enumerate(itertools.permutations(CHAIN)):
        path = write(tmp_path, "\n".join(CHAIN[i] for i in order), f"{number}.toml")
        daemons = load_config(path)
        assert sorted(daemons.ids) == sorted(CHAIN)
        position = {id: i for i, id in enumerate(daemons.ids)}
        for spec in daemons.entries:
            assert all(position[r] < position[spec.id] for r in spec.requires)
        layers = start_layers(daemons)
        assert [sorted(layer) for layer in layers] == [
            ["cache", "store"],
            ["migrate"],
            ["api", "worker"],
        ]
        # Among services that could come in either order, file order holds.
        assert [i for i in daemons.ids if i in ("api", "worker")] == [
            i for i in order if i in ("api", "worker")
        ]


def test_the_order_is_stable(tmp_path: Path) -> None:
    order = ["api", "cache", "worker", "migrate", "store"]
    daemons = load_config(write(tmp_path, "\n".join(CHAIN[i] for i in order)))
    assert daemons.ids == ("cache", "store", "migrate", "api", "worker")
    assert start_layers(daemons) == [["cache", "store"], ["migrate"], ["api", "worker"]]


def test_start_layers_follow_the_deepest_requirement() -> None:
    ready = functools.partial(check_port_listening, 1)
    system = (
        Daemons.of()
        .add_health_check("a", ready=Ready("a", ready))
        .add_health_check("b", ready=Ready("b", ready), requires=["a"])
        .add_health_check("c", ready=Ready("c", ready), requires=["a", "b"])
        .add_health_check("d", ready=Ready("d", ready))
        .add_health_check("e", ready=Ready("e", ready), requires=["d"])
    )
    assert start_layers(system) == [["a", "d"], ["b", "e"], ["c"]]
    assert start_layers(Daemons.of()) == []


def test_describe_plan(tmp_path: Path) -> None:
    path = write(tmp_path, "\n".join(CHAIN.values()))
    assert describe_plan(load_config(path), path) == textwrap.dedent(
        f"""\
        {path}: 5 services, valid
        start order (each starts as soon as its own requirements are ready):
          1. store, cache
          2. migrate
          3. api, worker
        shutdown order (dependents first):
          1. api, worker
          2. migrate
          3. store, cache"""
    )


def test_describe_plan_of_one_service(tmp_path: Path) -> None:
    path = write(tmp_path, CHAIN["store"])
    assert describe_plan(load_config(path), "app.toml") == (
        "app.toml: 1 service, valid\n"
        "start order (each starts as soon as its own requirements are ready):\n"
        "  1. store\n"
        "shutdown order (dependents first):\n"
        "  1. store"
    )


# The interval trigger


@pytest.fixture
def anyio_backend() -> object:
    return ("trio", {"clock": trio.testing.MockClock(autojump_threshold=0)})


async def test_interval_checks_quickly_until_the_first_success_then_every_interval(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "[services.db]\ncommand = 'db'\nready = { port = 1, interval = 10 }\n")
    ready = entries(load_config(path))["db"].ready
    assert ready is not None
    assert ready.trigger is not None
    last: list[HealthCheckResult | None] = [None]
    steps: AsyncIterator[None] = ready.trigger(lambda: last[0])
    start = anyio.current_time()
    times = []
    for result in "ffffsffs":
        await anext(steps)
        times.append(round(anyio.current_time() - start, 3))
        ok = result == "s"
        last[0] = HealthCheckResult.success() if ok else HealthCheckResult.failure("down")
    await steps.aclose()  # type: ignore[attr-defined]
    # At once, then 5 ms apart while that is more than a quarter of the time
    # since the launch (as the default trigger); after the first success,
    # every 10 s whatever the result.
    assert times == [0, 0.005, 0.01, 0.015, 0.02, 10.02, 20.02, 30.02]


# Mistakes

DB = '[services.db]\ncommand = "postgres"\nready.port = 5432\n'

BAD_FILES = [
    pytest.param(
        '[services.alpha]\ncommand = "a"\nrequires = ["beta"]\nready.port = 1\n'
        '[services.beta]\ncommand = "b"\nrequires = ["alpha"]\nready.port = 2\n',
        "services form a cycle: alpha -> beta -> alpha",
        id="cycle",
    ),
    pytest.param(
        '[services.web]\ncommand = "w"\nrequires = ["a"]\nready.port = 1\n'
        '[services.c]\ncommand = "c"\nrequires = ["a"]\nready.port = 2\n'
        '[services.a]\ncommand = "a"\nrequires = ["b"]\nready.port = 3\n'
        '[services.b]\ncommand = "b"\nrequires = ["c"]\nready.port = 4\n',
        "services form a cycle: c -> a -> b -> c",
        id="longer-cycle-from-its-first-service",
    ),
    pytest.param(
        DB + '[services.web]\ncommand = "w"\nrequires = ["dbb"]\nready.port = 80\n',
        "services.web.requires: unknown service 'dbb'; did you mean 'db'?",
        id="unknown-requirement",
    ),
    pytest.param(
        DB + '[services.web]\ncommand = "w"\nrequires = ["zzz"]\nready.port = 80\n',
        "services.web.requires: unknown service 'zzz'",
        id="unknown-requirement-nothing-close",
    ),
    pytest.param(
        DB + '[services.web]\ncommand = "w"\nrequires = ["web"]\nready.port = 80\n',
        "services.web.requires: a service cannot require itself",
        id="requires-itself",
    ),
    pytest.param(
        DB + '[services.web]\ncommand = "w"\nrequires = "db"\nready.port = 80\n',
        "services.web.requires: must be an array of service ids, not str",
        id="requires-a-string",
    ),
    pytest.param(
        DB + '[services.web]\ncommand = "w"\nrequires = ["db", 1]\nready.port = 80\n',
        "services.web.requires[1]: must be a string, not int",
        id="requires-a-number",
    ),
    pytest.param(
        DB + '[services]\ndb.kind = "oneshot"\n',
        "duplicate service 'db' (at line 5)",
        id="duplicate-service-by-dotted-key",
    ),
    pytest.param(
        DB + "\n" + DB,
        "duplicate service 'db' (at line 5)",
        id="duplicate-service",
    ),
    pytest.param(
        '[services.db]\ncommand = "x"\n[services.db.ready]\nport = 1\n[services.db.ready]\n',
        "invalid TOML: Cannot declare ('services', 'db', 'ready') twice (at line 5, column 19)",
        id="duplicate-ready-table",
    ),
    pytest.param(
        '[services.db]\ncommand = "a"\ncommand = "b"\n',
        "invalid TOML: Cannot overwrite a value (at line 3, column 14)",
        id="duplicate-key",
    ),
    pytest.param(
        "[services.db\n",
        "invalid TOML: Expected ']' at the end of a table declaration (at line 1, column 13)",
        id="syntax",
    ),
    pytest.param("", "no services: add a [services.NAME] table", id="empty-file"),
    pytest.param("[[services]]\n", "services: must be a table, not list", id="services-array"),
    pytest.param(
        "[service.db]\n", "service: unknown key; did you mean 'services'?", id="top-level-key"
    ),
    pytest.param(
        'orphan_guard = "yes"\n' + DB,
        "orphan_guard: must be a boolean, not str",
        id="orphan-guard",
    ),
    pytest.param("services.db = 5\n", "services.db: must be a table, not int", id="not-a-table"),
    pytest.param(
        '[services.DB]\ncommand = "x"\nready.port = 1\n',
        "services.DB: invalid service id 'DB': use lowercase letters and digits, "
        "words joined by single dashes (like 'web' or 'db-1')",
        id="invalid-id",
    ),
    pytest.param(
        '[services."my db"]\ncommand = "x"\nready.port = 1\n',
        "services.\"my db\": invalid service id 'my db': use lowercase letters and digits, "
        "words joined by single dashes (like 'web' or 'db-1')",
        id="invalid-quoted-id",
    ),
    pytest.param(
        DB + "[services.db.ready]\nprot = 1\n",
        "invalid TOML: Cannot declare ('services', 'db', 'ready') twice (at line 4, column 19)",
        id="ready-dotted-then-table",
    ),
    pytest.param(
        '[services.db]\ncommand = "x"\n[services.db.ready]\nprot = 5432\n',
        "services.db.ready.prot: unknown key; did you mean 'port'?",
        id="unknown-ready-key",
    ),
    pytest.param(
        '[services.db]\ncomand = "x"\n',
        "services.db.comand: unknown key; did you mean 'command'?",
        id="unknown-service-key",
    ),
    pytest.param(
        DB.replace("[services.db]\n", '[services.db]\ncolour = "red"\n'),
        "services.db.colour: unknown key",
        id="unknown-key-nothing-close",
    ),
    pytest.param(
        DB + 'sigterm_timeout = "5"\n',
        "services.db.sigterm_timeout: must be a number, not str",
        id="timeout-a-string",
    ),
    pytest.param(
        DB + "sigterm_timeout = true\n",
        "services.db.sigterm_timeout: must be a number, not bool",
        id="timeout-a-boolean",
    ),
    pytest.param(
        DB + "sigterm_timeout = -1\n",
        "services.db.sigterm_timeout: must be a number >= 0, not -1",
        id="timeout-negative",
    ),
    pytest.param(
        DB + "sigterm_timeout = nan\n",
        "services.db.sigterm_timeout: must be a number >= 0, not nan",
        id="timeout-nan",
    ),
    pytest.param(
        DB + "run_as_init = 1\n",
        "services.db.run_as_init: must be a boolean, not int",
        id="run-as-init",
    ),
    pytest.param(
        DB + "max_restarts = -1\n",
        "services.db.max_restarts: must be an integer >= 0, not -1",
        id="max-restarts-negative",
    ),
    pytest.param(
        DB + "max_restarts = 1.5\n",
        "services.db.max_restarts: must be an integer, not float",
        id="max-restarts-float",
    ),
    pytest.param(
        DB + "user = true\n",
        "services.db.user: must be a user name or a uid, not bool",
        id="user-a-boolean",
    ),
    pytest.param(
        DB + "user = -1\n",
        "services.db.user: must be a user name or a uid, not -1",
        id="user-negative",
    ),
    pytest.param(DB + 'cwd = ""\n', "services.db.cwd: must not be empty", id="cwd-empty"),
    pytest.param(
        DB + "env = { PORT = 5432 }\n",
        "services.db.env.PORT: must be a string, not int",
        id="env-value",
    ),
    pytest.param(
        DB + 'env = ["PORT=5432"]\n',
        "services.db.env: must be a table, not list",
        id="env-not-a-table",
    ),
    pytest.param(
        '[services.db]\nkind = "deamon"\n',
        "services.db.kind: must be daemon, oneshot or check, not 'deamon'",
        id="kind",
    ),
    pytest.param(
        "[services.db]\nready.port = 5432\n",
        "services.db.command: required for a daemon",
        id="daemon-without-command",
    ),
    pytest.param(
        '[services.db]\nkind = "oneshot"\n',
        "services.db.command: required for a oneshot",
        id="oneshot-without-command",
    ),
    pytest.param(
        '[services.db]\ncommand = "postgres"\n',
        "services.db.ready: required for a daemon",
        id="daemon-without-ready",
    ),
    pytest.param(
        '[services.gate]\nkind = "check"\n',
        "services.gate.ready: required for a check",
        id="check-without-ready",
    ),
    pytest.param(
        '[services.job]\nkind = "oneshot"\ncommand = "x"\nready.port = 1\n',
        "services.job.ready: not allowed for a oneshot "
        "(it is ready once its command exits with code 0)",
        id="oneshot-with-ready",
    ),
    pytest.param(
        '[services.gate]\nkind = "check"\ncommand = "x"\nready.port = 1\n',
        "services.gate.command: not allowed for a check (it runs no process)",
        id="check-with-command",
    ),
    pytest.param(
        '[services.gate]\nkind = "check"\nready.log_line = "up"\n',
        "services.gate.ready.log_line: not allowed for a check (it runs no process to announce it)",
        id="check-with-log-line",
    ),
    pytest.param(
        '[services.gate]\nkind = "check"\nready.notify = true\n',
        "services.gate.ready.notify: not allowed for a check (it runs no process to announce it)",
        id="check-with-notify",
    ),
    pytest.param(
        '[services.db]\ncommand = "x"\nready = { port = 1, url = "http://x" }\n',
        "services.db.ready: give exactly one of port, url, script, log_line, notify "
        "(got port, url)",
        id="two-sources",
    ),
    pytest.param(
        '[services.db]\ncommand = "x"\nready = { display = "DB" }\n',
        "services.db.ready: give exactly one of port, url, script, log_line, notify (got none)",
        id="no-source",
    ),
    pytest.param(
        '[services.db]\ncommand = "x"\nready = { notify = false }\n',
        "services.db.ready: give exactly one of port, url, script, log_line, notify (got none)",
        id="notify-false",
    ),
    pytest.param(
        '[services.db]\ncommand = "x"\nready = { notify = "yes" }\n',
        "services.db.ready.notify: must be a boolean, not str",
        id="notify-a-string",
    ),
    pytest.param(
        '[services.db]\ncommand = "x"\nready = 5432\n',
        "services.db.ready: must be a table, not int",
        id="ready-not-a-table",
    ),
    pytest.param(
        '[services.db]\ncommand = "x"\nready.port = "5432"\n',
        "services.db.ready.port: must be an integer, not str",
        id="port-a-string",
    ),
    pytest.param(
        '[services.db]\ncommand = "x"\nready.port = true\n',
        "services.db.ready.port: must be an integer, not bool",
        id="port-a-boolean",
    ),
    pytest.param(
        '[services.db]\ncommand = "x"\nready.port = 0\n',
        "services.db.ready.port: must be an integer from 1 to 65535, not 0",
        id="port-zero",
    ),
    pytest.param(
        '[services.db]\ncommand = "x"\nready.port = 65536\n',
        "services.db.ready.port: must be an integer from 1 to 65535, not 65536",
        id="port-too-big",
    ),
    pytest.param(
        '[services.db]\ncommand = "x"\nready = { port = 1, grace_period = -5 }\n',
        "services.db.ready.grace_period: must be a number >= 0, not -5",
        id="grace-period",
    ),
    pytest.param(
        '[services.db]\ncommand = "x"\nready = { port = 1, timeout = "1s" }\n',
        "services.db.ready.timeout: must be a number, not str",
        id="timeout-with-unit",
    ),
    pytest.param(
        '[services.db]\ncommand = "x"\nready = { port = 1, interval = 0 }\n',
        "services.db.ready.interval: must be a number > 0, not 0",
        id="interval-zero",
    ),
    pytest.param(
        '[services.db]\ncommand = "x"\nready = { notify = true, interval = 5 }\n',
        "services.db.ready.interval: only with port, url or script",
        id="interval-without-polling",
    ),
    pytest.param(
        '[services.db]\ncommand = "x"\nready = { log_line = "up", timeout = 5 }\n',
        "services.db.ready.timeout: only with port, url or script",
        id="timeout-without-polling",
    ),
    pytest.param(
        '[services.db]\ncommand = "x"\nready = { port = 1, stream = "stdout" }\n',
        "services.db.ready.stream: only with log_line",
        id="stream-without-log-line",
    ),
    pytest.param(
        '[services.db]\ncommand = "x"\nready = { log_line = "up", stream = "out" }\n',
        "services.db.ready.stream: must be stdout, stderr or both, not 'out'",
        id="stream",
    ),
    pytest.param(
        '[services.db]\ncommand = "x"\nready = { log_line = "up (" }\n',
        "services.db.ready.log_line: invalid regular expression: "
        "missing ), unterminated subpattern at position 3",
        id="log-line-regex",
    ),
    pytest.param(
        '[services.db]\ncommand = "x"\nready = { url = "localhost:8080" }\n',
        "services.db.ready.url: must be an absolute http:// or https:// URL, not 'localhost:8080'",
        id="url",
    ),
    pytest.param(
        '[services.db]\ncommand = "x"\nready = { url = "http://127.0.0.1:99999/" }\n',
        "services.db.ready.url: invalid URL: its port must be from 1 to 65535, not 99999",
        id="url-port",
    ),
    pytest.param(
        '[services.db]\ncommand = "x"\nready = { script = [] }\n',
        "services.db.ready.script: must not be empty",
        id="script-empty",
    ),
    pytest.param(
        "[services.db]\ncommand = []\nready.port = 1\n",
        "services.db.command: must not be empty",
        id="command-empty-argv",
    ),
    pytest.param(
        '[services.db]\ncommand = "  "\nready.port = 1\n',
        "services.db.command: must not be empty",
        id="command-blank",
    ),
    pytest.param(
        '[services.db]\ncommand = ["postgres", 5432]\nready.port = 1\n',
        "services.db.command[1]: must be a string, not int",
        id="command-argument",
    ),
    pytest.param(
        '[services.db]\ncommand = ["", "-x"]\nready.port = 1\n',
        "services.db.command[0]: must not be empty",
        id="command-program-empty",
    ),
    pytest.param(
        "[services.db]\ncommand = 5\nready.port = 1\n",
        "services.db.command: must be a string or a list of strings, not int",
        id="command-a-number",
    ),
    pytest.param(
        '[services.db]\ncommand = "post\\u0000gres"\nready.port = 1\n',
        "services.db.command: must not contain a NUL character",
        id="command-nul",
    ),
    pytest.param(
        '[services.db]\ncommand = ["postgres", "-D\\u0000"]\nready.port = 1\n',
        "services.db.command[1]: must not contain a NUL character",
        id="argument-nul",
    ),
    pytest.param(
        '[services.db]\ncommand = "x"\nenv = { "A=B" = "c" }\nready.port = 1\n',
        "services.db.env.\"A=B\": bad variable name 'A=B': "
        "it must not be empty or contain '=' or NUL",
        id="env-name",
    ),
    pytest.param(
        '[services.db]\ncommand = "x"\nenv = { "A\\u0000" = "c" }\nready.port = 1\n',
        "services.db.env.\"A\\u0000\": bad variable name 'A\\x00': "
        "it must not be empty or contain '=' or NUL",
        id="env-name-nul",
    ),
    pytest.param(
        '[services.db]\ncommand = "x"\nenv = { A = "c\\u0000" }\nready.port = 1\n',
        "services.db.env.A: must not contain a NUL character",
        id="env-value-nul",
    ),
    pytest.param(
        '[services.db]\ncommand = "x"\nuser = "a\\u0000b"\nready.port = 1\n',
        "services.db.user: must not contain a NUL character",
        id="user-nul",
    ),
    pytest.param(
        '[services.db]\ncommand = "x"\nuser = 1.5\nready.port = 1\n',
        "services.db.user: must be a user name or a uid, not float",
        id="user-float",
    ),
    pytest.param(
        '[services.db]\ncommand = "x"\ncwd = "a\\u0000b"\nready.port = 1\n',
        "services.db.cwd: must not contain a NUL character",
        id="cwd-nul",
    ),
    pytest.param(
        '[services.db]\ncommand = "x"\ncwd = 123\nready.port = 1\n',
        "services.db.cwd: must be a string, not int",
        id="cwd-int",
    ),
    pytest.param(
        '[services.db]\ncommand = "x"\nready = { port = 1, grace_period = inf }\n',
        "services.db.ready.grace_period: must be a finite number, not inf",
        id="grace-inf",
    ),
    pytest.param(
        DB + "sigterm_timeout = inf\n",
        "services.db.sigterm_timeout: must be a finite number, not inf",
        id="sigterm-timeout-inf",
    ),
    pytest.param(
        '[services.db]\ncommand = "x"\nsigterm_timeout = 1' + "0" * 400 + "\nready.port = 1\n",
        "services.db.sigterm_timeout: must be a finite number, not an integer of 401 digits",
        id="integer-too-large-for-a-float",
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD_FILES)
def test_every_mistake_is_a_config_error_naming_the_file_and_the_key(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: {message}"


def test_a_config_error_is_a_validation_error_naming_the_service(tmp_path: Path) -> None:
    path = write(tmp_path, DB + '[services.web]\ncommand = "w"\nrequires = ["dbb"]\n')
    with pytest.raises(ValidationError) as caught:
        load_config(path)
    assert isinstance(caught.value, ConfigError)
    assert caught.value.entry == "web"


def test_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.toml"
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: cannot read: no such file or directory"
    assert isinstance(caught.value.__cause__, FileNotFoundError)


def test_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert str(caught.value) == f"{tmp_path}: cannot read: is a directory"


def test_an_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> NoReturn:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    path = write(tmp_path, DB)
    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: cannot read: permission denied"


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    path.write_bytes(b'[services.db]\ncommand = "caf\xe9"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == (
        f"{path}: invalid TOML: not UTF-8 text: invalid continuation byte (at line 2, column 15)"
    )


def test_a_relative_path_is_named_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "[services.db]\nkind = 'daemon'\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_config("app.toml")
    assert str(caught.value) == "app.toml: services.db.command: required for a daemon"


# The documentation

DOCS = Path(__file__).resolve().parent.parent / "docs" / "config.md"


def test_the_documented_example_and_its_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = DOCS.read_text(encoding="utf-8")
    example = re.search(r"```toml\n(.*?)```", text, re.S)
    printed = re.search(r"\$ healthdaemons check app.toml\n(.*?)\n```", text, re.S)
    assert example is not None
    assert printed is not None
    (tmp_path / "app.toml").write_text(example[1], encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert describe_plan(load_config("app.toml"), "app.toml") == printed[1]


def test_the_documented_messages_are_the_real_ones() -> None:
    """Each message in the table of docs/config.md is one that a test above checks."""
    documented = re.findall(r"`app\.toml: ([^`]*)`", DOCS.read_text(encoding="utf-8"))
    known = {str(param.values[1]) for param in BAD_FILES} | {
        "cannot read: no such file or directory",
        "cannot read: is a directory",
        "cannot read: permission denied",
        "cannot read: not a regular file (a FIFO, a device or a socket)",
        f"too large: a config file may hold at most {MAX_CONFIG_BYTES:,} bytes",
        "invalid TOML: arrays or tables nested too deeply",
        # Checks of the machine: see tests/test_programs.py.
        "services.db.command: cannot run 'postgress': not found on PATH",
        "services.db.command: cannot run './migrate.sh': permission denied (as user 'postgres')",
        "services.db.user: unknown user 'postgress'",
        "invalid TOML: not UTF-8 text: invalid continuation byte (at line 2, column 15)",
    }
    known |= DOCUMENTED_MESSAGES  # variables, env files and compose's keys
    known |= set(SELECTION_MESSAGES)  # checked in tests/test_selection.py
    known |= CONTAINER_MESSAGES  # checked in tests/test_config_container.py
    assert documented
    assert [m for m in documented if m not in known] == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[services.db]\ncommand = "true"\nsigterm_timeout = inf\n'
            "[services.db.ready]\nport = 1\n",
            "services.db.sigterm_timeout: must be a finite number, not inf",
        ),
        (
            '[services.db]\ncommand = "true"\n[services.db.ready]\nport = 1\ntimeout = 0\n',
            "services.db.ready.timeout: must be a number > 0, not 0",
        ),
        (
            '[services.db]\ncommand = "true"\n[services.db.ready]\nport = 1\n'
            '[services.web]\ncommand = "true"\nrequires = ["db", "db"]\n'
            "[services.web.ready]\nport = 2\n",
            "services.web.requires: 'db' is listed twice",
        ),
    ],
)
def test_endless_timeouts_and_repeated_requirements_are_mistakes(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "app.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: {message}"
