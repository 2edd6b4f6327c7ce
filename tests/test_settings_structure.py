"""The settings package's shape: split by concern into modules a reader can hold in mind, with one
public surface the rest of the repo imports. That it is the bottom layer (it imports nothing else of
the project) is tests/test_layers.py's check, with every other layer's."""

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


def test_the_package_is_split_into_modules() -> None:
    assert PACKAGE.joinpath("__init__.py").is_file()
    assert not ROOT.joinpath("settings.py").exists(), (
        "a settings.py beside settings/ is never imported (the package wins); remove it"
    )
    assert len(MODULES) > 5


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
