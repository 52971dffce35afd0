"""Schema migrations (Alembic), applied on start and by ``salesdesk db upgrade``."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from salesdesk.db import Database

HERE = Path(__file__).parent


def alembic_config(db: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    # Hand the live engine to env.py instead of a URL, so a password never
    # passes through Alembic's config (and its logs).
    config.attributes["engine"] = db.engine
    return config


def is_current(db: Database) -> bool:
    """True when the database is already at the newest revision (a cheap check)."""
    head = ScriptDirectory.from_config(alembic_config(db)).get_current_head()
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision() == head


def earlier_revision(filename: str) -> Any:
    """An earlier revision's module, by its file name in ``versions/``.

    The revisions that rewrite Next's database function build on, and
    downgrade to, the text an earlier revision froze rather than repeating it.
    """
    path = HERE / "versions" / filename
    spec = importlib.util.spec_from_file_location(f"salesdesk_revision_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema up to ``revision``; safe to call on every start."""
    if revision == "head" and is_current(db):
        return
    command.upgrade(alembic_config(db), revision)
