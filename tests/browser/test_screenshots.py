"""`make screenshots`: the console on the demo stack, light and dark, as PNGs."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _size(png: Path) -> tuple[int, int]:
    header = png.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n" and header[12:16] == b"IHDR", png
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_the_screenshot_script_writes_both_pictures(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "console_screenshots.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    light, dark = tmp_path / "console-light.png", tmp_path / "console-dark.png"
    assert done.stdout.splitlines()[-2:] == [str(light), str(dark)]
    for picture in (light, dark):
        width, height = _size(picture)
        assert width == 1600 and height >= 1000, picture
    assert light.read_bytes() != dark.read_bytes()
