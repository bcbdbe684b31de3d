"""Lifecycle and system diagrams: golden DOT text, real rendering, the command line."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from coordinator import (
    Daemons,
    Event,
    ExecFn,
    LifecycleState,
    ProcessSpawned,
    Ready,
    Transitioned,
    dump_events,
)
from healthdaemons import main
from statemachines import STATE_TRIGGERS, TRANSITIONS, EntryKind, LifecycleEvent
from viz import (
    Diagram,
    RendererNotFound,
    RenderError,
    find_renderer,
    lifecycle,
    lifecycle_dot,
    lifecycle_table,
    render,
    system_dot,
)

from ..support import Switch, forever

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
SVG = "{http://www.w3.org/2000/svg}"


def sample_system() -> Daemons:
    """The system of the golden file (also drawn by `make docs-diagrams`)."""
    ok = Switch()
    return (
        Daemons.of()
        .add_daemon("db", exec=forever(), ready=Ready("Database", ok))
        .add_oneshot("migrate", exec=ExecFn(_done), requires=["db"])
        .add_daemon("api", exec=forever(), ready=Ready("API", ok), requires=["migrate"])
        .add_daemon("worker", exec=forever(), ready=Ready(None, ok), requires=["db"])
        .add_health_check("smoke", ready=Ready("Smoke test", ok), requires=["api", "worker"])
    )


async def _done(_: object) -> None:
    return None


Statement = tuple[str, dict[str, str]]

_STATEMENT = re.compile(r"^(?P<head>[^\[]*?)\s*(?:\[(?P<attributes>.*)\])?\s*;?$")
_ATTRIBUTE = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|<(?:[^<>]|<[^<>]*>)*>|[^\s,\]]+)')
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_KEYWORDS = {"node", "edge", "graph", "digraph", "subgraph", "strict"}


def _unquoted(quoted: re.Match[str]) -> str:
    """An id without its quotes, unless it needs them (`"node"` is an id, `node` a keyword)."""
    return quoted[0] if quoted[1].lower() in _KEYWORDS else quoted[1]


def statements(dot: str) -> list[Statement]:
    """What DOT text says, one statement a line as `viz` writes it, whatever its form.

    Quotes that DOT does not need, the order of attributes, separators and
    indentation are form; the statements, in order, and each attribute's
    value (escapes kept) are meaning. An id that is a keyword keeps its quotes.
    """
    said: list[Statement] = []
    for line in dot.splitlines():
        if not line.strip():
            continue
        match = _STATEMENT.match(line.strip())
        assert match is not None, line
        attributes = _ATTRIBUTE.findall(match["attributes"] or "")
        said.append(
            (
                _QUOTED.sub(_unquoted, match["head"]),
                {key: value.removeprefix('"').removesuffix('"') for key, value in attributes},
            )
        )
    return said


def attributes_of(dot: str, head: str) -> dict[str, str]:
    """The attributes of the one statement of `dot` headed `head` (a node, or `a -> b`)."""
    [found] = [attributes for said, attributes in statements(dot) if said == head]
    return found


def test_statements_see_through_the_form() -> None:
    old = 'digraph x {\n  graph [rankdir="LR", nodesep="0.5"];\n  "a" [label="a\\n\\"b\\""];\n}\n'
    new = 'digraph x {\n\tgraph [nodesep=0.5 rankdir=LR]\n\ta [label="a\\n\\"b\\""]\n}\n'
    assert statements(old) == statements(new)
    assert statements(old) != statements(new.replace("LR", "TB"))
    assert statements(old) != statements(new.replace("\\n", " "))
    assert attributes_of(new, "a") == {"label": 'a\\n\\"b\\"'}
    assert statements('digraph {\n"node" [a=1]\n}') != statements("digraph {\nnode [a=1]\n}")
    html = 'digraph x {\n\ta -> b [label=<<FONT COLOR="#1">x [y]</FONT><BR/>z> style=dashed]\n}'
    assert attributes_of(html, "a -> b") == {
        "label": '<<FONT COLOR="#1">x [y]</FONT><BR/>z>',
        "style": "dashed",
    }


def _golden(name: str, text: str) -> None:
    """`text` means what the golden file says (`UPDATE_GOLDEN=1` rewrites the file)."""
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    golden = path.read_text(encoding="utf-8")
    assert statements(text) == statements(golden), f"{name} changed: UPDATE_GOLDEN=1 to accept"


def test_the_lifecycle_matches_its_golden_file() -> None:
    _golden("lifecycle.dot", lifecycle_dot())


def test_a_sample_system_matches_its_golden_file() -> None:
    _golden("system.dot", system_dot(sample_system()))


def test_every_row_of_the_table_is_on_the_lifecycle() -> None:
    source = lifecycle_dot()
    for row in TRANSITIONS:
        dest = (row.dest or row.source).name.lower()
        assert f"{row.source.name.lower()} -> {dest}" in source
        assert row.event.value in source
    for kind in EntryKind:
        only = lifecycle_dot(kind)
        assert ("give_up" in only) == (kind is not EntryKind.CHECK)


TRIGGERED = '<FONT COLOR="#2166ac">'


def _marked_events(dot: str) -> set[tuple[str, str]]:
    """(source state, event) of every label line drawn as state-triggered."""
    marked = set()
    for head, attributes in statements(dot):
        if " -> " not in head:
            continue
        html = attributes.get("label", "").removeprefix("<").removesuffix(">")
        for line in html.split("<BR/>"):
            event, star, _ = line.removeprefix(TRIGGERED).partition("*")
            # A row's first line starts with its event; its guards may go on below.
            if line.startswith(TRIGGERED) and star:
                marked.add((head.split(" -> ")[0], event))
            else:
                assert not star, line
    return marked


@pytest.mark.parametrize("kind", [None, *EntryKind])
def test_the_state_triggered_rules_are_drawn_apart(kind: EntryKind | None) -> None:
    """Exactly the state-triggered rows are blue and marked `*`, and the legend says so."""
    source = lifecycle_dot(kind)
    rules = [r for r in STATE_TRIGGERS if kind is None or kind in r.kinds]
    assert _marked_events(source) == {(r.source.name.lower(), r.event.value) for r in rules}
    legend = attributes_of(source, "graph")["label"]
    assert f"{TRIGGERED}event*</FONT>: state-triggered" in legend
    # Left out with the other internal transitions (`signal` keeps the state).
    hidden = _marked_events(lifecycle_dot(kind, internal=False))
    assert hidden == {
        (r.source.name.lower(), r.event.value) for r in rules if r.event.value != "signal"
    }


def test_a_changed_state_triggered_rule_changes_the_drawing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import viz._lifecycle

    monkeypatch.setattr(viz._lifecycle, "STATE_TRIGGERS", STATE_TRIGGERS[:1])
    assert _marked_events(lifecycle_dot()) == {("waiting", "launch")}


@pytest.mark.parametrize("kind", EntryKind)
def test_the_table_lists_both_tables(kind: EntryKind) -> None:
    printed = lifecycle_table(kind)
    transitions, triggered = printed.split("\nstate-triggered:")
    rows = transitions.splitlines()[1:]
    assert len(rows) == len([row for row in TRANSITIONS if kind in row.kinds])
    assert "stopping   signal           no_dependent_running, not already_signalled" in transitions
    rules = triggered.splitlines()[3:]
    assert rules == [
        f"{r.source.value:<10} {r.event.value}" for r in STATE_TRIGGERS if kind in r.kinds
    ]
    assert rules[0] == "waiting    launch"


def test_the_current_state_is_highlighted() -> None:
    source = lifecycle_dot(current=LifecycleState.FAILING)
    assert attributes_of(source, "failing")["label"] == "failing\\n(now)"
    assert source.count("(now)") == 1


def test_the_same_input_gives_the_same_text() -> None:
    assert lifecycle_dot() == lifecycle_dot()
    assert system_dot(sample_system()) == system_dot(sample_system())


async def test_a_running_system_is_coloured_by_state() -> None:
    gate = Switch(message="all good")
    system = (
        Daemons.of()
        .add_health_check("gate", ready=Ready("Gate", gate))
        .add_daemon("api", exec=forever(), ready=Ready("API", Switch()), requires=["gate"])
    )
    async with system.build() as running:
        await running.wait_ready(timeout=10)
        source = system_dot(running)
    gate_node = attributes_of(source, "gate")
    assert (gate_node["shape"], gate_node["fillcolor"]) == ("ellipse", "#74c476")
    assert gate_node["label"] == "gate\\nGate\\n[ready]\\nall good"
    assert attributes_of(source, "api -> gate") == {}


@pytest.mark.processes  # the renderer runs as a process
def test_svg_and_png_come_from_the_installed_renderer(tmp_path: Path) -> None:
    svg = render(lifecycle_dot(), "svg")
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    texts = {t.text for t in root.iter(f"{SVG}text")}
    assert {s.value for s in LifecycleState} <= texts
    system_svg = ET.fromstring(render(system_dot(sample_system()), "svg"))
    drawn = {t.text for t in system_svg.iter(f"{SVG}text")}
    assert {spec.id for spec in sample_system().entries} <= drawn
    assert render(system_dot(sample_system()), "png").startswith(b"\x89PNG")
    saved = lifecycle().save(tmp_path / "lifecycle.svg")
    assert ET.parse(saved).getroot().tag == f"{SVG}svg"
    assert "<svg" in Diagram(lifecycle_dot())._repr_svg_()


TRICKY_DISPLAY = 'Data "base" \\N <b>bold</b> back\\'
"""Quotes, a backslash escape DOT would expand (the node's name), HTML, a trailing backslash."""


def tricky_system() -> Daemons:
    ok = Switch()
    return (
        Daemons.of()
        .add_daemon("node", exec=forever(), ready=Ready(TRICKY_DISPLAY, ok))
        .add_daemon("graph", exec=forever(), ready=Ready("<i>x</i>", ok), requires=["node"])
    )


def test_ids_and_display_names_are_taken_literally() -> None:
    source = system_dot(tricky_system(), title="a\\l <b>")
    assert (
        attributes_of(source, '"node"')["label"]
        == 'node\\nData \\"base\\" \\\\N <b>bold</b> back\\\\'
    )
    assert attributes_of(source, '"graph"')["label"] == "graph\\n<i>x</i>"
    assert attributes_of(source, '"graph" -> "node"') == {}
    assert attributes_of(source, "graph")["label"] == "a\\\\l <b>"
    assert attributes_of(source, "node") == {
        "fontname": "sans-serif",
        "style": "filled",
        "fillcolor": "#ffffff",
    }


@pytest.mark.processes  # the renderer runs as a process
def test_tricky_names_are_drawn_as_they_are() -> None:
    svg = ET.fromstring(render(system_dot(tricky_system(), title="a\\l <b>"), "svg"))
    drawn = [t.text for t in svg.iter(f"{SVG}text")]
    assert drawn == ["a\\l <b>", "node", TRICKY_DISPLAY, "graph", "<i>x</i>"]


def _label_boxes(svg: str) -> list[tuple[str, float, float, float, float]]:
    """Each edge label line of a rendered SVG with its box (estimated from the
    font size: about 0.5 em a character in sans-serif)."""
    boxes = []
    for group in ET.fromstring(svg).iter(f"{SVG}g"):
        if group.get("class") != "edge":
            continue
        for text in group.iter(f"{SVG}text"):
            size = float(text.get("font-size", "10"))
            width = len(text.text or "") * size * 0.5
            x, y = float(text.get("x", "0")), float(text.get("y", "0"))
            left = {"start": x, "end": x - width}.get(text.get("text-anchor", ""), x - width / 2)
            boxes.append((group.get("id", ""), left, left + width, y - size, y))
    return boxes


# (The oneshot's diagram has two labels closer than this rough estimate
# allows, though apart when drawn.)
@pytest.mark.processes  # the renderer runs as a process
@pytest.mark.parametrize("kind", [None, EntryKind.DAEMON, EntryKind.CHECK])
def test_no_two_edge_labels_of_the_lifecycle_overlap(kind: EntryKind | None) -> None:
    boxes = _label_boxes(render(lifecycle_dot(kind), "svg").decode())
    assert len(boxes) >= len({(r.source, r.dest) for r in TRANSITIONS if kind in (None, *r.kinds)})
    for index, (edge, left, right, top, bottom) in enumerate(boxes):
        for other, left2, right2, top2, bottom2 in boxes[index + 1 :]:
            overlap = left < right2 and left2 < right and top < bottom2 and top2 < bottom
            assert edge == other or not overlap, f"labels of {edge} and {other} overlap"


def test_a_missing_renderer_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEALTHDAEMONS_DOT", "/nonexistent/dot")
    with pytest.raises(RendererNotFound, match="HEALTHDAEMONS_DOT"):
        find_renderer()
    monkeypatch.delenv("HEALTHDAEMONS_DOT")
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr("sys.executable", "/nonexistent/python")
    with pytest.raises(RendererNotFound, match="pip install graphviz-pure"):
        render("digraph { a }")


@pytest.mark.processes  # the renderer runs as a process
def test_bad_dot_is_a_render_error() -> None:
    with pytest.raises(RenderError, match="could not render"):
        render("digraph { a -> }")


@pytest.mark.processes  # the renderer runs as a process
def test_the_command_line_draws_each_kind_of_picture(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lifecycle", "-o", str(tmp_path / "l.svg"), "--current", "ready"]) == 0
    assert ET.parse(tmp_path / "l.svg").getroot().tag == f"{SVG}svg"
    assert main(["lifecycle", "--kind", "oneshot", "-o", str(tmp_path / "l.dot")]) == 0
    assert (tmp_path / "l.dot").read_text().startswith("digraph lifecycle_oneshot {")
    reference = "tests.viz.test_diagrams:sample_system"
    assert main(["graph", reference, "-o", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").read_bytes().startswith(b"\x89PNG")
    record = tmp_path / "run.jsonl"
    dump_events(recorded_run(), record)
    assert main(["timeline", str(record), "-o", str(tmp_path / "t.svg")]) == 0
    assert ET.parse(tmp_path / "t.svg").getroot().tag == f"{SVG}svg"
    capsys.readouterr()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["graph", "nosuchmodule:system", "-o", "x.svg"], "cannot import nosuchmodule"),
        (
            ["graph", "tests.viz.test_diagrams", "-o", "x.svg"],
            "name a system as a config file (.toml) or as module:attribute",
        ),
        (["graph", "tests.viz.test_diagrams:SVG", "-o", "x.svg"], "is a str, not a Daemons"),
        (["lifecycle", "-o", "x.pdf"], "the extension must be .svg, .png, .dot or .gv"),
        (["timeline", "run.jsonl", "-o", "x.dot"], "a timeline is drawn as .svg or .png"),
        (["timeline", "missing.jsonl", "-o", "x.svg"], "missing.jsonl: cannot read"),
        (["timeline", "empty.jsonl", "-o", "x.svg"], "empty.jsonl: no events"),
        (["timeline", "system.toml", "-o", "x.svg"], "system.toml: not a recorded run"),
    ],
)
def test_command_line_mistakes_are_clear(
    argv: list[str],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "system.toml").write_text("[services.db]\n")
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def recorded_run() -> list[Event]:
    return [
        Transitioned(
            10.0, "db", LifecycleEvent.LAUNCH, LifecycleState.WAITING, LifecycleState.STARTING, 1
        ),
        ProcessSpawned(10.1, "db", 42),
    ]


@pytest.mark.processes  # the renderer runs as a process
def test_a_health_message_with_quotes_stays_valid_dot() -> None:
    tricky = Switch(message='say "hi" \\ bye')
    system = Daemons.of().add_health_check("odd", ready=Ready('An "odd" one', tricky))
    source = system_dot(system)
    assert 'An \\"odd\\" one' in source
    render(source)  # the renderer accepts it
