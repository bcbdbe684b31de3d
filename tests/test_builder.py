"""`Daemons`: immutable building, option factories, and validation (docs/spec.md section 2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from coordinator import (
    Command,
    DaemonOptions,
    Daemons,
    EntryKind,
    ExecFn,
    HealthCheckOptions,
    HealthCheckResult,
    OneshotOptions,
    Ready,
)
from coordinator.checks import log_line
from coordinator.errors import (
    DuplicateIdError,
    HealthDaemonsError,
    InvalidEntryError,
    InvalidIdError,
    UnknownDependencyError,
    ValidationError,
)

from .support import Switch, finishes, forever

NOT_CALLABLE: Any = "not callable"


def ready(display: str | None = "X") -> Ready:
    return Ready(display, Switch())


def base() -> Daemons:
    return Daemons.of().add_daemon("db", exec=forever(), ready=ready("Database"))


def test_each_add_returns_a_new_system_and_leaves_the_old_one_unchanged() -> None:
    empty = Daemons.of()
    one = empty.add_daemon("db", exec=forever(), ready=ready())
    two = one.add_oneshot("migrate", exec=finishes(), requires=["db"])
    assert empty.ids == ()
    assert one.ids == ("db",)
    assert two.ids == ("db", "migrate")
    assert [s.kind for s in two.entries] == [EntryKind.DAEMON, EntryKind.ONESHOT]


def test_branching_from_an_older_builder_does_not_disturb_newer_ones() -> None:
    one = base()
    left = one.add_health_check("a", ready=ready(), requires=["db"])
    right = one.add_health_check("b", ready=ready(), requires=["db"])
    # The same id may be added on two branches, and each sees only its own.
    again = one.add_health_check("a", ready=ready())
    assert left.ids == ("db", "a")
    assert right.ids == ("db", "b")
    assert again.ids == ("db", "a")
    assert again.entries[1].requires == ()
    with pytest.raises(UnknownDependencyError):
        right.add_health_check("c", ready=ready(), requires=["a"])


def test_requires_are_deduplicated_and_kept_in_order() -> None:
    system = (
        base()
        .add_health_check("c", ready=ready())
        .add_health_check("web", ready=ready(), requires=["c", "db", "c"])
    )
    assert system.entries[-1].requires == ("c", "db")


@pytest.mark.parametrize(
    "bad", ["", "Web", "web_1", "-web", "web-", "we--b", "web 1", "wéb", "web\n", "\nweb"]
)
def test_malformed_ids_are_rejected(bad: str) -> None:
    with pytest.raises(InvalidIdError, match="Invalid id") as caught:
        Daemons.of().add_health_check(bad, ready=ready())
    assert caught.value.entry == bad


INF = float("inf")
UNUSABLE_COMMANDS: list[tuple[dict[str, Any], str]] = [
    # What the operating system cannot take, or what makes a stop unbounded.
    ({"user": 1.5}, "exec.user must be a user name or a uid, not float"),
    ({"user": "a\0b"}, "exec.user must not contain a NUL character"),
    ({"user": " "}, "exec.user must not be empty"),
    ({"user": -1}, "exec.user must be a user name or a uid, not -1"),
    ({"cwd": 123}, "exec.cwd must be a path (a string), not int"),
    ({"cwd": "a\0b"}, "exec.cwd must not contain a NUL character"),
    ({"cwd": b"/tmp"}, "exec.cwd must be a path (a string), not bytes"),
    ({"env": {"A\0": "1"}}, "exec.env has a bad variable name 'A\\x00'"),
    ({"env": {"": "1"}}, "exec.env has a bad variable name ''"),
    ({"env": {1: "1"}}, "exec.env has a bad variable name 1: it must be a string, not int"),
    ({"env": {"A": "1\0"}}, "exec.env['A'] must not contain a NUL character"),
    ({"env": ["A=1"]}, "exec.env must map strings to strings, not list"),
    ({"command": ["ls\0"]}, "exec.command[0] must not contain a NUL character"),
    ({"command": "ls\0 x"}, "exec.command must not contain a NUL character"),
    ({"command": b"ls"}, "exec.command must be a string or a list of strings, not bytes"),
    ({"sigterm_timeout": INF}, "exec.sigterm_timeout must be a finite number, not inf"),
    ({"sigterm_timeout": float("nan")}, "exec.sigterm_timeout must be a number >= 0, not nan"),
    ({"sigterm_timeout": "5"}, "exec.sigterm_timeout must be a number, not str"),
    ({"sigterm_timeout": 10**400}, "exec.sigterm_timeout must be a finite number"),
    ({"run_as_init": "yes"}, "exec.run_as_init must be a boolean, not str"),
]


@pytest.mark.parametrize(("options", "message"), UNUSABLE_COMMANDS)
def test_a_command_the_system_could_not_run_is_refused_when_added(
    options: dict[str, Any], message: str
) -> None:
    arguments = {"command": ["true"], **options}
    command = Command(**arguments)
    adds: list[Callable[[Daemons], Daemons]] = [
        lambda d: d.add_oneshot("web", exec=command),
        lambda d: d.add_daemon("web", exec=command, ready=ready()),
    ]
    for add in adds:
        with pytest.raises(InvalidEntryError) as caught:
            add(base())
        assert str(caught.value).split(": ", 1)[1].startswith(message)
        assert caught.value.entry == "web"


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda d: d.add_oneshot("web", exec=ExecFn(finishes().fn, sigterm_timeout=INF)),
            "oneshot 'web': exec.sigterm_timeout must be a finite number, not inf",
        ),
        (
            lambda d: d.add_daemon("web", exec=forever(), ready=Ready("W", Switch(), INF)),
            "daemon 'web': ready.grace_period must be a finite number, not inf",
        ),
        (
            lambda d: d.add_health_check("web", ready=Ready("W", Switch(), float("nan"))),
            "check 'web': ready.grace_period must be a number >= 0, not nan",
        ),
    ],
)
def test_endless_waits_are_refused(build: Any, message: str) -> None:
    with pytest.raises(InvalidEntryError) as caught:
        build(base())
    assert str(caught.value) == message


def test_duplicate_id_message() -> None:
    with pytest.raises(DuplicateIdError) as caught:
        base().add_health_check("db", ready=ready())
    assert str(caught.value) == "The id 'db' is already used"
    assert caught.value.entry == "db"


def test_unknown_requirement_names_it_and_suggests_the_closest_id() -> None:
    with pytest.raises(UnknownDependencyError) as caught:
        base().add_daemon("web", exec=forever(), ready=ready(), requires=["dbb"])
    error = caught.value
    assert str(error) == "'web' requires 'dbb', which is not an earlier entry; did you mean 'db'?"
    assert (error.entry, error.missing, error.suggestion) == ("web", "dbb", "db")


def test_unknown_requirement_without_a_close_match() -> None:
    with pytest.raises(UnknownDependencyError) as caught:
        base().add_health_check("web", ready=ready(), requires=["zzzzzz"])
    assert str(caught.value) == "'web' requires 'zzzzzz', which is not an earlier entry"
    assert caught.value.suggestion is None


def test_a_later_entry_cannot_be_required_so_cycles_are_impossible() -> None:
    with pytest.raises(UnknownDependencyError, match="'a' requires 'b'"):
        Daemons.of().add_health_check("a", ready=ready(), requires=["b"])
    with pytest.raises(UnknownDependencyError, match="cannot require itself"):
        Daemons.of().add_health_check("a", ready=ready(), requires=["a"])


def test_requires_must_be_a_list_not_a_string() -> None:
    with pytest.raises(InvalidEntryError, match="requires must be a list of ids"):
        base().add_health_check("web", ready=ready(), requires="db")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda d: d.add_daemon("web"), "daemon 'web' needs exec= and ready="),
        (lambda d: d.add_oneshot("web"), "oneshot 'web' needs exec="),
        (lambda d: d.add_health_check("web"), "health check 'web' needs ready="),
        (
            lambda d: d.add_daemon("web", exec=forever(), ready=None),
            "daemon 'web': ready must be a Ready, not NoneType",
        ),
        (
            lambda d: d.add_daemon("web", exec=None, ready=ready()),
            "daemon 'web': exec must be a Command or an ExecFn, not NoneType",
        ),
        (
            lambda d: d.add_daemon("web", exec=forever(sigterm_timeout=-1), ready=ready()),
            "daemon 'web': exec.sigterm_timeout must be a number >= 0, not -1",
        ),
        (
            lambda d: d.add_daemon("web", exec=forever(), ready=Ready("W", Switch(), -0.5)),
            "daemon 'web': ready.grace_period must be a number >= 0, not -0.5",
        ),
        (
            lambda d: d.add_health_check("web", ready=Ready("W", NOT_CALLABLE)),
            "check 'web': ready.fn must be callable, not str",
        ),
        (
            lambda d: d.add_oneshot("web", exec=ExecFn(NOT_CALLABLE)),
            "oneshot 'web': exec.fn must be callable, not str",
        ),
        (
            lambda d: d.add_oneshot("web", exec=finishes(), max_restarts=-1),
            "oneshot 'web': max_restarts must be an integer >= 0, not -1",
        ),
        (
            lambda d: d.add_daemon("web", exec=Command([]), ready=ready()),
            "daemon 'web': exec.command must not be empty",
        ),
        (
            lambda d: d.add_daemon("web", exec=Command("  "), ready=ready()),
            "daemon 'web': exec.command must not be empty",
        ),
        (
            lambda d: d.add_oneshot("web", exec=Command(["ls", 3])),  # type: ignore[list-item]
            "oneshot 'web': exec.command[1] must be a string, not int",
        ),
        (
            lambda d: d.add_oneshot("web", exec=Command("true", sigterm_timeout=-2)),
            "oneshot 'web': exec.sigterm_timeout must be a number >= 0, not -2",
        ),
        (
            lambda d: d.add_oneshot(
                "web",
                exec=Command("true", env={"A": 1}),  # type: ignore[dict-item]
            ),
            "oneshot 'web': exec.env['A'] must be a string, not int",
        ),
        (
            lambda d: d.add_oneshot(
                "web",
                exec=Command("true", on_stdout="x"),  # type: ignore[arg-type]
            ),
            "oneshot 'web': exec.on_stdout must be callable, not str",
        ),
        (
            lambda d: d.add_oneshot(
                "web",
                exec=Command("true"),
                subcontainer="box",
            ),
            "oneshot 'web': subcontainer must be a SubContainer, not str",
        ),
        (
            lambda d: d.add_oneshot("web", exec=Command("true", env={"A=B": "1"})),
            "oneshot 'web': exec.env has a bad variable name 'A=B': "
            "it must not be empty or contain '=' or NUL",
        ),
        (
            lambda d: d.add_oneshot("web", exec=Command(["echo", "a\0b"])),
            "oneshot 'web': exec.command[1] must not contain a NUL character",
        ),
        (
            lambda d: d.add_health_check("web", ready=Ready("W", log_line("up"))),
            "check 'web': ready.fn waits for a line of output matching 'up', "
            "but a health check runs no process to announce it",
        ),
        (
            lambda d: d.add_daemon("web", OneshotOptions(finishes())),
            "daemon 'web': options must be DaemonOptions, not OneshotOptions",
        ),
    ],
)
def test_bad_options_name_the_entry_and_the_problem(build: object, message: str) -> None:
    system = base()
    with pytest.raises(InvalidEntryError) as caught:
        build(system)  # type: ignore[operator]
    assert str(caught.value) == message
    assert caught.value.entry == "web"
    assert system.ids == ("db",)


def test_validation_errors_share_one_base() -> None:
    for cls in (InvalidIdError, DuplicateIdError, UnknownDependencyError, InvalidEntryError):
        assert issubclass(cls, ValidationError)
        assert issubclass(cls, HealthDaemonsError)


def test_options_objects_and_sync_factories() -> None:
    system = (
        Daemons.of()
        .add_daemon("db", DaemonOptions(forever(), ready()))
        .add_oneshot("migrate", lambda: OneshotOptions(finishes(), requires=["db"]))
        .add_health_check("skipped", lambda: None)
        .add_health_check("smoke", HealthCheckOptions(ready(), ["migrate"]))
    )
    assert system.ids == ("db", "migrate", "smoke")


async def test_async_factories_return_an_awaitable_system() -> None:
    async def options() -> HealthCheckOptions | None:
        return HealthCheckOptions(Ready("Smoke", lambda: HealthCheckResult.success()))

    async def nothing() -> HealthCheckOptions | None:
        return None

    system = await base().add_health_check("smoke", options)
    system = await system.add_health_check("skipped", nothing)
    assert system.ids == ("db", "smoke")


async def test_async_factory_results_are_validated_too() -> None:
    async def options() -> OneshotOptions | None:
        return OneshotOptions(finishes(), requires=["nope"])

    with pytest.raises(UnknownDependencyError, match="'migrate' requires 'nope'"):
        await base().add_oneshot("migrate", options)


def test_building_a_long_chain_is_linear() -> None:
    system = Daemons.of()
    previous: list[str] = []
    for i in range(5000):
        system = system.add_health_check(f"e{i}", ready=ready(), requires=previous)
        previous = [f"e{i}"]
    assert len(system) == 5000
