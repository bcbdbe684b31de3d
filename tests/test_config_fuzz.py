"""Random config files with the keys of issue 14: `${...}` in any value, a
project `.env`, env files that exist or not, compose's key names, and
requirements among all ids (cycles included). `load_config` returns a
system or raises a `ConfigError` that starts with a key path (or a
whole-file reason), never anything else. (tests/test_fuzz_inputs.py fuzzes
the rest of the format.)"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from coordinator._config_hints import SERVICE_KEY_HINTS

from .test_fuzz_inputs import (
    ANY,
    COMMANDS,
    IDS,
    NUMBERS,
    check_outcome,
    rarely,
    scratch,
    toml_document,
)

# Pieces of `${...}` expressions, right and wrong, joined at random.
PIECES = st.sampled_from(
    [
        *("$", "$$", "{", "}", "${", "A", "EMPTY", "UNSET", "1", "_", ":-", "-", ":?", "?"),
        *(":+", "+", "${A}", "$A", "${UNSET:-x}", "${EMPTY-d}", "${A:+alt}", "$$i", "$i", "$1"),
        *("$(", " ", "/"),
    ]
)
RANDOM_INTERPOLATED = st.lists(PIECES, max_size=6).map("".join)
RIGHT_INTERPOLATED = st.sampled_from(
    ["${A}", "x$A", "${UNSET:-x}", "${EMPTY-d}", "$${A}", "sleep $1 $$i", "${A:+on}", "${A?}"]
)
INTERPOLATED = st.one_of(RIGHT_INTERPOLATED, RANDOM_INTERPOLATED)
GOOD_ENV = "A=1\nEMPTY=\nPORT=8080\nHOST=localhost\n"
PROJECT_ENVS = st.sampled_from(
    [GOOD_ENV] * 6 + [None, "A=${UNSET:-d}\n", "A='$UNSET'\n", "not a line\n", "A=$UNSET\n"]
)
ENV_FILES: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(["a.env", "b.env", "missing.env", "dir", "", "${A}.env", "$UNSET.env"]),
    st.lists(st.sampled_from(["a.env", "b.env", "missing.env", "${A:-a}.env"]), max_size=3),
    ANY,
)
ENV_FILE_TEXTS = st.lists(
    st.sampled_from(
        [
            *("X=1", "Y='$UNSET'", 'Z="${A}"', "W=$X", "V=${UNSET}", "U", "bad line"),
            *("export T=2", "S=${", "# note", "", "R=$$"),
        ]
    ),
    max_size=4,
).map("\n".join)
COMPOSE_KEYS = st.sampled_from(sorted(SERVICE_KEY_HINTS))
STRINGS = st.one_of(COMMANDS, RIGHT_INTERPOLATED, RANDOM_INTERPOLATED)


@st.composite
def service_tables(draw: st.DrawFn, id: str, ids: list[str]) -> dict[str, Any]:
    """A service that could be right, with values to interpolate, then a few
    mutations: a key left out, a wrong type, an unknown or compose key."""
    kind = draw(st.sampled_from(["daemon", "oneshot", "check"]))
    table: dict[str, Any] = {"kind": kind}
    if kind != "check":
        table["command"] = draw(st.one_of(STRINGS, st.lists(STRINGS, min_size=1, max_size=3)))
        if draw(st.booleans()):
            table["env"] = draw(st.dictionaries(st.sampled_from(["A", "B", "$A"]), STRINGS))
        if draw(st.booleans()):
            table["env_file"] = draw(ENV_FILES)
        if draw(st.booleans()):
            table["cwd"] = draw(st.sampled_from([".", "${A:-.}", "$UNSET", "sub", "${A:+sub}"]))
        if draw(st.booleans()):
            table["sigterm_timeout"] = draw(NUMBERS)
    if kind != "oneshot":
        source = draw(st.sampled_from(["port", "url", "script", "log_line", "notify"]))
        plausible = {
            "port": st.integers(0, 70000),
            "url": st.sampled_from(["http://127.0.0.1:${PORT:-8080}/", "http://$HOST/", "${"]),
            "script": STRINGS,
            "log_line": st.sampled_from(["^ready$", "listening on $PORT", "${A}", "$"]),
            "notify": st.booleans(),
        }[source]
        ready: dict[str, Any] = {source: draw(plausible)}
        for option in ("timeout", "interval", "grace_period"):
            if rarely(draw):
                ready[option] = draw(st.one_of(NUMBERS, INTERPOLATED))
        table["ready"] = ready
    if draw(st.booleans()):
        # Mostly earlier ids; now and then any, itself and cycles included.
        choices = ids if rarely(draw) else ids[: ids.index(id)]
        if choices:
            table["requires"] = draw(st.lists(st.sampled_from(choices), max_size=2, unique=True))
    for _ in range(draw(st.integers(1, 2)) if rarely(draw) else 0):
        mutation = draw(st.sampled_from(["drop", "type", "unknown", "compose"]))
        if mutation == "drop" and table:
            del table[draw(st.sampled_from(sorted(table)))]
        elif mutation == "type" and table:
            table[draw(st.sampled_from(sorted(table)))] = draw(ANY)
        elif mutation == "unknown":
            table[draw(INTERPOLATED)] = draw(ANY)
        else:
            table[draw(COMPOSE_KEYS)] = draw(ANY)
    return table


@st.composite
def projects(draw: st.DrawFn) -> tuple[dict[str, object], str | None, dict[str, str]]:
    """A document, the project's `.env` (or none), and the env files beside it."""
    ids = draw(st.lists(IDS, unique=True, min_size=1, max_size=4))
    services: dict[str, Any] = {id: draw(service_tables(id, ids)) for id in ids}
    document: dict[str, object] = {"services": services}
    if rarely(draw):
        document["orphan_guard"] = draw(st.one_of(st.booleans(), INTERPOLATED))
    if rarely(draw):
        document[draw(INTERPOLATED)] = draw(ANY)
    files = {name: draw(ENV_FILE_TEXTS) for name in ("a.env", "b.env") if draw(st.booleans())}
    return document, draw(PROJECT_ENVS), files


@given(projects())
def test_a_config_with_variables_and_env_files_gives_a_system_or_a_config_error(
    project: tuple[dict[str, object], str | None, dict[str, str]],
) -> None:
    document, dotenv, files = project
    with scratch() as directory:
        (directory / "dir").mkdir()
        (directory / "sub").mkdir()
        if dotenv is not None:
            (directory / ".env").write_text(dotenv, encoding="utf-8")
        for name, text in files.items():
            (directory / name).write_text(text, encoding="utf-8")
        path = directory / "app.toml"
        path.write_text(toml_document(document), encoding="utf-8")
        check_outcome(path, list(document))
