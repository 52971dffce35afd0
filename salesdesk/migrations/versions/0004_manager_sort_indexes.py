"""add (column, id) indexes for sorting and filtering the manager's table

The manager's table pages by keyset over any column, and each order reads one
index range per segment (``services/leads.py``: ``SORT_KEYS``). Without an index
whose order is ``(column, id)`` the database has to sort every matching row to
show the first 200 — over a second on 1,000,000 leads. ``ix_leads_source``
becomes ``ix_leads_sort_source`` (the same column, with ``id`` after it).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_leads_sort_source": ["source", "id"],
    "ix_leads_sort_name": ["last_name", "id"],
    "ix_leads_sort_company": ["company", "id"],
    "ix_leads_sort_status": ["status", "id"],
    "ix_leads_sort_pool": ["pool_id", "id"],
    "ix_leads_sort_owner": ["owner_id", "id"],
    "ix_leads_sort_assigned": ["assigned_at", "id"],
    "ix_leads_sort_contacted": ["last_contacted_at", "id"],
    "ix_leads_sort_call_back": ["call_back_at", "id"],
    "ix_leads_sort_score": ["score", "id"],
}


def upgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_source")
        for name, columns in INDEXES.items():
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        for name in reversed(INDEXES):
            batch_op.drop_index(name)
        batch_op.create_index("ix_leads_source", ["source"], unique=False)
