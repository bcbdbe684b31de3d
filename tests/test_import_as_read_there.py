"""`import_config` reads a file as compose, process-compose and foreman read
it (YAML as Go's yaml.v3 reads it, variables filled in before a command is
split, `docker run` given what compose gives the container), refuses what it
does not follow, and reports every key it does not read."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from coordinator import load_config
from healthdaemons._import_config import ImportProblem, import_config


def _imported(tmp_path: Path, name: str, text: str) -> tuple[str, dict[str, dict[str, object]]]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    imported = import_config(path, None).text
    written = tmp_path / "system.toml"
    written.write_text(imported, encoding="utf-8")
    load_config(written)
    return imported, tomllib.loads(imported)["services"]


def test_yaml_is_read_as_go_reads_it_not_as_yaml_1_1(tmp_path: Path) -> None:
    _, services = _imported(
        tmp_path,
        "compose.yaml",
        "services:\n"
        "  once: {command: [x], restart: no}\n"
        "  web:\n"
        "    command: [y]\n"
        "    environment: {DEBUG: yes, QUIET: off, MODE: 0o755, WHEN: 2024-01-01,\n"
        "                  ODD: 0x_, DOT: ._}\n"
        "    ports: [22:22]\n",
    )
    assert services["once"]["kind"] == "oneshot"
    assert services["once"]["max_restarts"] == 0
    web = services["web"]
    assert web["env"] == {
        "DEBUG": "yes", "QUIET": "off", "MODE": "493", "WHEN": "2024-01-01",
        "ODD": "0x_", "DOT": "._",
    }  # fmt: skip
    assert web["container"] == {"ports": ["22:22"]}
    _, processes = _imported(tmp_path, "pc.yaml", "processes:\n  off: {command: x}\n")
    assert list(processes) == ["off"]


def test_a_docker_run_passes_on_a_variable_named_without_a_value(tmp_path: Path) -> None:
    text, services = _imported(
        tmp_path,
        "compose.yaml",
        "name: shop\nservices:\n  db:\n    image: postgres:16\n"
        "    environment: [POSTGRES_PASSWORD, PGDATA=/data]\n    user: '999:999'\n",
    )
    command = services["db"]["command"]
    assert command == [
        "docker", "run", "--rm", "--name", "shop-db", "-e", "PGDATA",
        "-e", "POSTGRES_PASSWORD", "-u", "999:999", "postgres:16",
    ]  # fmt: skip
    assert "get the supervisor's environment anyway" not in text
    assert "db.user" not in text


def test_a_string_command_keeps_each_variable_in_one_word(tmp_path: Path) -> None:
    _, services = _imported(
        tmp_path,
        "compose.yaml",
        "services:\n  a:\n    command: echo ${G:-hello world} '${H}' $$x $$${I:-a b}\n",
    )
    assert services["a"]["command"] == [
        "echo", "${G:-hello world}", "${H:-}", "$$x", "$$${I:-a b}",
    ]  # fmt: skip


def test_a_process_compose_url_port_with_a_variable_stays_a_variable(tmp_path: Path) -> None:
    _, processes = _imported(
        tmp_path,
        "pc.yaml",
        "processes:\n  api:\n    command: ./api\n    readiness_probe:\n"
        "      http_get: {host: 127.0.0.1, port: '${API_PORT}', path: /health}\n",
    )
    assert processes["api"]["ready"] == {"url": "http://127.0.0.1:${API_PORT:-}/health"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "include: [other.yaml]\nservices:\n  a: {command: x, depends_on: [b]}\n",
            "compose.yaml: include: not followed: import the included files too",
        ),
        (
            "services:\n  base: {command: x}\n  web: {extends: {service: base}}\n",
            "compose.yaml: services.web.extends: not followed: write the service out in full",
        ),
        (
            'services:\n  web: {command: "\\ud800"}\n',
            "compose.yaml: services.web.command: not UTF-8 text (a lone surrogate)",
        ),
        (
            'services:\n  web: {command: x, environment: {"\\udc80": x}}\n',
            "compose.yaml: services.web.environment: not UTF-8 text (a lone surrogate)",
        ),
    ],
)
def test_what_is_not_followed_is_refused(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "compose.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ImportProblem) as raised:
        import_config(tmp_path / "compose.yaml", None)
    assert str(raised.value).startswith(f"{tmp_path}/{message}")


def test_every_deploy_and_healthcheck_key_not_read_is_reported(tmp_path: Path) -> None:
    text, services = _imported(
        tmp_path,
        "compose.yaml",
        "services:\n  a:\n    command: [x]\n"
        "    deploy:\n      resources: {limits: {memory: 512M}}\n"
        "      placement: {constraints: [node.role==manager]}\n"
        "      restart_policy: {condition: on-failure, max_attempts: 2, delay: 5s, window: 60s}\n"
        "    healthcheck: {test: [CMD, check], start_interval: 5s}\n",
    )
    for key in (
        "a.deploy.resources: lost",
        "a.deploy.placement: lost",
        "a.deploy.restart_policy.delay: lost",
        "a.deploy.restart_policy.window: lost",
        "a.healthcheck.start_interval: lost",
    ):
        assert f"#   {key}" in text
    assert (services["a"]["restart"], services["a"]["max_restarts"]) == ("on-failure", 2)
    # deploy.restart_policy is a restart policy: compose restarts it
    assert "not restarted by compose" not in text


def test_on_failure_0_restarts_without_a_limit_as_docker_reads_it(tmp_path: Path) -> None:
    _, services = _imported(
        tmp_path,
        "compose.yaml",
        "services:\n  a: {command: [x], restart: 'on-failure:0'}\n"
        "  b: {command: [y], deploy: {restart_policy: {condition: on-failure, max_attempts: 0}}}\n",
    )
    for name in ("a", "b"):
        assert services[name]["restart"] == "on-failure"
        assert "max_restarts" not in services[name]


def test_a_valid_id_keeps_its_name_before_a_renamed_one(tmp_path: Path) -> None:
    text, services = _imported(
        tmp_path,
        "compose.yaml",
        "services:\n  myApp: {command: [x]}\n  my-app: {command: [y]}\n"
        "  front: {command: [z], depends_on: [myApp, my-app]}\n",
    )
    assert services["my-app"]["command"] == ["y"]
    assert services["my-app-2"]["command"] == ["x"]
    assert services["front"]["requires"] == ["my-app-2", "my-app"]
    assert "#   my-app-2.id: kept: renamed from 'myApp'" in text


def test_a_procfile_release_line_counts_when_ports_are_numbered(tmp_path: Path) -> None:
    _, services = _imported(tmp_path, "Procfile", "release: ./migrate\nweb: ./web -p $PORT\n")
    assert services["web"]["env"] == {"PORT": "5100"}


def test_a_lone_surrogate_anywhere_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        'services:\n  web: {command: x, deploy: {"\\ud800": 1}}\n', encoding="utf-8"
    )
    with pytest.raises(ImportProblem, match=r"compose\.yaml: not UTF-8 text \(a lone surrogate\)"):
        import_config(tmp_path / "compose.yaml", None)


def test_a_service_with_nothing_to_run_is_refused_as_compose_refuses_it(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  web: {ports: ['80']}\n")
    with pytest.raises(ImportProblem, match=r"compose\.yaml: services\.web: give a command"):
        import_config(tmp_path / "compose.yaml", None)


@pytest.mark.parametrize(("status", "wanted"), [(None, 200), (204, 204), (400, 400), (500, 200)])
def test_the_status_process_compose_wants_is_reported_as_it_reads_it(
    tmp_path: Path, status: int | None, wanted: int
) -> None:
    given = "" if status is None else f", status_code: {status}"
    text, _ = _imported(
        tmp_path,
        "pc.yaml",
        f"processes:\n  api:\n    command: ./api\n    readiness_probe:\n"
        f"      http_get: {{port: 8080{given}}}\n",
    )
    assert f"(process-compose wants {wanted})" in text


def test_a_dependency_note_names_the_service_by_its_id(tmp_path: Path) -> None:
    text, _ = _imported(
        tmp_path,
        "compose.yaml",
        "services:\n  db: {command: [x]}\n  myApp: {command: [y], depends_on: [db]}\n",
    )
    assert "#   my-app.depends_on: approximated: service_started for db: here it starts" in text
    assert "myApp starts" not in text
