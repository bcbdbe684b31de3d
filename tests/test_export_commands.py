"""`healthdaemons export` and `healthdaemons import` as a user types them
(docs/export.md, docs/import.md): where the output goes, the report on
stderr, what is never overwritten, and the exit status of bad input.
Nothing here starts a process."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from healthdaemons._cli import main
from healthdaemons._export_commands import GENERATED

SYSTEM = """
[container]
image = "python:3.12-slim"

[services.store]
command = ["python3", "store.py"]
ready.port = 8765

[services.api]
command = ["python3", "api.py"]
requires = ["store"]
ready.url = "http://127.0.0.1:8766/health"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "stack.toml"
    path.write_text(textwrap.dedent(SYSTEM))
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_export_compose_prints_the_yaml_and_the_report(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _run(capsys, "export", "compose", str(config))
    assert status == 0
    assert out.startswith(f"{GENERATED} export from stack.toml")
    assert set(yaml.safe_load(out)["services"]) == {"store", "api"}
    assert "Fidelity of" in err and "docker compose" in err


def test_a_dash_is_stdout(
    config: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    status, out, _ = _run(capsys, "export", "compose", str(config), "-o", "-")
    assert status == 0 and out.startswith(GENERATED)
    procfile = tmp_path / "Procfile"
    procfile.write_text("web: python3 -m http.server\n")
    status, out, _ = _run(capsys, "import", str(procfile), "-o", "-")
    assert status == 0 and out.startswith(GENERATED)
    assert not (tmp_path / "-").exists()


def test_export_writes_a_file_and_writes_it_again(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "out" / "compose.yaml"
    assert _run(capsys, "export", "compose", str(config), "-o", str(output))[0] == 0
    first = output.read_text()
    config.write_text(config.read_text().replace("8766", "8767"))
    status, out, err = _run(capsys, "export", "compose", str(config), "-o", str(output))
    assert (status, out) == (0, "")
    assert f"wrote {output}" in err
    assert output.read_text() != first and "8767" in output.read_text()


def test_a_file_not_written_by_healthdaemons_is_kept_unless_forced(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "compose.yaml"
    output.write_text("services: {}\n")
    status, _, err = _run(capsys, "export", "compose", str(config), "-o", str(output))
    assert status == 2
    assert err == (
        f"healthdaemons: {output}: exists and was not written by healthdaemons: "
        "give --force to overwrite it, or another -o\n"
    )
    assert output.read_text() == "services: {}\n"
    assert _run(capsys, "export", "compose", str(config), "-o", str(output), "--force")[0] == 0
    assert output.read_text().startswith(GENERATED)


def test_a_mistake_in_the_file_writes_nothing(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config.write_text(config.read_text().replace('requires = ["store"]', 'requires = ["stor"]'))
    output = tmp_path / "compose.yaml"
    status, out, err = _run(capsys, "export", "compose", str(config), "-o", str(output))
    assert (status, out) == (2, "")
    assert err.startswith(f"healthdaemons: {config}: services.api.requires: unknown service")
    assert not output.exists()


def test_a_service_without_an_image_is_named(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config.write_text(config.read_text().replace('image = "python:3.12-slim"', ""))
    for target in ("compose", "kubernetes"):
        status, out, err = _run(capsys, "export", target, str(config))
        assert (status, out) == (2, "")
        assert err.startswith(f"healthdaemons: {config}: services.store: no image to run it in")


def test_export_kubernetes_to_a_folder_or_to_one_file(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "k8s"
    status, _, err = _run(capsys, "export", "kubernetes", str(config), "-o", str(folder))
    assert status == 0
    written = sorted(path.name for path in folder.iterdir())
    assert written and all(name.endswith(".yaml") for name in written)
    assert all(path.read_text().startswith(GENERATED) for path in folder.iterdir())
    assert err.rstrip().endswith(f"wrote {folder}: " + ", ".join(_names(err)))
    single = tmp_path / "all.yaml"
    assert _run(capsys, "export", "kubernetes", str(config), "-o", str(single))[0] == 0
    text = single.read_text()
    assert text.count(GENERATED) == 1 and text.count("Fidelity of") == 1  # the report once
    documents = [d for d in yaml.safe_load_all(text) if d is not None]
    kinds = {document["kind"] for document in documents}
    assert "Deployment" in kinds
    status, out, _ = _run(capsys, "export", "kubernetes", str(config), "--single-pod")
    pods = [d for d in yaml.safe_load_all(out) if d is not None and d["kind"] == "Pod"]
    assert status == 0 and len(pods) == 1


def _names(err: str) -> list[str]:
    last = err.rstrip().splitlines()[-1]
    return last.split(": ", 1)[1].split(", ")


def test_a_folder_with_a_hand_written_file_gets_no_file_at_all(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "k8s"
    assert _run(capsys, "export", "kubernetes", str(config), "-o", str(folder))[0] == 0
    names = sorted(path.name for path in folder.iterdir())
    mine = folder / names[-1]
    mine.write_text("kind: Secret\n")
    for path in folder.iterdir():
        if path != mine:
            path.unlink()
    status, _, err = _run(capsys, "export", "kubernetes", str(config), "-o", str(folder))
    assert status == 2 and "was not written by healthdaemons" in err
    assert [path.name for path in folder.iterdir()] == [mine.name]


def test_kubernetes_options_are_refused_for_compose(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["export", "compose", str(config), "--single-pod"])
    assert exited.value.code == 2
    assert "--single-pod and --namespace are for `export kubernetes`" in capsys.readouterr().err


def test_import_writes_a_config_that_check_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    procfile = tmp_path / "Procfile"
    procfile.write_text("web: python3 -m http.server $PORT\nworker: python3 worker.py\n")
    output = tmp_path / "system.toml"
    status, out, err = _run(capsys, "import", str(procfile), "-o", str(output))
    assert (status, out) == (0, "")
    assert f"wrote {output}; next: healthdaemons check {output}" in err
    assert output.read_text().startswith(f"{GENERATED} import from Procfile")
    from coordinator import read_config

    assert [s.id for s in read_config(output).services] == ["web", "worker"]
    output.write_text("# mine\n")
    assert _run(capsys, "import", str(procfile), "-o", str(output))[0] == 2
    assert output.read_text() == "# mine\n"


def test_import_of_something_else_says_what_it_is_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "notes.yaml"
    source.write_text("shopping: [eggs]\n")
    status, out, err = _run(capsys, "import", str(source))
    assert (status, out) == (2, "")
    assert err.startswith(f"healthdaemons: {source}")
