"""A customer's database from every released schema still opens and works.

``tests/fixtures/schemas/`` keeps one small SQLite database per released
schema (the demo floor, made with that release). Each is upgraded to the
current head and used through the services, so a migration that loses or
mangles existing data fails here, not on a customer's floor. Add a file when
a release changes the schema.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from salesdesk import migrations
from salesdesk.db import Database, sqlite_url
from salesdesk.services import allocation, auth, demo, lead_table, leads

FROZEN = sorted((Path(__file__).parent / "fixtures" / "schemas").glob("*.db"))


def test_there_is_a_frozen_database_for_the_first_release():
    assert any(p.name.startswith("salesdesk-0.1.0") for p in FROZEN)


@pytest.mark.parametrize("frozen", FROZEN, ids=lambda p: p.stem)
def test_an_old_database_upgrades_and_keeps_its_data(tmp_path, frozen):
    path = tmp_path / frozen.name
    shutil.copy(frozen, path)
    db = Database(sqlite_url(path))
    try:
        migrations.upgrade(db)
        assert migrations.is_current(db)
        manager = auth.login(db, "manager", demo.DEMO_PASSWORD)
        page = lead_table.list_leads(db, manager, limit=500)
        assert page.total == 60
        assert {"pool", "current", "callback", "appointment", "dead"} <= {
            r.status for r in page.rows
        }
        alice = auth.login(db, "alice", demo.DEMO_PASSWORD)
        held = leads.my_current_leads(db, alice)
        assert held and leads.get_lead(db, alice, held[0].id).history
        assert allocation.claim_next_lead(db, alice).lead is not None
    finally:
        db.dispose()
