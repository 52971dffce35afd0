"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "email_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), server_default="", nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_templates")),
        sa.UniqueConstraint("name", name=op.f("uq_email_templates_name")),
    )
    op.create_table(
        "pools",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("(true)"), nullable=False),
        sa.Column("routing", sa.String(length=16), nullable=False),
        sa.Column("follow_up_days", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "routing IN ('next', 'round_robin', 'weighted', 'manual')",
            name=op.f("ck_pools_routing_valid"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pools")),
        sa.UniqueConstraint("name", name=op.f("uq_pools_name")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("(true)"), nullable=False),
        sa.Column("cap", sa.Integer(), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("role IN ('rep', 'manager', 'admin')", name=op.f("ck_users_role_valid")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "leads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("first_name", sa.String(length=120), server_default="", nullable=False),
        sa.Column("last_name", sa.String(length=120), server_default="", nullable=False),
        sa.Column("company", sa.String(length=200), server_default="", nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("email_key", sa.String(length=254), nullable=True),
        sa.Column("phone_key", sa.String(length=40), nullable=True),
        sa.Column("source", sa.String(length=80), server_default="", nullable=False),
        sa.Column("score", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("priority", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("custom", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("pool_id", sa.Integer(), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("previous_owner_id", sa.Integer(), nullable=True),
        sa.Column("released_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("assigned_at", sa.DateTime(), nullable=True),
        sa.Column("last_action_at", sa.DateTime(), nullable=True),
        sa.Column("last_contacted_at", sa.DateTime(), nullable=True),
        sa.Column("call_back_at", sa.DateTime(), nullable=True),
        sa.Column("email_confirmed_at", sa.DateTime(), nullable=True),
        sa.Column("appointment_at", sa.DateTime(), nullable=True),
        sa.Column("dead_at", sa.DateTime(), nullable=True),
        sa.Column("booked_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "status <> 'callback' OR call_back_at IS NOT NULL",
            name=op.f("ck_leads_callback_has_date"),
        ),
        sa.CheckConstraint(
            "status <> 'pool' OR owner_id IS NULL", name=op.f("ck_leads_pool_has_no_owner")
        ),
        sa.CheckConstraint(
            "status IN ('pool', 'current', 'callback', 'appointment', 'dead')",
            name=op.f("ck_leads_status_valid"),
        ),
        sa.CheckConstraint(
            "status NOT IN ('current', 'callback') OR owner_id IS NOT NULL",
            name=op.f("ck_leads_held_has_owner"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_leads_owner_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["pool_id"], ["pools.id"], name=op.f("fk_leads_pool_id_pools"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["previous_owner_id"],
            ["users.id"],
            name=op.f("fk_leads_previous_owner_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leads")),
    )
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_index(
            "ix_leads_claim_newest",
            ["pool_id", "priority", "score", "created_at", "id"],
            unique=False,
            postgresql_where=sa.text("status = 'pool'"),
            sqlite_where=sa.text("status = 'pool'"),
        )
        # Written by hand: autogenerate cannot compare expression indexes.
        batch_op.create_index(
            "ix_leads_claim_oldest",
            ["pool_id", sa.text("priority DESC"), sa.text("score DESC"), "created_at", "id"],
            unique=False,
            postgresql_where=sa.text("status = 'pool'"),
            sqlite_where=sa.text("status = 'pool'"),
        )
        batch_op.create_index("ix_leads_created", ["created_at", "id"], unique=False)
        batch_op.create_index("ix_leads_email_key", ["email_key"], unique=False)
        batch_op.create_index(
            "ix_leads_owner_status", ["owner_id", "status", "call_back_at"], unique=False
        )
        batch_op.create_index("ix_leads_phone_key", ["phone_key"], unique=False)
        batch_op.create_index("ix_leads_pool_status", ["pool_id", "status"], unique=False)
        batch_op.create_index("ix_leads_source", ["source"], unique=False)
        batch_op.create_index("ix_leads_status_assigned", ["status", "assigned_at"], unique=False)
        batch_op.create_index("ix_leads_status_call_back", ["status", "call_back_at"], unique=False)

    op.create_table(
        "pool_members",
        sa.Column("pool_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("weight", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("position", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("current_weight", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint("weight >= 0", name=op.f("ck_pool_members_weight_not_negative")),
        sa.ForeignKeyConstraint(
            ["pool_id"],
            ["pools.id"],
            name=op.f("fk_pool_members_pool_id_pools"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_pool_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pool_id", "user_id", name=op.f("pk_pool_members")),
    )
    with op.batch_alter_table("pool_members", schema=None) as batch_op:
        batch_op.create_index("ix_pool_members_user", ["user_id"], unique=False)

    op.create_table(
        "rules",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["users.id"],
            name=op.f("fk_rules_updated_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rules")),
    )
    op.create_table(
        "lead_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=True),
        sa.Column("from_owner_id", sa.Integer(), nullable=True),
        sa.Column("to_owner_id", sa.Integer(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_lead_events_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["from_owner_id"],
            ["users.id"],
            name=op.f("fk_lead_events_from_owner_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
            name=op.f("fk_lead_events_lead_id_leads"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["to_owner_id"],
            ["users.id"],
            name=op.f("fk_lead_events_to_owner_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_events")),
    )
    with op.batch_alter_table("lead_events", schema=None) as batch_op:
        batch_op.create_index("ix_lead_events_actor", ["actor_id", "at"], unique=False)
        batch_op.create_index("ix_lead_events_at", ["at"], unique=False)
        batch_op.create_index("ix_lead_events_lead", ["lead_id", "at"], unique=False)

    op.create_table(
        "notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_notes_author_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_notes_lead_id_leads"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notes")),
    )
    with op.batch_alter_table("notes", schema=None) as batch_op:
        batch_op.create_index("ix_notes_lead", ["lead_id", "at"], unique=False)

    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("read_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["leads.id"],
            name=op.f("fk_notifications_lead_id_leads"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notifications_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index("ix_notifications_user", ["user_id", "read_at", "id"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("to_address", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(length=998), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), server_default="", nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'in_flight', 'sent', 'failed')",
            name=op.f("ck_outbox_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_outbox_lead_id_leads"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("message_id", name=op.f("uq_outbox_message_id")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_due", ["status", "next_attempt_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_due")

    op.drop_table("outbox")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_user")

    op.drop_table("notifications")
    with op.batch_alter_table("notes", schema=None) as batch_op:
        batch_op.drop_index("ix_notes_lead")

    op.drop_table("notes")
    with op.batch_alter_table("lead_events", schema=None) as batch_op:
        batch_op.drop_index("ix_lead_events_lead")
        batch_op.drop_index("ix_lead_events_at")
        batch_op.drop_index("ix_lead_events_actor")

    op.drop_table("lead_events")
    op.drop_table("rules")
    with op.batch_alter_table("pool_members", schema=None) as batch_op:
        batch_op.drop_index("ix_pool_members_user")

    op.drop_table("pool_members")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_status_call_back")
        batch_op.drop_index("ix_leads_status_assigned")
        batch_op.drop_index("ix_leads_source")
        batch_op.drop_index("ix_leads_pool_status")
        batch_op.drop_index("ix_leads_phone_key")
        batch_op.drop_index("ix_leads_owner_status")
        batch_op.drop_index("ix_leads_email_key")
        batch_op.drop_index("ix_leads_created")
        batch_op.drop_index("ix_leads_claim_oldest")
        batch_op.drop_index(
            "ix_leads_claim_newest",
            postgresql_where=sa.text("status = 'pool'"),
            sqlite_where=sa.text("status = 'pool'"),
        )

    op.drop_table("leads")
    op.drop_table("users")
    op.drop_table("pools")
    op.drop_table("email_templates")
