"""In-app notices: written in the same transaction as the change they announce.

Besides the bell's list, a client shows a short toast when a lead is given to
(or taken from) the person at the screen while it runs: :func:`lead_notices_since`
answers "which of those notices are newer than the last one I saw?", so the
toast never repeats one and never replays what was there at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from salesdesk.db import Database
from salesdesk.models import Lead, Notification
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


# Kinds of notice that tell a person a lead became theirs, or stopped being theirs
# ("routed": round robin or weighted routing pushed it to them).
GAINED_KINDS = ("assigned", "routed")
LOST_KINDS = ("reassigned_away",)
# A call back of theirs came due: the lead is back in Current, to be called now.
DUE_KINDS = ("call_back_due",)
LEAD_NOTICE_KINDS = GAINED_KINDS + LOST_KINDS + DUE_KINDS


@dataclass(frozen=True, slots=True)
class LeadNoticeRow:
    """A notice about a lead given to, or taken from, its reader — what a toast shows.

    Attributes:
        lead_name: "Jane Doe" ("" when the lead has no name or is gone).
        company: the lead's company ("" when none, or the lead is gone).
        gained: True when the lead became the reader's; False when it was taken away.
    """

    id: int
    kind: str
    lead_id: int | None
    lead_name: str
    company: str
    message: str
    created_at: datetime

    @property
    def gained(self) -> bool:
        return self.kind in GAINED_KINDS

    @property
    def due(self) -> bool:
        return self.kind in DUE_KINDS


@dataclass(frozen=True, slots=True)
class LeadNoticeSummary:
    """Lead notices newer than ``after``.

    Attributes:
        after: the marker the question was asked with (None: the first question).
        marker: the newest notice of this person now; pass it as ``after`` next time.
        notices: the newest lead notices, newest first, at most the asked-for limit.
        gained: how many leads were given to the person (all of them, beyond the limit).
        lost: how many were taken away.
        due: how many of the person's call backs came due.
    """

    after: int | None
    marker: int
    notices: tuple[LeadNoticeRow, ...] = ()
    gained: int = 0
    lost: int = 0
    due: int = 0


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


def lead_notices_since(
    db: Database, actor: Actor, after: int | None, limit: int = 20
) -> LeadNoticeSummary:
    """The lead notices this person received after notice id ``after``.

    With ``after=None`` (a client starting up) nothing is reported: only the
    marker is set, so notices that were already there never toast. Every read
    is bounded by the marker, so the rows, the counts and the next starting
    point agree even on a database that sees new commits between statements.
    """
    with db.read() as session:
        require(session, actor)
        mine = Notification.user_id == actor.id
        if after is None:
            newest = session.scalar(select(func.max(Notification.id)).where(mine))
            return LeadNoticeSummary(after=None, marker=newest or 0)
        newest = session.scalar(
            select(func.max(Notification.id)).where(mine, Notification.id > after)
        )
        if newest is None:
            return LeadNoticeSummary(after=after, marker=after)
        window = (
            mine,
            Notification.id > after,
            Notification.id <= newest,
            Notification.kind.in_(LEAD_NOTICE_KINDS),
        )
        counts: dict[str, int] = {
            kind: count
            for kind, count in session.execute(
                select(Notification.kind, func.count()).where(*window).group_by(Notification.kind)
            )
        }
        rows = session.execute(
            select(
                Notification.id,
                Notification.kind,
                Notification.lead_id,
                Notification.message,
                Notification.created_at,
                Lead.first_name,
                Lead.last_name,
                Lead.company,
            )
            .outerjoin(Lead, Lead.id == Notification.lead_id)
            .where(*window)
            .order_by(Notification.id.desc())
            .limit(limit)
        ).all()
        notices = tuple(
            LeadNoticeRow(
                id=r.id,
                kind=r.kind,
                lead_id=r.lead_id,
                lead_name=f"{r.first_name or ''} {r.last_name or ''}".strip(),
                company=r.company or "",
                message=r.message,
                created_at=r.created_at,
            )
            for r in rows
        )
        return LeadNoticeSummary(
            after=after,
            marker=newest,
            notices=notices,
            gained=sum(counts.get(k, 0) for k in GAINED_KINDS),
            lost=sum(counts.get(k, 0) for k in LOST_KINDS),
            due=sum(counts.get(k, 0) for k in DUE_KINDS),
        )
