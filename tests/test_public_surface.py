"""The public surface: complete `__all__` lists and the names the documented API promises.

The layering (which package may import which) is in test_layering.py.

Like anyio's `tests/test_all_attributes.py`. A module's public attributes are
its non-underscore names that are not modules and that it either defines
(`def`, `class` or an assignment at the top level) or re-exports (the
`import x as x` form, or listed in `__all__`). Names imported only to be used
(`from collections.abc import Mapping`) are not part of the surface.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Final

import pytest

import coordinator
import coordinator.checks
import coordinator.errors
import coordinator.testing
import coordinator.triggers
import healthdaemons
import statemachines
import viz

MODULES: Final = (
    "statemachines",
    "coordinator",
    "coordinator.checks",
    "coordinator.triggers",
    "coordinator.errors",
    "coordinator.testing",
    "coordinator.pytest_plugin",
    "viz",
    "healthdaemons",
)

# `__all__` lists


def _all(module: ModuleType) -> tuple[str, ...]:
    names = getattr(module, "__all__", None)
    assert isinstance(names, list | tuple), f"{module.__name__} has no __all__ list"
    assert all(isinstance(name, str) for name in names)
    return tuple(names)


def _top_level_names(module: ModuleType) -> set[str]:
    """Names the module's source defines or re-exports explicitly at its top level."""
    assert module.__file__ is not None
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            if isinstance(node.target, ast.Name):
                names.add(node.target.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            # `from x import y as y`: an explicit re-export (PEP 484, mypy strict).
            names.update(
                alias.name for alias in node.names if alias.asname == alias.name.rpartition(".")[2]
            )
    return names


def _public_attributes(module: ModuleType) -> set[str]:
    candidates = _top_level_names(module)
    for name in dir(module):
        # anyio's rule: functions and classes whose home is this module.
        value = getattr(module, name)
        if (inspect.isfunction(value) or inspect.isclass(value)) and (
            value.__module__ == module.__name__
        ):
            candidates.add(name)
    return {
        name
        for name in candidates
        if not name.startswith("_")
        and hasattr(module, name)
        and not isinstance(getattr(module, name), ModuleType)
    }


@pytest.mark.parametrize("modulename", MODULES)
def test_all_lists_every_public_attribute(modulename: str) -> None:
    module = importlib.import_module(modulename)
    missing = _public_attributes(module) - set(_all(module))
    assert not missing, f"public in {modulename} but not in its __all__: {sorted(missing)}"


@pytest.mark.parametrize("modulename", MODULES)
def test_every_name_in_all_exists(modulename: str) -> None:
    module = importlib.import_module(modulename)
    absent = [name for name in _all(module) if not hasattr(module, name)]
    assert not absent, f"in {modulename}.__all__ but not defined: {absent}"
    private = [name for name in _all(module) if name.startswith("_")]
    assert not private, f"private names in {modulename}.__all__: {private}"
    modules = [name for name in _all(module) if isinstance(getattr(module, name), ModuleType)]
    assert not modules, f"modules in {modulename}.__all__: {modules}"


@pytest.mark.parametrize("modulename", MODULES)
def test_all_has_no_duplicates(modulename: str) -> None:
    names = _all(importlib.import_module(modulename))
    duplicates = sorted({name for name in names if names.count(name) > 1})
    assert not duplicates, f"duplicated in {modulename}.__all__: {duplicates}"


@pytest.mark.parametrize("modulename", MODULES)
def test_star_import_gives_all(modulename: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from {modulename} import *", namespace)
    del namespace["__builtins__"]
    assert set(namespace) == set(_all(importlib.import_module(modulename)))


def test_public_attributes_rule() -> None:
    """The rule above sees definitions and explicit re-exports, not plain imports."""
    assert {"HealthDaemonsError", "WaitTimeoutError"} <= _public_attributes(coordinator.errors)
    assert "Sequence" not in _public_attributes(coordinator.errors)
    assert {"Daemons", "EntryKind", "default_trigger"} <= _public_attributes(coordinator)
    assert {"TRANSITIONS", "fire"} <= _public_attributes(statemachines)
    assert "Mapping" not in _public_attributes(coordinator.triggers)
    assert "annotations" not in _public_attributes(coordinator.triggers)


# The names the documented API requires


def _in_all(module: ModuleType, *names: str) -> None:
    for name in names:
        assert hasattr(module, name), f"{module.__name__}.{name} is missing"
        assert name in _all(module), f"{module.__name__}.{name} is not in __all__"


def test_coordinator_names() -> None:
    names = ("Daemons", "Ready", "Command", "ExecFn", "HealthCheckResult", "RunningDaemons")
    _in_all(coordinator, *names)
    for name in names:
        assert inspect.isclass(getattr(coordinator, name)), name


def test_build_hook_names() -> None:
    """Issue 12: the hooks of a build, public so `coordinator.testing` needs no private name."""
    _in_all(
        coordinator,
        "EntryView",
        "ExitStatus",
        "ProcessHandle",
        "SpawnError",
        "SpawnFunction",
        "SpawnSettings",
        "load_system",
    )
    build = inspect.signature(coordinator.Daemons.build).parameters
    assert {"history_limit", "host", "spawn"} <= set(build)


def test_output_names() -> None:
    """Issue 13: each entry's recent output, and following it."""
    _in_all(coordinator, "OutputLine", "OutputFollower")
    build = inspect.signature(coordinator.Daemons.build).parameters
    assert {"output_lines", "output_bytes"} <= set(build)
    for name in ("output", "follow_output"):
        assert callable(getattr(coordinator.RunningDaemons, name)), name
    assert isinstance(coordinator.RunningDaemons.entry_views, property)
    assert isinstance(coordinator.RunningDaemons.host, property)
    assert isinstance(coordinator.Daemons.host, property)


def test_viz_names() -> None:
    _in_all(viz, "lifecycle_dot", "system_dot", "timeline_svg", "render")
    for name in ("lifecycle_dot", "system_dot", "timeline_svg", "render"):
        assert callable(getattr(viz, name)), name


def test_healthdaemons_names() -> None:
    """The application offers its command; the console script runs it."""
    _in_all(healthdaemons, "main")
    (script,) = entry_points(group="console_scripts", name="healthdaemons")
    assert script.load() is healthdaemons.main


def test_testing_names() -> None:
    """Issue 6's contract: verify, explore, their reports and error, the strategies."""
    _in_all(
        coordinator.testing,
        "verify",
        "explore",
        "VerificationReport",
        "ExplorationReport",
        "VerificationError",
        "fault_schedules",
        "systems",
    )
    assert issubclass(coordinator.testing.VerificationError, coordinator.errors.HealthDaemonsError)
    assert issubclass(coordinator.testing.ExplorationError, coordinator.testing.VerificationError)
    parameters = inspect.signature(coordinator.testing.verify).parameters
    assert {"max_examples", "shutdown_budget", "faults"} <= set(parameters)
    assert parameters["max_examples"].default == 100
    assert parameters["shutdown_budget"].default is None


def test_checks_names() -> None:
    _in_all(
        coordinator.checks,
        "check_port_listening",
        "check_web_url",
        "run_health_script",
        "log_line",
        "sd_notify",
    )
    for name in ("check_port_listening", "check_web_url", "run_health_script"):
        assert inspect.iscoroutinefunction(getattr(coordinator.checks, name)), name


def test_daemons_builder() -> None:
    daemons = coordinator.Daemons
    for name in ("of", "add_daemon", "add_oneshot", "add_health_check", "build"):
        assert callable(getattr(daemons, name)), name
    assert inspect.iscoroutinefunction(daemons.run_until_success)
    assert isinstance(daemons.of(), daemons)
    assert isinstance(daemons.of().build(), coordinator.RunningDaemons)


@pytest.mark.parametrize(
    ("constructor", "args"),
    [
        ("success", ()),
        ("failure", ("down",)),
        ("loading", ("warming up",)),
        ("starting", ()),
        ("disabled", ()),
        ("waiting", ()),
    ],
)
def test_health_check_result_constructors(constructor: str, args: tuple[str, ...]) -> None:
    make = getattr(coordinator.HealthCheckResult, constructor)
    result = make(*args)
    assert isinstance(result, coordinator.HealthCheckResult)
    assert result.result == constructor  # a str-valued enum
    assert result.message == (args[0] if args else None)


TRIGGERS: Final = (
    "cooldown_trigger",
    "default_trigger",
    "status_trigger",
    "change_on_first_success",
    "success_failure",
    "last_status",
)


def test_trigger_names() -> None:
    _in_all(coordinator.triggers, *TRIGGERS)
    for name in TRIGGERS:
        assert callable(getattr(coordinator.triggers, name)), name
    assert coordinator.default_trigger is coordinator.triggers.default_trigger


@pytest.mark.parametrize(
    ("name", "is_async"),
    [
        ("wait_ready", True),
        ("wait_stopped", True),
        ("term", True),
        ("state", False),
        ("health", False),
    ],
)
def test_running_daemons_methods(name: str, is_async: bool) -> None:
    method = getattr(coordinator.RunningDaemons, name)
    assert callable(method)
    assert inspect.iscoroutinefunction(method) is is_async


def test_running_daemons_history() -> None:
    running = coordinator.Daemons.of().build()
    assert list(running.history) == []


def test_errors_are_one_hierarchy() -> None:
    errors = coordinator.errors
    for name in _all(errors):
        value = getattr(errors, name)
        assert inspect.isclass(value), name
        assert issubclass(value, Exception), name
        if name != "IllegalTransition":
            assert issubclass(value, errors.HealthDaemonsError), name
    assert errors.IllegalTransition is statemachines.IllegalTransition
    assert issubclass(errors.WaitTimeoutError, TimeoutError)
