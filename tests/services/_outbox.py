"""Outbox rows for the mail tests: written by real Email Confirmed clicks, read back as stored."""

from __future__ import annotations

from sqlalchemy import select

from salesdesk.models import OutboxMessage
from salesdesk.services import actions, allocation


def confirmations(db, floor, count: int, **lead_fields) -> list[int]:
    """``count`` Email Confirmed clicks by one rep: ``count`` outbox rows. Returns lead ids."""
    alice = floor.person("alice", cap=1000, email="alice@example.com")
    pool = floor.pool(members=[alice])
    floor.leads(pool, count, **lead_fields)
    ids = []
    for _ in range(count):
        lead = allocation.claim_next_lead(db, alice).lead
        actions.confirm_email(db, alice, lead.id)
        ids.append(lead.id)
    return ids


def outbox(db) -> list[OutboxMessage]:
    with db.read() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
