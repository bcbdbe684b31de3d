"""The TOML writer of `healthdaemons import`: what it writes reads back as the
same data, with tomllib and as a config file."""

from __future__ import annotations

import math
import tempfile
import tomllib
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from coordinator import read_config
from healthdaemons._toml_writer import Value, toml_document, toml_value

_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
_SCALARS = st.one_of(
    _TEXT,
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.booleans(),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(_TEXT, _VALUES, max_size=6))
def test_any_document_reads_back_as_the_same_data(data: dict[str, Value]) -> None:
    assert tomllib.loads(toml_document(data, sections=("ready",))) == data


def test_strings_are_escaped_as_toml_reads_them() -> None:
    for text in ['say "hi"', "a\\b", "tab\there", "new\nline", "\x00\x1f\x7f", "it's \\d+", "é ✓"]:
        assert tomllib.loads(f"v = {toml_value(text)}")["v"] == text
    assert toml_value("listening on \\d+") == "'listening on \\d+'"  # a regex reads as written
    assert toml_value(1e16) == "1e+16" and tomllib.loads("v = 1e+16")["v"] == 1e16
    assert toml_value(math.inf) == "inf"


def test_tables_are_sections_or_inline_as_they_read_best() -> None:
    text = toml_document(
        {"services": {"web": {"command": ["a"], "env": {"A": "1"}, "ready": {"port": 80}}}},
        sections=("services", "ready"),
    )
    assert text == (
        '[services.web]\ncommand = ["a"]\nenv = { A = "1" }\n\n[services.web.ready]\nport = 80\n'
    )


_IDS = st.from_regex(r"[a-z][a-z0-9]{0,5}(-[a-z0-9]{1,4})?", fullmatch=True)
# `$` is the file's variables (a literal one is written `$$`): left out here.
_WORDS = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"], exclude_characters="$"),
    min_size=1,
    max_size=8,
).filter(str.strip)
_NAMES = st.from_regex(r"[A-Z_][A-Z0-9_]{0,6}", fullmatch=True)
_READY: list[Value] = [{"script": ["true"]}, {"log_line": "ready \\d+", "stream": "stderr"}]


@st.composite
def _systems(draw: st.DrawFn) -> dict[str, Value]:
    ids = draw(st.lists(_IDS, min_size=1, max_size=6, unique=True))
    services: dict[str, Value] = {}
    for index, id in enumerate(ids):
        requires = draw(st.lists(st.sampled_from(ids[:index]), unique=True)) if index else []
        services[id] = {
            "command": draw(st.lists(_WORDS, min_size=1, max_size=3)),
            "requires": requires,
            "env": draw(st.dictionaries(_NAMES, _WORDS, max_size=3)),
            "ready": draw(st.sampled_from([{"port": 8000 + index}, *_READY])),
        }
    return {"services": services}


@given(_systems())
def test_a_system_written_reads_back_as_the_same_config(system: dict[str, Value]) -> None:
    text = toml_document(system, sections=("services", "ready"))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "system.toml"
        path.write_text(text, encoding="utf-8")
        config = read_config(path)
    services = system["services"]
    assert isinstance(services, dict)
    assert {service.id for service in config.services} == set(services)
    for service in config.services:
        table = services[service.id]
        assert service.command == tuple(table["command"])
        assert service.requires == tuple(table["requires"])
        assert dict(service.env) == table["env"]
        assert service.ready is not None
        assert {
            "port": service.ready.port,
            "script": service.ready.script,
            "log_line": service.ready.log_line,
        }[service.ready.kind] in (
            table["ready"].get("port"),
            tuple(table["ready"].get("script", ())),
            table["ready"].get("log_line"),
        )
