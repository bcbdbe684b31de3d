"""The web console's page as shipped (`healthdaemons/web/`), read as files:
every DOM hook of the contract the browser tests and the benchmark rely on,
no inline code (the page's CSP allows scripts from /static only), and every
module the scripts import shipped beside them (tests/test_web_page.py checks
the files the page links). What it does is tested in a real browser
(tests/browser/)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from importlib import resources

WEB = resources.files("healthdaemons").joinpath("web")

HOOKS = {
    "connection": "span",
    "entries": "table",
    "graph": "div",
    "selected": "span",
    "log": "div",
    "log-pause": "button",
    "log-filter": "input",
    "actions": "div",
    "action-result": "p",
    "confirm": "dialog",
    "timeline": "div",
    "timeline-live": "input",
    "timeline-start": "input",
    "timeline-end": "input",
    "lifecycle": "div",
}
SORTS = {"id", "name", "state", "health", "pid", "restarts", "uptime"}
_IMPORT = re.compile(r'^import\s[^;]*?\sfrom\s"([^"]+)";', re.M)


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: dict[str, str] = {}
        self.attributes: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[dict[str, str | None]] = []
        self.inline_code: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.attributes.append((tag, attributes))
        if attributes.get("id"):
            self.tags[str(attributes["id"])] = tag
        if tag == "script":
            self.scripts.append(attributes)
            self._in_script = True
        if any(name.startswith("on") for name in attributes):
            self.inline_code.append(f"<{tag} {attrs}>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_code.append(data.strip()[:40])


def _page() -> _Page:
    page = _Page()
    page.feed(WEB.joinpath("index.html").read_text(encoding="utf-8"))
    return page


def test_the_page_has_every_hook_of_the_contract() -> None:
    page = _page()
    for hook, tag in HOOKS.items():
        assert page.tags.get(hook) == tag, hook
    buttons = {
        (attributes.get("data-action"), attributes.get("data-sort"), attributes.get("value"))
        for tag, attributes in page.attributes
        if tag == "button"
    }
    for action in ("stop", "start", "restart", "shutdown"):
        assert (action, None, None) in buttons, action
    assert {sort for _, sort, _ in buttons if sort} == SORTS
    assert {value for _, _, value in buttons if value} == {"confirm", "cancel"}


def test_no_inline_code_and_every_script_from_static() -> None:
    page = _page()
    assert page.inline_code == []
    for script in page.scripts:
        source = script.get("src")
        is_data = script.get("type") == "application/json"
        assert is_data or (source is not None and source.startswith("/static/")), script


def test_every_module_the_scripts_import_is_shipped() -> None:
    scripts = [item for item in WEB.iterdir() if item.name.endswith(".js")]
    assert "console.js" in {script.name for script in scripts}
    imported = set()
    for script in scripts:
        for target in _IMPORT.findall(script.read_text(encoding="utf-8")):
            # Beside it, so that it is served from /static too: no CDN, no package.
            assert target.startswith("./") and "/" not in target[2:], (script.name, target)
            assert WEB.joinpath(target[2:]).is_file(), (script.name, target)
            imported.add(target[2:])
    assert imported == {script.name for script in scripts} - {"console.js"}
