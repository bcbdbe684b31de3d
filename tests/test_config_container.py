"""The container tables of a config file (`[container]`,
`[services.ID.container]`, docs/config.md "Containers") and
`coordinator.read_config`, the file as data that `healthdaemons export`
reads. Nothing here runs a process."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from coordinator import ConfigProbe, ContainerImage, load_config, read_config
from coordinator.errors import ConfigError

STACK = """
[container]
image = "shop:1.4"
workdir = "/srv/shop"

[services.db]
command = ["postgres", "-D", "/data"]
stop_signal = "SIGINT"
sigterm_timeout = 10
ready.port = 5432
[services.db.container]
image = "postgres:16"
command = []
ports = [5432, "127.0.0.1:15432:5432/tcp"]
volumes = ["pgdata:/var/lib/postgresql/data", "./conf:/etc/pg:ro", "/scratch"]
ready.script = ["pg_isready", "-U", "postgres"]

[services.migrate]
kind = "oneshot"
command = "./migrate.sh --seed"
requires = ["db"]
once = true

[services.api]
command = ["uvicorn", "app:app", "--port", "${PORT:-8000}"]
requires = ["migrate"]
cwd = "api"
env = { APP_ENV = "prod" }
restart = "on-failure"
max_restarts = 3
ready.url = "http://127.0.0.1:${PORT:-8000}/health"
ready.interval = 10
liveness.url = "http://127.0.0.1:8000/live"

[services.worker]
command = "exec ./worker"
requires = ["db"]
ready.log_line = 'worker \\d+ ready'
container.ready.port = 9100

[services.debug]
command = "sleep 1"
ready.port = 1
disabled = true

[services.smoke]
kind = "check"
requires = ["api"]
ready.url = "http://127.0.0.1:8000/"
container.ready.url = "http://api:8000/"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "app.toml"
    path.write_text(textwrap.dedent(text))
    return path


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        read_config(_write(tmp_path, text))
    return str(caught.value).removeprefix(f"{tmp_path / 'app.toml'}: ")


def test_read_config_gives_each_service_as_data(tmp_path: Path) -> None:
    config = read_config(_write(tmp_path, STACK))
    assert [s.id for s in config.services] == ["db", "migrate", "api", "worker", "smoke"]
    db = config.service("db")
    assert db.image == ContainerImage(
        "postgres:16",
        None,
        None,  # an image of its own keeps its WORKDIR
        ("5432", "127.0.0.1:15432:5432/tcp"),
        ("pgdata:/var/lib/postgresql/data", "./conf:/etc/pg:ro", "/scratch"),
        own_image=True,
    )
    assert (db.stop_signal, db.sigterm_timeout) == ("SIGINT", 10.0)
    assert db.ready == ConfigProbe("port", port=5432)
    assert db.container_probe == ConfigProbe(
        "script", script=("pg_isready", "-U", "postgres"), timeout=30.0
    )
    migrate = config.service("migrate")
    assert (migrate.kind, migrate.once, migrate.ready) == ("oneshot", True, None)
    assert migrate.image == ContainerImage("shop:1.4", "./migrate.sh --seed", "/srv/shop")
    api = config.service("api")
    assert api.command == ("uvicorn", "app:app", "--port", "8000")
    assert api.image is not None and api.image.workdir == "/srv/shop/api"
    assert (api.restart, api.max_restarts, api.env) == ("on-failure", 3, {"APP_ENV": "prod"})
    assert api.ready == ConfigProbe("url", url="http://127.0.0.1:8000/health", interval=10.0)
    assert api.liveness == ConfigProbe(
        "url", url="http://127.0.0.1:8000/live", timeout=5.0, interval=10.0, failures=3
    )
    worker = config.service("worker")
    assert worker.ready == ConfigProbe("log_line", log_line=r"worker \d+ ready")
    assert worker.container_probe == ConfigProbe("port", port=9100)
    smoke = config.service("smoke")
    assert (smoke.kind, smoke.requires, smoke.command) == ("check", ("api",), None)
    assert smoke.container_probe == ConfigProbe("url", url="http://api:8000/")


def test_an_own_image_keeps_its_workdir_unless_a_cwd_or_workdir_is_given(
    tmp_path: Path,
) -> None:
    text = STACK.replace('image = "postgres:16"', 'image = "postgres:16"\nworkdir = "/w"')
    assert read_config(_write(tmp_path, text)).service("db").image.workdir == "/w"  # type: ignore[union-attr]
    text = STACK.replace('stop_signal = "SIGINT"', 'stop_signal = "SIGINT"\ncwd = "data"')
    assert read_config(_write(tmp_path, text)).service("db").image.workdir == "/srv/shop/data"  # type: ignore[union-attr]


def test_a_local_run_ignores_the_container_tables(tmp_path: Path) -> None:
    system = load_config(_write(tmp_path, STACK))
    assert list(system.ids) == ["db", "migrate", "api", "worker", "smoke"]


def test_disabled_services_are_left_out_and_cannot_be_required(tmp_path: Path) -> None:
    assert "debug" not in [s.id for s in read_config(_write(tmp_path, STACK)).services]
    text = STACK.replace('requires = ["api"]', 'requires = ["api", "debug"]')
    assert _error(tmp_path, text) == (
        "services.smoke.requires: 'smoke' requires 'debug', which is disabled "
        "(services.debug.disabled)"
    )


