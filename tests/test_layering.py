"""Import arrows stay one-way (STYLE.md 'Layering'), checked by parsing every module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = {"sobolev_core", "properties", "agents", "verify", "reports"}
# What each package may import from the project, and third-party modules it must not use.
ALLOWED = {
    "sobolev_core": set(),
    "agents": {"sobolev_core"},
    "properties": {"sobolev_core"},
    "verify": {"sobolev_core", "properties", "agents", "reports"},
    "reports": set(),  # reports read records from disk only
}
FORBIDDEN_THIRD_PARTY = {"sobolev_core": {"gymnasium", "mujoco", "hypothesis", "pytest"}}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_follow_the_layering(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package} has no modules"
    for path in files:
        imported = _imports(path)
        wrong = (imported & PROJECT) - ALLOWED[package] - {package}
        assert not wrong, (
            f"{path.relative_to(ROOT)} imports {sorted(wrong)}; {package} may import {sorted(ALLOWED[package])}"
        )
        banned = imported & FORBIDDEN_THIRD_PARTY.get(package, set())
        assert not banned, f"{path.relative_to(ROOT)} imports {sorted(banned)}"


def test_the_checker_sees_a_violation(tmp_path):
    """Negative control: a module importing upwards is detected."""
    bad = tmp_path / "bad.py"
    bad.write_text("import verify.cli\nfrom properties import generators\nimport gymnasium\n")
    assert _imports(bad) == {"verify", "properties", "gymnasium"}


def _project_imports(path: Path) -> set[str]:
    """Every ``verify.*`` module named by an import anywhere in ``path`` (functions included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_no_command_module_imports_the_cli_back():
    """The CLI imports the command modules; they take ``UsageError`` from ``verify.usage``."""
    importers = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "verify").rglob("*.py")
        if path.name != "__main__.py" and "verify.cli" in _project_imports(path)
    )
    assert importers == []


def test_the_cycle_check_sees_an_import_of_the_cli(tmp_path):
    """Negative control: a function-level import of the CLI is found."""
    bad = tmp_path / "job.py"
    bad.write_text("def run():\n    from verify.cli import UsageError\n")
    assert "verify.cli" in _project_imports(bad)
