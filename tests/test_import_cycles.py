"""No import cycle anywhere in the packages, found statically.

Every `import` and `from ... import` statement of every module counts,
wherever it stands: at the top, inside a function (a lazy import still
ties the two modules together) and under `if TYPE_CHECKING:` (a cycle
there is the same knot in the design, only hidden from the interpreter).
Relative imports are resolved, and `from package import name` points at
the submodule `package.name` when there is one, else at the package.
Importing a module also runs its parent packages, but that edge is not
counted: every submodule would otherwise be in a cycle with the package
`__init__` that re-exports it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final

import pytest

ROOT: Final = Path(__file__).resolve().parent.parent
PACKAGES: Final = ("statemachines", "coordinator", "viz", "healthdaemons")


def module_files(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Each module of `packages` under `root`, by dotted name."""
    found: dict[str, Path] = {}
    for package in packages:
        if not (root / package / "__init__.py").is_file():
            continue
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def imported_modules(name: str, path: Path, modules: Mapping[str, Path]) -> set[str]:
    """The modules among `modules` that module `name` (at `path`) imports."""
    is_package = path.name == "__init__.py"
    here = name if is_package else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                targets.add(submodule if submodule in modules else base)
    return {target for target in targets if target in modules and target != name}


def import_graph(root: Path, packages: Iterable[str]) -> dict[str, set[str]]:
    modules = module_files(root, packages)
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: Mapping[str, set[str]]) -> list[str] | None:
    """A cycle of `graph` as a path that ends where it starts, or `None`."""
    done: set[str] = set()
    for start in sorted(graph):
        if start in done:
            continue
        path: list[str] = [start]
        on_path = {start}
        # Iterative depth-first search: one iterator of neighbours per level.
        stack = [iter(sorted(graph[start]))]
        while stack:
            following = next(stack[-1], None)
            if following is None:
                stack.pop()
                finished = path.pop()
                on_path.discard(finished)
                done.add(finished)
                continue
            if following in on_path:
                return [*path[path.index(following) :], following]
            if following in done:
                continue
            path.append(following)
            on_path.add(following)
            stack.append(iter(sorted(graph[following])))
    return None


def test_no_import_cycle_in_the_packages() -> None:
    graph = import_graph(ROOT, PACKAGES)
    assert {"statemachines", "coordinator", "viz"} <= set(graph)
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or ())


def write_package(root: Path, files: Mapping[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("a_imports", "how"),
    [
        ("from .b import B", "relative, at the top"),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import B", "typing"),
        ("def f():\n    from pkg.b import B", "absolute, inside a function"),
        ("import pkg.sub.c", "a module in a subpackage"),
        ("from . import sub", "a subpackage by its name"),
    ],
)
def test_a_cycle_is_found(tmp_path: Path, a_imports: str, how: str) -> None:
    """The walker has teeth: `pkg.a` imports (as `how` says) a module that
    leads back to it, and the cycle is reported with its path."""
    write_package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": a_imports + "\n",
            "pkg/b.py": "from .a import A\n",
            "pkg/sub/__init__.py": "from .c import C\n",
            "pkg/sub/c.py": "from ..a import A\n",
        },
    )
    cycle = find_cycle(import_graph(tmp_path, ["pkg"]))
    assert cycle is not None, how
    assert cycle[0] == cycle[-1]
    assert "pkg.a" in cycle


def test_no_cycle_is_found_where_there_is_none(tmp_path: Path) -> None:
    """A package that re-exports its modules, which import each other one way,
    and a name imported from a package (not a module) is fine."""
    write_package(
        tmp_path,
        {
            "pkg/__init__.py": "from .a import A as A\nfrom .b import B as B\n",
            "pkg/a.py": "from .b import B\nfrom collections import abc\n",
            "pkg/b.py": "import os\nfrom other import thing\n",
        },
    )
    graph = import_graph(tmp_path, ["pkg"])
    assert graph == {"pkg": {"pkg.a", "pkg.b"}, "pkg.a": {"pkg.b"}, "pkg.b": set()}
    assert find_cycle(graph) is None
