"""Layering: which package may import which, and pure anyio.

    statemachines <- coordinator <- viz <- healthdaemons

Each package imports only the packages to its left (the library never imports
the application), whether at the top of a module or lazily inside a function,
with no exemption. Only `coordinator.testing` may import trio.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

ROOT: Final = Path(__file__).resolve().parent.parent

MAY_IMPORT: Final[dict[str, frozenset[str]]] = {
    "statemachines": frozenset(),
    "coordinator": frozenset({"statemachines"}),
    "viz": frozenset({"statemachines", "coordinator"}),
    "healthdaemons": frozenset({"statemachines", "coordinator", "viz"}),
}
PACKAGES: Final = tuple(MAY_IMPORT)


@dataclass(frozen=True)
class Import:
    module: str
    """The absolute name of the module imported (or that a name is imported from)."""
    in_function: bool
    """Whether the import is inside a function (imported lazily, when called)."""


def _package_of(path: Path) -> list[str]:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return parts[:-1]  # `__init__` too: its package is its folder


def imports_of(source: str, package: list[str]) -> list[Import]:
    """Every module that `source` (a module of `package`) imports, relative ones resolved."""
    found: list[Import] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend(Import(alias.name, in_function) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            if module:
                found.append(Import(module, in_function))
            # `from pkg import name` may import the submodule `pkg.name`.
            found.extend(
                Import(f"{module}.{alias.name}" if module else alias.name, in_function)
                for alias in node.names
            )
        inside = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for child in ast.iter_child_nodes(node):
            visit(child, inside)

    visit(ast.parse(source), False)
    return found


def _imports_package(imports: list[Import], package: str) -> list[str]:
    return sorted(
        {i.module for i in imports if i.module == package or i.module.startswith(f"{package}.")}
    )


def _files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _file_params(*packages: str) -> list[object]:
    return [
        pytest.param(path, id=str(path.relative_to(ROOT))) for p in packages for path in _files(p)
    ]


def _imports(path: Path) -> list[Import]:
    return imports_of(path.read_text(encoding="utf-8"), _package_of(path))


def test_packages_have_modules() -> None:
    for package in PACKAGES:
        assert (ROOT / package / "__init__.py").is_file(), package
        assert len(_files(package)) >= 2, package


def test_imports_of() -> None:
    """The import finder resolves relative imports and sees lazy ones."""
    source = (
        "import asyncio.subprocess\n"
        "from .. import viz\n"
        "from ._health import Ready\n"
        "def draw():\n"
        "    from viz.dot import render\n"
    )
    found = imports_of(source, ["coordinator"])
    assert Import("asyncio.subprocess", False) in found
    assert Import("viz", False) in found
    assert Import("coordinator._health", False) in found
    assert Import("viz.dot", True) in found
    assert _imports_package(found, "viz") == ["viz", "viz.dot", "viz.dot.render"]
    assert _imports_package(found, "asyncio") == ["asyncio.subprocess"]


def test_the_layers_are_a_line_ending_in_the_application() -> None:
    """Each package may import exactly those before it; none may import the application."""
    for position, package in enumerate(PACKAGES):
        assert set(PACKAGES[:position]) == MAY_IMPORT[package]
    assert not any("healthdaemons" in allowed for allowed in MAY_IMPORT.values())


@pytest.mark.parametrize("path", _file_params(*PACKAGES))
def test_imports_point_one_way(path: Path) -> None:
    """A lazy import (inside a function) counts as much as one at the top."""
    own = path.relative_to(ROOT).parts[0]
    imports = _imports(path)
    forbidden = {
        module
        for package in PACKAGES
        if package != own and package not in MAY_IMPORT[own]
        for module in _imports_package(imports, package)
    }
    assert not forbidden, f"{own} may import only {sorted(MAY_IMPORT[own])}"


# The simulations run on trio's mock clock, so `coordinator.testing` alone
# may import trio; the rest stays pure anyio.
SIMULATIONS: Final = ROOT / "coordinator" / "testing"


# The control server starts Hypercorn's server for the running backend, and
# mends a Python 3.11 asyncio report there (`_quiet_cancelled_connections`).
BACKEND_GLUE: Final = ROOT / "healthdaemons" / "_control_server.py"


@pytest.mark.parametrize("path", _file_params(*PACKAGES))
def test_no_direct_asyncio_or_trio(path: Path) -> None:
    imports = _imports(path)
    if path != BACKEND_GLUE:
        assert not _imports_package(imports, "asyncio")
    if SIMULATIONS not in path.parents:
        assert not _imports_package(imports, "trio")


@pytest.mark.parametrize("path", _file_params(*PACKAGES))
def test_a_package_uses_only_the_public_names_of_those_below(path: Path) -> None:
    """`coordinator.OUTPUT_LOGGER`, never `coordinator._command_process.OUTPUT_LOGGER`:
    what a lower package keeps private can change without breaking those above."""
    own = path.relative_to(ROOT).parts[0]
    private = [
        module
        for package in MAY_IMPORT[own]
        for module in _imports_package(_imports(path), package)
        if any(part.startswith("_") for part in module.split("."))
    ]
    assert not private, f"{own} imports private modules of the library: {private}"
