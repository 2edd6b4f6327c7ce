"""The settings package's shape: the bottom layer (it imports nothing else of the project), split by
concern into modules a reader can hold in mind, with one public surface the rest of the repo imports.

Read with `ast`, not by importing: an upward import that happens not to fail today (or sits in a
function body) is still caught."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "settings"
MODULES = sorted(PACKAGE.glob("*.py"))
MAX_LINES = 400


def _project_sources() -> dict[str, list[Path]]:
    """The project's own Python files outside settings/, by the top-level name they are imported under
    (a root module's stem or its folder), virtualenvs, git and build output aside."""
    sources: dict[str, list[Path]] = {path.stem: [path] for path in ROOT.glob("*.py")}
    for folder in ROOT.iterdir():
        if folder.is_dir() and folder.name != "settings" and not folder.name.startswith((".", "build", "node_")):
            files = sorted(folder.rglob("*.py"))
            if files:
                sources[folder.name] = files
    return sources


def _imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, dotted module) of every import, at any depth, including importlib.import_module("...")."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            function = node.func
            name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
            if name in {"import_module", "__import__"} and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return found


def test_the_package_is_split_into_modules() -> None:
    assert PACKAGE.joinpath("__init__.py").is_file()
    assert not ROOT.joinpath("settings.py").exists(), (
        "a settings.py beside settings/ is never imported (the package wins); remove it"
    )
    assert len(MODULES) > 5


def test_settings_import_nothing_else_of_the_project() -> None:
    """Settings are the bottom layer: components/, policies/, tools/ and hub_config/ may import them,
    never the other way round (what both sides need moves into settings or data/)."""
    project = set(_project_sources())
    assert {"components", "policies", "tools", "hub_config"} <= project  # the scan sees the layers above
    upward = [
        f"{module.relative_to(ROOT)}:{line} imports {name}"
        for module in MODULES
        for line, name in _imported_modules(ast.parse(module.read_text(), filename=str(module)))
        if name.split(".")[0] in project
    ]
    assert not upward, "settings must not import from a layer above them:\n" + "\n".join(upward)


@pytest.mark.parametrize("module", MODULES, ids=[m.name for m in MODULES])
def test_each_module_stays_readable(module: Path) -> None:
    lines = len(module.read_text().splitlines())
    assert lines <= MAX_LINES, (
        f"{module.relative_to(ROOT)} has {lines} lines (limit {MAX_LINES}); split it by concern (settings/__init__.py)"
    )


def _exported() -> list[str]:
    tree = ast.parse(PACKAGE.joinpath("__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return list(ast.literal_eval(node.value))
    raise AssertionError("settings/__init__.py declares no __all__")


def test_the_public_surface_covers_what_the_repo_imports() -> None:
    """Every `from settings import X` outside the package names something `__all__` declares (and the
    package defines), so callers import `settings`, not its modules."""
    exported = set(_exported())
    import settings

    assert not [name for name in exported if not hasattr(settings, name)]
    callers = [path for files in _project_sources().values() for path in files]
    undeclared = [
        f"{path.relative_to(ROOT)}:{node.lineno} imports {alias.name}"
        for path in callers
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path)))
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == "settings"
        for alias in node.names
        if alias.name not in exported
    ]
    assert not undeclared, "add these to settings.__all__:\n" + "\n".join(undeclared)
