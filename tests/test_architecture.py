"""The layers: services never import Qt; the UI never imports SQLAlchemy.

Walks every module's import statements (not just the top of the file), so a
lazy import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "salesdesk"


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules_under(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


@pytest.mark.parametrize("path", modules_under("services"), ids=lambda p: p.name)
def test_services_never_import_qt(path):
    bad = {m for m in imported_modules(path) if m.split(".")[0] in {"PySide6", "shiboken6"}}
    assert not bad, f"{path.name} imports {bad}"
    assert not {m for m in imported_modules(path) if m.startswith("salesdesk.ui")}


@pytest.mark.parametrize(
    "path", modules_under("ui") or [PACKAGE / "__init__.py"], ids=lambda p: p.name
)
def test_ui_never_imports_sqlalchemy_or_models(path):
    # ``salesdesk.db.Database`` may pass through the UI as an opaque handle
    # (app.py builds it and hands it to services); queries and models may not.
    bad = {
        m
        for m in imported_modules(path)
        if m.split(".")[0] in {"sqlalchemy", "alembic", "psycopg"} or m == "salesdesk.models"
    }
    assert not bad, f"{path.name} imports {bad}"


def test_importing_the_services_does_no_work():
    """No engine or connection is built at import time."""
    import subprocess
    import sys

    code = """
import gc
import sqlalchemy.engine
import salesdesk.cli, salesdesk.config
import salesdesk.services.actions, salesdesk.services.allocation, salesdesk.services.jobs
import salesdesk.services.leads, salesdesk.services.team, salesdesk.services.mail
engines = [o for o in gc.get_objects() if isinstance(o, sqlalchemy.engine.Engine)]
assert engines == [], engines
"""
    subprocess.run([sys.executable, "-c", code], check=True)
