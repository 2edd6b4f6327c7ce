"""One direction of dependency (docs/architecture.md): a module imports only from its own layer or the
layers below it. Read from the source with `ast`, so an import inside a function counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

# Lowest first. The program is ranks 0-5; the offline plan and the maintenance commands sit above it
# (they run the program and may read any of it) and nothing of the program may import them.
RANKS: dict[str, int] = {
    "catalog": 0,  # what AWS offers, from data/ (instance types): settings and the tools read it
    "settings": 0,
    "hub_config": 0,  # shipped into the hub's image by the chart (hub.extraFiles): imports nothing of ours
    "policies": 1,
    "components": 2,
    "preflight": 3,
    "layers.foundation": 4,
    "layers.cluster": 5,
    "layers.hub": 6,
    "layers.operations": 7,
    "layers": 7,  # the package itself
    "__main__": 8,
    "offline_plan": 9,
    "maintenance": 9,
}
PROGRAM_FILES = ["__main__.py", "preflight.py", "catalog", "settings", "hub_config", "policies", "components", "layers"]
TOOL_FILES = ["offline_plan", "maintenance"]


def layer_of(module: str) -> str | None:
    """The most specific entry of RANKS that `module` (dotted) belongs to; None for a third-party module."""
    parts = module.split(".")
    for length in range(len(parts), 0, -1):
        candidate = ".".join(parts[:length])
        if candidate in RANKS:
            return candidate
    return None


def imported_modules(source: str, module: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing package
                base = module.split(".")[: -node.level]
                found.append(".".join([*base, *([node.module] if node.module else [])]))
            elif node.module:
                found.append(node.module)
                # `from components import user_scheduler` imports components.user_scheduler
                found += [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            function = node.func
            called = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
            if called in {"import_module", "__import__"} and isinstance(node.args[0].value, str):
                found.append(node.args[0].value)
    return found


def upward_imports(source: str, module: str) -> list[str]:
    """The imports of `module` that reach a layer above its own."""
    own = layer_of(module)
    assert own is not None, module
    problems = []
    for target in imported_modules(source, module):
        layer = layer_of(target)
        if layer is not None and RANKS[layer] > RANKS[own]:
            problems.append(f"{module} imports {target} ({layer} is above {own})")
    return problems


def module_name(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    parts = [p for p in relative.parts if p != "__init__"]
    return ".".join(parts)


def python_files(entries: list[str]) -> list[Path]:
    files = []
    for entry in entries:
        path = ROOT / entry
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path.with_suffix(".py")]
    return files


@pytest.mark.parametrize("path", python_files(PROGRAM_FILES + TOOL_FILES), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_imports_from_a_layer_above_it(path: Path) -> None:
    assert upward_imports(path.read_text(), module_name(path)) == []


def test_every_module_of_the_program_belongs_to_a_layer() -> None:
    assert [str(p) for p in python_files(PROGRAM_FILES + TOOL_FILES) if layer_of(module_name(p)) is None] == []


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("components.registry", "from layers.hub import HubLayer"),
        ("components.cluster", "import preflight"),
        ("settings", "from components.user_scheduler import image_tag"),
        ("layers.cluster", "from layers.operations import OperationsLayer"),
        ("preflight", "def f():\n    from offline_plan.mock_engine import run"),
        ("policies.checklist", "from components import tagging"),
        ("settings.hub", "def check():\n    importlib.import_module('policies.checklist')"),
    ],
)
def test_the_check_catches_an_upward_import(module: str, source: str) -> None:
    assert upward_imports(source, module)


def test_main_is_composition_only() -> None:
    """settings -> facts -> layers -> outputs, readable top to bottom."""
    main = (ROOT / "__main__.py").read_text()
    assert len(main.splitlines()) <= 150
    declared_here = [
        node
        for node in ast.walk(ast.parse(main))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id[:1].isupper()
        and node.func.id.endswith("Args")
    ]
    assert declared_here == [], "components are declared by the layers, not by __main__.py"
