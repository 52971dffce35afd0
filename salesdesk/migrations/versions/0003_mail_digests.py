"""add mail_digests and an index of lead_events by kind

The hourly email digest of leads given to a person or taken away is built
from ``lead_events``; ``mail_digests`` remembers, per person, up to when
events were reported and when the last digest went out, so no change is
reported twice and nobody gets more than one digest an hour. The index lets
each round read only the few kinds of event a digest reports (assigned,
reassigned, routed, returned, expired, idle) instead of every claim and call.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mail_digests",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("covered_until", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_mail_digests_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_mail_digests")),
    )
    with op.batch_alter_table("lead_events", schema=None) as batch_op:
        batch_op.create_index("ix_lead_events_kind_at", ["kind", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("lead_events", schema=None) as batch_op:
        batch_op.drop_index("ix_lead_events_kind_at")
    op.drop_table("mail_digests")
