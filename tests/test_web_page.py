"""The web console's files ship in the package, and the page keeps the
marker where the server puts its data block (healthdaemons/_web_page.py)."""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from pathlib import Path

from healthdaemons._web_page import DATA_MARKER, page_data

ROOT = Path(__file__).resolve().parent.parent


def test_the_page_and_its_files_are_package_data() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "web/*" in project["tool"]["setuptools"]["package-data"]["healthdaemons"]
    web = resources.files("healthdaemons").joinpath("web")
    page = web.joinpath("index.html").read_text(encoding="utf-8")
    assert page.count(DATA_MARKER) == 1
    for linked in re.findall(r'(?:src|href)="/static/([^"]+)"', page):
        assert web.joinpath(linked).is_file(), linked
    assert {"console.js", "console.css"} <= set(re.findall(r'(?:src|href)="/static/([^"]+)"', page))
    # Nothing from elsewhere: no CDN, no build step.
    assert not re.search(r'(?:src|href)="(?:https?:)?//', page)


def test_the_data_block_carries_the_diagrams_palette() -> None:
    data = page_data("system.toml")
    assert set(data) == {"config", "states", "palette"}  # no secret
    assert data["config"] == "system.toml"
    assert data["states"] == ["waiting", "starting", "ready", "failing", "stopping", "stopped"]
    assert data["palette"]["stopped"] == {"fill": "#757575", "text": "#ffffff"}
