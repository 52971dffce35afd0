"""The database schema as typed SQLAlchemy 2 models.

Every timestamp is stored as naive UTC (``DateTime`` without zone) so SQLite and
PostgreSQL hold the same values; the UI converts to local time for display.

Only services import this module. Schema changes go through an Alembic revision
in ``salesdesk/migrations``; a test proves the migrations and these models agree.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Alembic finds constraints by name; SQLite batch mode needs them named too.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Role(enum.StrEnum):
    REP = "rep"
    MANAGER = "manager"
    ADMIN = "admin"


class LeadStatus(enum.StrEnum):
    POOL = "pool"  # waiting for a rep (Next, routing, or a manager)
    CURRENT = "current"  # held by its owner and shown in their Current list
    CALLBACK = "callback"  # held by its owner, hidden until call_back_at
    APPOINTMENT = "appointment"  # handed to the admin team
    DEAD = "dead"  # hidden and tagged; findable by managers


class Routing(enum.StrEnum):
    NEXT = "next"  # reps pull with Next
    ROUND_ROBIN = "round_robin"  # pushed to members in turn
    WEIGHTED = "weighted"  # pushed by set shares (smooth weighted round robin)
    MANUAL = "manual"  # waits for a manager


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    SENT = "sent"
    FAILED = "failed"


def _only_filled(column: str) -> dict[str, Any]:
    """A partial index's options on both engines: rows where ``column`` has a value."""
    where = text(f"{column} IS NOT NULL")
    return {"postgresql_where": where, "sqlite_where": where}


