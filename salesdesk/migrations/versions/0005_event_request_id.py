"""lead_events.request_id: one id per click, so a retried click is not done twice

After a lost connection the client cannot know whether its last click
committed. It retries with the same request id; the service finds the event
that id already produced and answers with that outcome instead of claiming a
second lead or sending a second email. Unique, and NULL for events that no
click caused (jobs, imports); both engines treat NULLs as distinct.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("lead_events") as batch:
        batch.add_column(sa.Column("request_id", sa.String(length=64), nullable=True))
        batch.create_index("ix_lead_events_request", ["request_id"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("lead_events") as batch:
        batch.drop_index("ix_lead_events_request")
        batch.drop_column("request_id")
