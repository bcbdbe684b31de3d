"""'Did you mean' for an unknown requirement names only an id that could be
required: never the service itself, nor one it cannot require (issue 11, item 22).

In the library a requirement must be an earlier entry of the same builder; in
a config file any other valid service that does not itself require this one."""

from __future__ import annotations

from pathlib import Path

import pytest

from coordinator import Daemons, HealthCheckResult, Ready, load_config
from coordinator.errors import ConfigError, UnknownDependencyError

from .support import forever


def ready() -> Ready:
    return Ready(None, lambda: HealthCheckResult.success())


def unknown(system: Daemons, id: str, requires: str) -> UnknownDependencyError:
    with pytest.raises(UnknownDependencyError) as caught:
        system.add_daemon(id, exec=forever(), ready=ready(), requires=[requires])
    return caught.value


# The library


def test_the_service_itself_is_never_suggested() -> None:
    # "apps" is as close to "app" as to "api", and closest to itself.
    alone = unknown(Daemons.of(), "apps", "app")
    assert alone.suggestion is None
    assert "did you mean" not in str(alone)
    error = unknown(Daemons.of().add_daemon("api", exec=forever(), ready=ready()), "apps", "app")
    assert error.suggestion == "api"
    assert str(error) == "'apps' requires 'app', which is not an earlier entry; did you mean 'api'?"


def test_a_later_entry_is_never_suggested() -> None:
    error = unknown(Daemons.of(), "web", "dbb")
    later = Daemons.of().add_daemon("db", exec=forever(), ready=ready())
    assert later.ids == ("db",)
    assert error.suggestion is None
    assert str(error) == "'web' requires 'dbb', which is not an earlier entry"


def test_an_entry_of_another_branch_is_never_suggested() -> None:
    """Builders are values: an entry added to a sibling builder is not in this one."""
    base = Daemons.of().add_daemon("db", exec=forever(), ready=ready())
    sibling = base.add_daemon("cache", exec=forever(), ready=ready())
    assert sibling.ids == ("db", "cache")
    error = unknown(base, "web", "cach")
    assert error.suggestion is None
    assert unknown(sibling, "web", "cach").suggestion == "cache"


# Config files


def load_error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "app.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value).removeprefix(f"{path}: ")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            '[services.apps]\ncommand = "a"\nrequires = ["app"]\nready.port = 1\n',
            "services.apps.requires: unknown service 'app'",
            id="itself",
        ),
        pytest.param(
            '[services.apps]\ncommand = "a"\nrequires = ["app"]\nready.port = 1\n'
            '[services.api]\ncommand = "b"\nready.port = 2\n',
            "services.apps.requires: unknown service 'app'; did you mean 'api'?",
            id="another-even-if-later-in-the-file",
        ),
        pytest.param(
            '[services.web]\ncommand = "w"\nrequires = ["db-1"]\nready.port = 1\n'
            '[services.Db-1]\ncommand = "d"\nready.port = 2\n',
            "services.web.requires: unknown service 'db-1'",
            id="not-a-valid-id",
        ),
        pytest.param(
            '[services.db]\ncommand = "d"\nrequires = ["ap"]\nready.port = 1\n'
            '[services.app]\ncommand = "a"\nrequires = ["db"]\nready.port = 2\n',
            "services.db.requires: unknown service 'ap'",
            id="a-dependent",
        ),
        pytest.param(
            '[services.db]\ncommand = "d"\nrequires = ["ap"]\nready.port = 1\n'
            '[services.app]\ncommand = "a"\nrequires = ["mid"]\nready.port = 2\n'
            '[services.mid]\ncommand = "m"\nrequires = ["db"]\nready.port = 3\n'
            '[services.apis]\ncommand = "t"\nready.port = 4\n',
            "services.db.requires: unknown service 'ap'; did you mean 'apis'?",
            id="an-indirect-dependent",
        ),
    ],
)
def test_a_suggestion_is_a_service_that_could_be_required(
    tmp_path: Path, text: str, message: str
) -> None:
    assert load_error(tmp_path, text) == message
