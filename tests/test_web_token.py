"""The web console's token file (`healthdaemons/_web_token.py`): made once,
0600, reused; replaced when it cannot be trusted."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from healthdaemons._control_paths import ControlPaths
from healthdaemons._web_token import web_token


def test_made_once_private_and_reused(tmp_path: Path) -> None:
    path = ControlPaths.beside(tmp_path / "system.sock").web_token
    assert path.name == "system.web-token"
    token = web_token(path)
    assert len(token) >= 40
    assert path.read_text() == token + "\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert web_token(path) == token
    path.unlink()
    assert web_token(path) != token


def test_a_file_that_cannot_be_trusted_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "system.web-token"
    token = web_token(path)
    path.chmod(0o640)
    replaced = web_token(path)
    assert replaced != token and stat.S_IMODE(path.stat().st_mode) == 0o600
    for text in ("short\n", "", "x" * 50 + " <script>\n"):
        path.write_text(text)
        assert web_token(path) not in (text.strip(), replaced)
    # Never through a link someone left there: the link is replaced, its target untouched.
    target = tmp_path / "elsewhere"
    target.write_text("keep\n")
    path.unlink()
    os.symlink(target, path)
    made = web_token(path)
    assert target.read_text() == "keep\n"
    assert not path.is_symlink() and path.read_text() == made + "\n"