def test_services_of_every_profile_are_kept_with_their_profiles(tmp_path: Path) -> None:
    text = '[services.a]\ncommand = "x"\nready.port = 1\nprofiles = ["debug"]\n'
    (service,) = read_config(_write(tmp_path, text)).services
    assert service.profiles == ("debug",)


def test_without_any_image_a_service_has_none(tmp_path: Path) -> None:
    config = read_config(_write(tmp_path, '[services.a]\ncommand = "x"\nready.port = 1\n'))
    assert config.services[0].image is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[container]\nimage = "a"\nworkdir = "app"\n',
            "container.workdir: must be an absolute path, not 'app'",
        ),
        ('[container]\nimage = "a b"\n', "container.image: must be an image reference without"),
        ("[container]\nimage = 3\n", "container.image: must be a string, not int"),
        ('[container]\nimg = "a"\n', "container.img: unknown key; did you mean 'image'?"),
        (
            '[services.a.container]\nports = ["80:http"]\n',
            "services.a.container.ports[0]: must be a port or 'HOST:CONTAINER'",
        ),
        (
            "[services.a.container]\nports = [70000]\n",
            "services.a.container.ports[0]: port 70000 is not from 1 to 65535",
        ),
        (
            "[services.a.container]\nports = 80\n",
            "services.a.container.ports: must be an array, not int",
        ),
        (
            '[services.a.container]\nvolumes = ["data"]\n',
            "services.a.container.volumes[0]: must be 'SOURCE:TARGET[:MODE]'",
        ),
        (
            '[services.a.container]\nvolumes = ["a:/b:bogus"]\n',
            "services.a.container.volumes[0]: must be 'SOURCE:TARGET[:MODE]'",
        ),
        (
            '[services.a.container]\nready.log_line = "up"\n',
            "services.a.container.ready: give one of port, url or script",
        ),
        (
            "[services.a.container]\nready.port = 0\n",
            "services.a.container.ready.port: must be an integer from 1 to 65535, not 0",
        ),
        (
            '[services.a.container]\ncommand = [""]\n',
            "services.a.container.command[0]: must not be empty",
        ),
        (
            '[services.a.container]\ncolour = "red"\n',
            "services.a.container.colour: unknown key",
        ),
    ],
)
def test_a_mistake_in_a_container_table_names_its_key(
    tmp_path: Path, text: str, message: str
) -> None:
    service = '[services.a]\ncommand = "x"\nready.port = 1\n'
    assert _error(tmp_path, service + text).startswith(message)


DB = '[services.db]\ncommand = "x"\nready.port = 1\n'
DOCUMENTED = [
    (
        DB + '[services.db.container]\nports = ["80:http"]\n',
        "services.db.container.ports[0]: must be a port or 'HOST:CONTAINER' (as in compose: "
        '8080, "8080:80", "127.0.0.1:8080:80/tcp"), not \'80:http\'',
    ),
    (
        DB + '[services.db.container]\nvolumes = ["data"]\n',
        "services.db.container.volumes[0]: must be 'SOURCE:TARGET[:MODE]' with an absolute "
        'TARGET (as in compose: "pgdata:/var/lib/postgresql/data", "./conf:/etc/app:ro"), '
        "not 'data'",
    ),
    (
        DB + '[services.db.container]\nvolumes = ["my vol:/y"]\n',
        "services.db.container.volumes[0]: invalid volume name 'my vol': use letters, digits, "
        "'_', '.' and '-', starting with a letter or digit (or './' before a folder beside the "
        "config file)",
    ),
    (
        DB + '[container]\nworkdir = "app"\n',
        "container.workdir: must be an absolute path, not 'app'",
    ),
    (
        DB + "[services.db.container.ready]\n",
        "services.db.container.ready: give one of port, url or script (a container's "
        "readiness is polled: log_line and notify have no equivalent)",
    ),
    (
        '[services.gate]\nkind = "check"\nready.port = 1\ncontainer.command = "x"\n',
        "services.gate.container.command: not allowed for a check (it runs no process)",
    ),
]
CONTAINER_MESSAGES = {message for _, message in DOCUMENTED}


@pytest.mark.parametrize(("text", "message"), DOCUMENTED)
def test_the_messages_in_the_docs_are_the_real_ones(
    tmp_path: Path, text: str, message: str
) -> None:
    assert _error(tmp_path, text) == message


def test_a_check_container_takes_an_image_and_a_ready_only(tmp_path: Path) -> None:
    check = '[services.gate]\nkind = "check"\nready.port = 1\n[services.gate.container]\n'
    assert _error(tmp_path, check + 'command = "x"\n') == (
        "services.gate.container.command: not allowed for a check (it runs no process)"
    )
    config = read_config(_write(tmp_path, check + 'image = "busybox"\nready.port = 2\n'))
    assert config.services[0].container_probe == ConfigProbe("port", port=2)


def test_a_oneshot_container_takes_no_ready(tmp_path: Path) -> None:
    text = '[services.job]\nkind = "oneshot"\ncommand = "x"\ncontainer.ready.port = 1\n'
    assert _error(tmp_path, text).startswith("services.job.container.ready: not allowed")


def test_check_reports_a_container_mistake_before_anything_runs(tmp_path: Path) -> None:
    path = _write(tmp_path, '[services.a]\ncommand = "x"\nready.port = 1\ncontainer.ports = [0]\n')
    with pytest.raises(ConfigError, match=r"services\.a\.container\.ports\[0\]"):
        load_config(path)
