"""Migrations build exactly the models' schema, on both engines, and run backwards too."""

from __future__ import annotations

import uuid

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from salesdesk import migrations
from salesdesk.db import Database, sqlite_url
from salesdesk.models import Base
from tests.conftest import _pg_url


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db(request, tmp_path):
    if request.param == "sqlite":
        db = Database(sqlite_url(tmp_path / "empty.db"))
        yield db
        db.dispose()
        return
    admin_url = request.getfixturevalue("pg_admin_url")
    name = f"empty_{uuid.uuid4().hex[:8]}"
    admin = create_engine(_pg_url(admin_url, "postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db = Database(_pg_url(admin_url, name))
    yield db
    db.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def _diff(db: Database) -> list:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def test_upgrade_from_empty_matches_the_models(empty_db):
    assert not migrations.is_current(empty_db)
    migrations.upgrade(empty_db)
    assert migrations.is_current(empty_db)
    assert _diff(empty_db) == []
    indexes = {ix["name"] for ix in inspect(empty_db.engine).get_indexes("leads")}
    assert "ix_leads_claim_newest" in indexes and "ix_leads_claim_oldest" not in indexes


def test_downgrade_to_base_and_back(empty_db):
    migrations.upgrade(empty_db)
    config = migrations.alembic_config(empty_db)
    command.downgrade(config, "base")
    assert set(inspect(empty_db.engine).get_table_names()) <= {"alembic_version"}
    command.upgrade(config, "head")
    assert _diff(empty_db) == []


def test_postgres_leads_table_carries_its_autovacuum_settings(pg_admin_url):
    name = f"av_{uuid.uuid4().hex[:8]}"
    admin = create_engine(_pg_url(pg_admin_url, "postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db = Database(_pg_url(pg_admin_url, name))
    try:
        migrations.upgrade(db)
        with db.engine.connect() as conn:
            options = conn.execute(
                text("SELECT reloptions FROM pg_class WHERE relname = 'leads'")
            ).scalar_one()
        assert "autovacuum_vacuum_scale_factor=0" in options
    finally:
        db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