def _enum_check(column: str, values: type[enum.StrEnum]) -> CheckConstraint:
    allowed = ", ".join(f"'{v.value}'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=f"{column}_valid")


class User(Base):
    __tablename__ = "users"
    __table_args__ = (_enum_check("role", Role),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str | None] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(16), default=Role.REP.value)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    # Overrides the floor-wide cap on current leads for this person when set.
    cap: Mapped[int | None] = mapped_column(Integer)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Pool(Base):
    __tablename__ = "pools"
    __table_args__ = (_enum_check("routing", Routing),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    routing: Mapped[str] = mapped_column(String(16), default=Routing.NEXT.value)
    # Remind an owner when an assigned lead has had no contact for this many days.
    follow_up_days: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class PoolMember(Base):
    __tablename__ = "pool_members"

    pool_id: Mapped[int] = mapped_column(
        ForeignKey("pools.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    weight: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    position: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # Smooth weighted round robin state, kept in the database so that shares stay
    # exact across every client and restart.
    current_weight: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))

    __table_args__ = (
        CheckConstraint("weight >= 0", name="weight_not_negative"),
        Index("ix_pool_members_user", "user_id"),
    )


class Lead(Base):
    __tablename__ = "leads"

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(String(120), default="", server_default="")
    last_name: Mapped[str] = mapped_column(String(120), default="", server_default="")
    company: Mapped[str] = mapped_column(String(200), default="", server_default="")
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    # Normalised copies for duplicate checks: lower-case email, digits-only phone.
    email_key: Mapped[str | None] = mapped_column(String(254))
    phone_key: Mapped[str | None] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(80), default="", server_default="")
    score: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    custom: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)

    status: Mapped[str] = mapped_column(String(16), default=LeadStatus.POOL.value)
    pool_id: Mapped[int | None] = mapped_column(ForeignKey("pools.id", ondelete="SET NULL"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Who held it last and when it left them: the cooldown keeps Next from
    # handing a lead straight back to the rep who let it go.
    previous_owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    released_at: Mapped[datetime | None] = mapped_column(DateTime)

    created_at: Mapped[datetime] = mapped_column(DateTime)
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_action_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_contacted_at: Mapped[datetime | None] = mapped_column(DateTime)
    call_back_at: Mapped[datetime | None] = mapped_column(DateTime)
    email_confirmed_at: Mapped[datetime | None] = mapped_column(DateTime)
    appointment_at: Mapped[datetime | None] = mapped_column(DateTime)
    dead_at: Mapped[datetime | None] = mapped_column(DateTime)
    booked_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (
        _enum_check("status", LeadStatus),
        # Invariants the database itself guards, whatever the code does.
        CheckConstraint(
            "status NOT IN ('current', 'callback') OR owner_id IS NOT NULL",
            name="held_has_owner",
        ),
        CheckConstraint("status <> 'pool' OR owner_id IS NULL", name="pool_has_no_owner"),
        CheckConstraint(
            "status <> 'callback' OR call_back_at IS NOT NULL", name="callback_has_date"
        ),
        # The claim path: the pool's leads in claim order. Newest first scans it
        # backwards; oldest first reads it in two steps, the best (priority,
        # score) group and then that group's oldest lead (services/allocation.py).
        Index(
            "ix_leads_claim_newest",
            "pool_id",
            "priority",
            "score",
            "created_at",
            "id",
            postgresql_where=text("status = 'pool'"),
            sqlite_where=text("status = 'pool'"),
        ),
        # A rep's own lists and the cap count; due call backs by date. Only held
        # leads: a pool lead has no owner, so it writes no entry here (see below).
        Index(
            "ix_leads_owner_status",
            "owner_id",
            "status",
            "call_back_at",
            **_only_filled("owner_id"),
        ),
        # Clock jobs: call backs coming due, keep period and idle leads.
        # Partial: a job reads one status, and a claim or an import then
        # writes no entry here (call backs) or one (held leads). ``status`` is
        # in the key too, so SQLite (no statistics) prefers these over
        # ix_leads_sort_status for the jobs' "status = … AND date < …".
        Index(
            "ix_leads_call_backs_due",
            "status",
            "call_back_at",
            "id",
            postgresql_where=text("status = 'callback'"),
            sqlite_where=text("status = 'callback'"),
        ),
        Index(
            "ix_leads_held_since",
            "status",
            "assigned_at",
            "id",
            postgresql_where=text("status = 'current'"),
            sqlite_where=text("status = 'current'"),
        ),
        # Manager filters and duplicate checks.
        Index("ix_leads_pool_status", "pool_id", "status"),
        Index("ix_leads_created", "created_at", "id"),
        Index("ix_leads_email_key", "email_key"),
        Index("ix_leads_phone_key", "phone_key"),
        # The manager's table: one (column, id) index per sortable column, so
        # every page of every order is a short keyset range (services/lead_table.py).
        Index("ix_leads_sort_source", "source", "id"),
        Index("ix_leads_sort_name", "last_name", "id"),
        Index("ix_leads_sort_company", "company", "id"),
        Index("ix_leads_sort_status", "status", "id"),
        Index("ix_leads_sort_pool", "pool_id", "id"),
        # Where most leads (the pool) have no value, only the filled rows are
        # indexed: an imported lead then writes four entries fewer, a claim two
        # fewer. The "(empty)" end of those orders is read by id (lead_table.py).
        Index("ix_leads_sort_owner", "owner_id", "id", **_only_filled("owner_id")),
        Index("ix_leads_sort_assigned", "assigned_at", "id", **_only_filled("assigned_at")),
        Index(
            "ix_leads_sort_contacted",
            "last_contacted_at",
            "id",
            **_only_filled("last_contacted_at"),
        ),
        Index("ix_leads_sort_call_back", "call_back_at", "id", **_only_filled("call_back_at")),
        Index("ix_leads_sort_score", "score", "id"),
    )


class LeadEvent(Base):
    """One row per transition: the lead's history and the team's activity."""

    __tablename__ = "lead_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    # A log, kept by value: no foreign keys (revision 0010), since every row is
    # written in the transaction that made the change, and a key check per id
    # was a query and a row lock on PostgreSQL for each claim and imported lead.
    # lead_id is cleared when a lead is deleted (lifecycle.forget_leads), so
    # activity counts survive without personal data; people are never deleted.
    lead_id: Mapped[int | None]
    actor_id: Mapped[int | None]
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(DateTime)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    from_owner_id: Mapped[int | None]
    to_owner_id: Mapped[int | None]
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The client's id for the click that caused this event. A click retried
    # after a lost connection carries the same id, so it is recognised and not
    # done twice (no second claim, no second email).
    request_id: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        # Only events that a click caused have a request id (not imports, not jobs).
        Index(
            "ix_lead_events_request",
            "request_id",
            unique=True,
            postgresql_where=text("request_id IS NOT NULL"),
            sqlite_where=text("request_id IS NOT NULL"),
        ),
        Index("ix_lead_events_lead", "lead_id", "at"),
        Index("ix_lead_events_actor", "actor_id", "at"),
        # The assignment digest reads a few kinds over the last hours.
        Index("ix_lead_events_kind_at", "kind", "at"),
    )


class Note(Base):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(DateTime)
    body: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_notes_lead", "lead_id", "at"),)


class Rule(Base):
    """One allocation rule: a key and its JSON value. Missing keys take defaults."""

    __tablename__ = "rules"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class EmailTemplate(Base):
    __tablename__ = "email_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    subject: Mapped[str] = mapped_column(String(255))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text, default="", server_default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class OutboxMessage(Base):
    """An email written in the same transaction as the action that sends it."""

    __tablename__ = "outbox"
    __table_args__ = (
        _enum_check("status", OutboxStatus),
        Index("ix_outbox_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    template: Mapped[str] = mapped_column(String(64))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="SET NULL"))
    to_address: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(String(998))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text, default="", server_default="")
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class Notification(Base):
    """An in-app notice for one person (new lead, reassigned away, call back due)."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user", "user_id", "read_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="SET NULL"))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    read_at: Mapped[datetime | None] = mapped_column(DateTime)


class MailDigest(Base):
    """When each person was last sent the email digest, and up to when it reported."""

    __tablename__ = "mail_digests"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # Events up to this moment were reported (or were too old to report).
    covered_until: Mapped[datetime] = mapped_column(DateTime)
    sent_at: Mapped[datetime] = mapped_column(DateTime)


__all__ = [
    "Base",
    "EmailTemplate",
    "Lead",
    "LeadEvent",
    "LeadStatus",
    "MailDigest",
    "Note",
    "Notification",
    "OutboxMessage",
    "OutboxStatus",
    "Pool",
    "PoolMember",
    "Role",
    "Routing",
    "Rule",
    "User",
]
