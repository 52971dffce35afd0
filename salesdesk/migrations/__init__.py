"""Schema migrations (Alembic), applied on start and by ``salesdesk db upgrade``."""

from __future__ import annotations

from pathlib import Path

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


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema up to ``revision``; safe to call on every start."""
    if revision == "head" and is_current(db):
        return
    command.upgrade(alembic_config(db), revision)
