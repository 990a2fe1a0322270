"""Imports point one way: govrag (the shell) → ingest (the pipeline) → retrieval (the domain); the client SDK
imports nothing of the server. An AST walk over every module, so an import inside a function counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO_ROOT = Path(__file__).resolve().parents[1]

# package → the top-level packages of this repository it must never import
FORBIDDEN = {
    "retrieval": {"ingest", "govrag", "govrag_client"},
    "ingest": {"govrag", "govrag_client"},
    "clients/python/govrag_client": {"govrag", "ingest", "retrieval"},
}


def imported_top_levels(path: Path) -> set[tuple[str, int]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {(alias.name.split(".")[0], node.lineno) for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add((node.module.split(".")[0], node.lineno))
    return found


def upward_imports(package: str, forbidden: set[str]) -> list[str]:
    return [
        f"{path.relative_to(REPO_ROOT)}:{line} imports {name}"
        for path in sorted((REPO_ROOT / package).rglob("*.py"))
        for name, line in sorted(imported_top_levels(path))
        if name in forbidden
    ]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_upward_import(package: str) -> None:
    assert (REPO_ROOT / package).is_dir()
    assert upward_imports(package, FORBIDDEN[package]) == []


def test_the_walk_sees_imports_inside_functions(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import os\n\ndef f():\n    from govrag.runtime import build_runtime\n")
    assert ("govrag", 4) in imported_top_levels(module)
