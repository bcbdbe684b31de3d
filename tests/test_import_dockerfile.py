"""A compose service built from a Dockerfile, with no command of its own:
the Dockerfile's ENTRYPOINT and CMD, run here from the build context."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from coordinator import load_config
from healthdaemons._import_config import import_config
from healthdaemons._import_dockerfile import built_command


def _built(tmp_path: Path, dockerfile: str, build: object = "app") -> object:
    (tmp_path / "app").mkdir(exist_ok=True)
    (tmp_path / "app" / "Dockerfile").write_text(dockerfile, encoding="utf-8")
    built = built_command(tmp_path, build)
    return None if built is None else built.command


_MULTI_STAGE = (
    "# syntax=docker/dockerfile:1\n"
    'FROM x AS build\nCMD ["make"]\n'
    'FROM y\nCMD ["./server", \\\n  "--port", "80"]\n'
)


@pytest.mark.parametrize(
    ("dockerfile", "command"),
    [
        ('FROM python:3.12\nCMD ["python", "app.py"]\n', ["python", "app.py"]),
        ("FROM node\nCMD npm start\n", "npm start"),
        (
            'FROM x\nENTRYPOINT ["gunicorn"]\nCMD ["-b", ":80", "app"]\n',
            ["gunicorn", "-b", ":80", "app"],
        ),
        (
            'FROM x\nENTRYPOINT ["tini", "--"]\nCMD run.sh --fast\n',
            ["tini", "--", "/bin/sh", "-c", "run.sh --fast"],
        ),
        ('FROM x\nCMD ["old"]\nENTRYPOINT ./serve\nCMD ["ignored"]\n', "./serve"),
        ('FROM x\nCMD ["a"]\nENTRYPOINT ["b"]\n', ["b"]),  # it drops the CMD before it
        (_MULTI_STAGE, ["./server", "--port", "80"]),
        ("FROM nginx\nCOPY site /usr/share/nginx/html\n", None),  # the base image's own
        ("", None),
    ],
)
def test_the_dockerfile_says_what_the_image_runs(
    tmp_path: Path, dockerfile: str, command: object
) -> None:
    assert _built(tmp_path, dockerfile) == command


def test_a_target_stage_and_a_named_dockerfile(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dev.Dockerfile").write_text(
        'FROM x AS dev\nCMD ["dev"]\nFROM x AS prod\nCMD ["prod"]\n', encoding="utf-8"
    )
    build = {"context": "app", "dockerfile": "Dev.Dockerfile", "target": "dev"}
    built = built_command(tmp_path, build)
    assert built is not None and (built.command, built.dockerfile) == (
        ["dev"],
        "app/Dev.Dockerfile",
    )
    assert built_command(tmp_path, {"context": "app"}) is None  # no ./app/Dockerfile
    assert built_command(tmp_path, "https://github.com/x/y.git") is None


def test_a_built_service_runs_its_dockerfiles_command_from_its_context(tmp_path: Path) -> None:
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "Dockerfile").write_text(
        'FROM python\nWORKDIR /srv\nCMD ["python", "-m", "api"]\n', encoding="utf-8"
    )
    compose = tmp_path / "compose.yaml"
    compose.write_text(
        "services:\n  api: {build: ./api, working_dir: /srv, ports: ['8000:8000']}\n"
        "  site: {build: ./site}\n",
        encoding="utf-8",
    )
    imported = import_config(compose, None)
    services = tomllib.loads(imported.text)["services"]
    assert services["api"]["command"] == ["python", "-m", "api"]
    assert services["api"]["cwd"] == "api"
    assert "api.build: approximated: no command: the ENTRYPOINT and CMD of api/Dockerfile" in (
        imported.report.text().replace("\n      ", " ")
    )
    assert services["site"]["command"] == "echo 'services.site: give its command' >&2; exit 1"
    written = tmp_path / "system.toml"
    written.write_text(imported.text, encoding="utf-8")
    load_config(written)
