"""Screenshots of the web console on the demo stack, light and dark (`make screenshots`).

    python examples/console_screenshots.py [OUTPUT_DIR]      (default docs/images)

Runs `healthdaemons up examples/demo.toml --web 127.0.0.1:0`, waits until
every entry is ready, opens the URL it printed in headless Chromium (Debian's
/usr/bin/chromium, or the binary in HEALTHDAEMONS_CHROMIUM, driven by
Playwright), the worker selected and its log showing, once with the browser
in light mode and once in dark, and writes console-light.png and
console-dark.png. The stack is then stopped as Ctrl-C would (SIGTERM).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO, Literal

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
HEALTHDAEMONS = str(Path(sys.executable).with_name("healthdaemons"))
CHROMIUM = os.environ.get("HEALTHDAEMONS_CHROMIUM") or "/usr/bin/chromium"
# As root, no sandbox; the rest keep Chromium from dialing Google's servers.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 60_000
URL = re.compile(r"web console: (http://\S+)")
DEMO_PORTS = (8765, 8766)
SELECTED = "worker"
LOG_LINES = 4
"""Lines of the worker's output shown before the picture is taken."""


def printed_url(up: subprocess.Popen[str]) -> str:
    """The console's URL, from `up`'s output (read to its end in a thread,
    so that `up` never blocks on a full pipe)."""
    found = threading.Event()
    url: list[str] = []

    def read(stream: IO[str]) -> None:
        for line in stream:
            match = URL.search(line)
            if match and not url:
                url.append(match[1])
                found.set()
        found.set()  # `up` ended: no URL will come

    assert up.stdout is not None
    threading.Thread(target=read, args=(up.stdout,), daemon=True).start()
    if not found.wait(timeout=60) or not url:
        raise SystemExit("console_screenshots: `up --web` printed no URL")
    return url[0]


def shoot(url: str, output: Path, scheme: Literal["light", "dark"]) -> Path:
    with tempfile.TemporaryDirectory(prefix="hd-chromium-") as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            env={**os.environ, "XDG_CONFIG_HOME": profile, "XDG_CACHE_HOME": profile},
            color_scheme=scheme,
            viewport={"width": 1600, "height": 1000},
            timeout=TIMEOUT_MS,
        )
        try:
            context.set_default_timeout(TIMEOUT_MS)
            expect.set_options(timeout=TIMEOUT_MS)
            page = context.pages[0] if context.pages else context.new_page()
            page.goto(url)
            expect(page.locator("#connection")).to_have_attribute("data-status", "connected")
            expect(page.locator("table#entries tbody tr[data-state=ready]")).to_have_count(5)
            page.locator(f'#graph svg g.node[data-entry="{SELECTED}"]').click()
            expect(page.locator("#selected")).to_have_text(SELECTED)
            lines = page.locator(f'#log .line[data-entry="{SELECTED}"]')
            expect(lines.nth(LOG_LINES - 1)).to_be_attached()
            expect(page.locator("#lifecycle svg")).to_be_attached()
            # The timeline is redrawn a moment after the events: wait for the last one.
            last = page.locator('#timeline svg g[data-entry="smoke"] rect.state-ready')
            expect(last).to_be_attached()
            page.mouse.move(0, 0)  # no hover highlight in the picture
            picture = output / f"console-{scheme}.png"
            page.screenshot(path=str(picture), full_page=True)
            return picture
        finally:
            context.close()


def ports_in_use() -> list[int]:
    """The demo's fixed ports (examples/demo.toml) something else listens on."""
    busy = []
    for port in DEMO_PORTS:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                busy.append(port)
    return busy


def main() -> None:
    output = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "images"
    if busy := ports_in_use():
        raise SystemExit(
            f"console_screenshots: the demo's ports {busy} are in use "
            "(another demo running?); stop it first"
        )
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hd-") as runtime:
        up = subprocess.Popen(
            [HEALTHDAEMONS, "up", "examples/demo.toml", "--web", "127.0.0.1:0"],
            cwd=ROOT,
            env={**os.environ, "XDG_RUNTIME_DIR": runtime},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            url = printed_url(up)
            subprocess.run(
                [HEALTHDAEMONS, "wait", "examples/demo.toml", "--timeout", "60"],
                cwd=ROOT,
                env={**os.environ, "XDG_RUNTIME_DIR": runtime},
                check=True,
            )
            for scheme in ("light", "dark"):
                print(shoot(url, output, scheme))
        finally:
            up.send_signal(signal.SIGTERM)
            try:
                up.wait(timeout=60)
            except subprocess.TimeoutExpired:
                up.kill()
                up.wait()
            if up.stdout is not None:
                up.stdout.close()


if __name__ == "__main__":
    main()
