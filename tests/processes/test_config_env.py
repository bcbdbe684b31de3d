"""A config file's `${VAR}`, project `.env` and `env_file` reach a real child:
a oneshot run through `load_config(...).build()` prints its environment."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from coordinator import load_config

CONFIG = """
[services.show]
kind = "oneshot"
env_file = ["env/base.env", "env/local.env"]
env = { FROM_TABLE = "table ${GREETING:-hi}", OVERRIDDEN = "by env" }
command = '''
echo "port=${PORT:-8080} name=$NAME for the shell=$$NAME"; echo 'literal=$$NAME'

for key in FROM_BASE FROM_LOCAL OVERRIDDEN FROM_TABLE DSN PROJECT_ONLY; do
    echo "$$key=$(printenv "$$key")"
done
'''
"""


async def test_the_child_sees_interpolated_values_and_its_env_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NAME", "from-shell")
    monkeypatch.delenv("PORT", raising=False)
    monkeypatch.delenv("PROJECT_ONLY", raising=False)
    monkeypatch.delenv("GREETING", raising=False)
    (tmp_path / ".env").write_text("NAME=from-dotenv\nPROJECT_ONLY=yes\nGREETING=hello\n")
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / "base.env").write_text(
        "FROM_BASE=base\nOVERRIDDEN=by base\nDSN=postgres://${NAME}@db/${PROJECT_ONLY}\n"
    )
    (tmp_path / "env" / "local.env").write_text("FROM_LOCAL=local\nOVERRIDDEN=by local\n")
    config = tmp_path / "app.toml"
    config.write_text(textwrap.dedent(CONFIG))
    monkeypatch.chdir("/")  # the paths are relative to the file, not to here
    system = load_config(config)
    async with system.build() as running:
        await running.wait_ready(timeout=30)
        printed = [line.text for line in running.output("show")]
    assert printed == [
        "port=8080 name=from-shell for the shell=from-shell",
        "literal=$NAME",
        "FROM_BASE=base",
        "FROM_LOCAL=local",
        "OVERRIDDEN=by env",
        "FROM_TABLE=table hello",
        "DSN=postgres://from-shell@db/yes",
        # The project's .env feeds interpolation only; it is not passed on.
        "PROJECT_ONLY=",
    ]
