"""The lead history is a log: its rows name leads and people without foreign keys

``lead_events`` had four foreign keys: the lead, the actor, and the owners
before and after. Every event row checked each one it filled, and on
PostgreSQL each check is a query of its own that also locks the row it finds
(``FOR KEY SHARE``): a claim's event locked the lead it had just updated and
the rep's ``users`` row it had already locked, three checks per Next. An
imported lead's ``created`` event did the same, once per lead.

The rows are written only by the services, in the transaction that makes the
change they record, with ids that transaction has just read or written, so
the keys caught nothing; they are a log's entries, kept by value. What the
keys did on delete is done by the two places that delete a lead: they clear
``lead_id`` on its events (``lifecycle.forget_leads``), so a deleted lead's
history keeps its counts and not its identity, as before. People are never
deleted (an account is deactivated), so the owner and actor ids always name
someone; every reader joins them as optional anyway.

Measured (benchmarks/README.md, session 7): instructions of one PostgreSQL
backend per claim, from ``callgrind`` (exact, unlike the shared machine's
clock): 1.80–1.88 million with the keys, 1.71–1.73 million without (the raw
``SKIP LOCKED`` statement: 0.87–0.88 million).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (constraint, column, referred table) — as revision 0001 named them.
KEYS = (
    ("fk_lead_events_actor_id_users", "actor_id", "users"),
    ("fk_lead_events_from_owner_id_users", "from_owner_id", "users"),
    ("fk_lead_events_lead_id_leads", "lead_id", "leads"),
    ("fk_lead_events_to_owner_id_users", "to_owner_id", "users"),
)


def upgrade() -> None:
    with op.batch_alter_table("lead_events") as batch_op:
        for name, _, _ in KEYS:
            batch_op.drop_constraint(name, type_="foreignkey")


def downgrade() -> None:
    # An id that no longer names a row would fail the key: clear it, as the
    # key's ON DELETE SET NULL would have.
    for _, column, table in KEYS:
        op.execute(
            sa.text(
                f"UPDATE lead_events SET {column} = NULL WHERE {column} IS NOT NULL"
                f" AND NOT EXISTS (SELECT 1 FROM {table} WHERE {table}.id = lead_events.{column})"
            )
        )
    with op.batch_alter_table("lead_events") as batch_op:
        for name, column, table in KEYS:
            batch_op.create_foreign_key(name, table, [column], ["id"], ondelete="SET NULL")
