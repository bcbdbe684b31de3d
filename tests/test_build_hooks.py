"""The public hooks of a build: the host and the spawn function are given at
build time, and a running system offers a read-only view of its entries
(what `coordinator.testing` uses); one `load_system` names a system."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import coordinator
from coordinator import (
    Command,
    Daemons,
    EntryView,
    ErrorReported,
    Event,
    HealthReported,
    LifecycleState,
    MemoryHost,
    ProcessHandle,
    Ready,
    SpawnSettings,
    load_system,
)
from coordinator.testing import explore, verify

from .support import Switch, forever


def pair() -> Daemons:
    return (
        Daemons.of()
        .add_daemon("db", exec=forever(), ready=Ready("DB", Switch()))
        .add_daemon("web", exec=forever(), ready=Ready("Web", Switch()), requires=["db"])
    )


async def test_the_host_is_given_at_build_time_and_cannot_be_swapped() -> None:
    default, chosen = MemoryHost(), MemoryHost()
    system = Daemons.of(host=default).add_daemon("db", exec=forever(), ready=Ready("DB", Switch()))
    assert system.host is default
    running = system.build(host=chosen)
    assert running.host is chosen
    with pytest.raises(AttributeError):
        running.host = default  # type: ignore[misc]
    async with running:
        await running.wait_ready(5)
    assert set(chosen.health) == {"db"}
    assert not default.health and not default.events
    assert system.build().host is default
    assert isinstance(Daemons.of().build().host, MemoryHost)


class EventList(list[Event]):
    """A host that is a list of the events: empty, and so false, at first."""

    def set_health(self, report: HealthReported) -> None:
        pass

    def record(self, event: Event) -> None:
        self.append(event)


async def test_a_host_that_is_empty_at_first_is_still_the_host() -> None:
    host = EventList()
    system = Daemons.of(host=host).add_daemon("db", exec=forever(), ready=Ready("DB", Switch()))
    running = system.build()
    assert running.host is host
    async with running:
        await running.wait_ready(5)
    assert host == running.history


async def test_commands_start_through_the_spawn_function_given_to_build() -> None:
    spawned: list[tuple[list[str], str]] = []

    async def refuse(command: Command, settings: SpawnSettings) -> ProcessHandle:
        spawned.append((list(command.argv), settings.entry_id))
        raise coordinator.SpawnError(f"{command.argv[0]}: refused by the test")

    system = Daemons.of().add_oneshot("db", exec=Command(["db-server"]), max_restarts=0)
    async with system.build(spawn=refuse) as running:
        gave_up = lambda: running.state("db") is LifecycleState.FAILING  # noqa: E731
        assert await running.wait_until(gave_up, 60)
    assert spawned == [(["db-server"], "db")]
    errors = [e.message for e in running.history if isinstance(e, ErrorReported)]
    assert "could not start: db-server: refused by the test" in errors


def test_a_host_or_spawn_of_the_wrong_kind_is_refused_at_once() -> None:
    with pytest.raises(TypeError, match=r"^host must be a Host .*, not int$"):
        Daemons.of(host=42)  # type: ignore[arg-type]
    system = pair()
    with pytest.raises(TypeError, match=r"^host must be a Host .*, not str$"):
        system.build(host="events.jsonl")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^spawn must be an async function .*, not NoneType$"):
        system.build(spawn=None)  # type: ignore[arg-type]


async def test_a_spawn_function_that_fails_means_the_command_could_not_start() -> None:
    async def raising(command: Command, settings: SpawnSettings) -> ProcessHandle:
        raise RuntimeError("no such machine")

    async def returning_nothing(command: Command, settings: SpawnSettings) -> ProcessHandle:
        return None  # type: ignore[return-value]

    def not_async(command: Command, settings: SpawnSettings) -> ProcessHandle:
        return None  # type: ignore[return-value]

    expected = {
        raising: "could not start: spawn raised RuntimeError('no such machine')",
        returning_nothing: "could not start: spawn returned NoneType, not a ProcessHandle",
        not_async: "could not start: spawn raised TypeError(",
    }
    for spawn, message in expected.items():
        system = (
            Daemons.of()
            .add_daemon("db", exec=forever(), ready=Ready("DB", Switch()))
            .add_oneshot("migrate", exec=Command(["migrate"]), max_restarts=0, requires=["db"])
        )
        async with system.build(spawn=spawn) as running:  # type: ignore[arg-type]
            gave_up = lambda: running.state("migrate") is LifecycleState.FAILING  # noqa: E731
            assert await running.wait_until(gave_up, 60)
            assert running.state("db") is LifecycleState.READY  # the rest runs on
        errors = [e.message for e in running.history if isinstance(e, ErrorReported)]
        assert errors and errors[0].startswith(message), (spawn, errors)
        assert running.statistics().stopped == 2


async def test_entry_views_read_the_live_entries_and_change_nothing() -> None:
    running = pair().build()
    views = running.entry_views
    assert [view.id for view in views] == ["db", "web"]
    assert [view.spec for view in views] == list(running.entries)
    assert all(isinstance(view, EntryView) for view in views)
    assert [view.state for view in views] == [LifecycleState.WAITING] * 2
    async with running:
        await running.wait_ready(5)
        db = views[0]
        assert db.state is LifecycleState.READY
        assert db.health is not None and db.health.is_success
        assert db.restarts == 0
        assert db.grace_expired() is (db.spec.grace_period == 0)
        assert repr(db) == "<EntryView 'db' ready>"
        with pytest.raises(AttributeError):
            db.state = LifecycleState.STOPPED  # type: ignore[misc]
        with pytest.raises(AttributeError):
            db.extra = 1  # type: ignore[attr-defined]
    assert [view.state for view in views] == [LifecycleState.STOPPED] * 2


SYSTEM = pair()


def make_pair() -> Daemons:
    return pair()


async def make_pair_later() -> Daemons:
    return pair()


def test_load_system_names_a_system_one_way(tmp_path: Path) -> None:
    config = tmp_path / "app.toml"
    config.write_text(
        '[services.db]\nkind = "oneshot"\ncommand = ["db-server"]\n', encoding="utf-8"
    )
    assert load_system(SYSTEM) is SYSTEM
    for reference in (config, str(config)):
        assert [spec.id for spec in load_system(reference).entries] == ["db"]
    assert load_system(f"{__name__}:SYSTEM") is SYSTEM
    assert [spec.id for spec in load_system(f"{__name__}:make_pair").entries] == ["db", "web"]
    with pytest.raises(coordinator.errors.ConfigError, match=r"missing\.toml"):
        load_system(str(tmp_path / "missing.toml"))
    problems = {
        __name__: "name a system as a config file (.toml) or as module:attribute",
        "nosuchmodule:system": "cannot import nosuchmodule",
        f"{__name__}:absent": "has no attribute 'absent'",
        f"{__name__}:make_pair_later": "is async; name a Daemons or a plain function",
        f"{__name__}:__name__": "is a str, not a Daemons",
    }
    for reference, problem in problems.items():
        with pytest.raises(ValueError, match=re.escape(problem)):
            load_system(reference)


def test_verify_and_explore_take_the_same_references_as_the_command_line() -> None:
    assert verify(f"{__name__}:make_pair", max_examples=2).examples >= 3
    assert explore(f"{__name__}:SYSTEM", max_states=50).states >= 1
