"""`make docs-diagrams` draws every picture of docs/diagrams.md from a real run."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
PICTURES = ("lifecycle.svg", "system.svg", "system-live.svg", "timeline.svg")


def test_the_gallery_script_draws_every_picture(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "examples" / "make_diagrams.py"), str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    for name in PICTURES:
        root = ET.parse(tmp_path / name).getroot()
        assert root.tag == "{http://www.w3.org/2000/svg}svg", name
    live = (tmp_path / "system-live.svg").read_text()
    assert "failing" in live
    assert "waiting" in live
    timeline = ET.parse(tmp_path / "timeline.svg").getroot()
    lanes = {g.get("data-entry") for g in timeline.iter("{http://www.w3.org/2000/svg}g")}
    assert {"store", "seed", "gate", "worker", "api"} <= lanes
    assert (tmp_path / "lifecycle.dot").read_text() == (
        ROOT / "tests" / "golden" / "lifecycle.dot"
    ).read_text()


def test_the_docs_show_the_committed_pictures() -> None:
    page = (ROOT / "docs" / "diagrams.md").read_text()
    for name in PICTURES:
        assert f"(images/{name})" in page
        assert (ROOT / "docs" / "images" / name).is_file()
