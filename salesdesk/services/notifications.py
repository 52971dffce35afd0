"""In-app notices: written in the same transaction as the change they announce."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from salesdesk.db import Database
from salesdesk.models import Notification
from salesdesk.services.auth import require
from salesdesk.services.records import Actor


@dataclass(frozen=True, slots=True)
class NotificationRow:
    id: int
    kind: str
    lead_id: int | None
    message: str
    created_at: datetime
    read: bool


def notify(
    session: Session,
    user_id: int,
    kind: str,
    message: str,
    now: datetime,
    lead_id: int | None = None,
) -> None:
    session.execute(
        insert(Notification).values(
            user_id=user_id, kind=kind, lead_id=lead_id, message=message, created_at=now
        )
    )


def list_notifications(db: Database, actor: Actor, limit: int = 50) -> list[NotificationRow]:
    with db.read() as session:
        require(session, actor)
        rows = session.scalars(
            select(Notification)
            .where(Notification.user_id == actor.id)
            .order_by(Notification.id.desc())
            .limit(limit)
        )
        return [
            NotificationRow(n.id, n.kind, n.lead_id, n.message, n.created_at, n.read_at is not None)
            for n in rows
        ]


def unread_count(db: Database, actor: Actor) -> int:
    with db.read() as session:
        return (
            session.scalar(
                select(func.count()).where(
                    Notification.user_id == actor.id, Notification.read_at.is_(None)
                )
            )
            or 0
        )


def mark_all_read(db: Database, actor: Actor) -> None:
    with db.write() as session:
        require(session, actor)
        session.execute(
            update(Notification)
            .where(Notification.user_id == actor.id, Notification.read_at.is_(None))
            .values(read_at=db.now())
        )
