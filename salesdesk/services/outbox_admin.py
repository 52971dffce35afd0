"""What an admin sees and does with the outbox, and how old sent mail leaves it.

The Mail server tab lists mail that did not go out, or went out partly refused,
with the server's own reason (:func:`list_failed_mail`), and an admin sends it
again (:func:`retry_mail`); :func:`outbox_summary` counts the outbox for a
status line. The clock jobs delete sent mail after :data:`SENT_MAIL_KEPT`
(:func:`purge_sent_mail`). Delivering the outbox is ``sender.py``'s job.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select

from salesdesk.db import Database
from salesdesk.models import OutboxMessage, OutboxStatus
from salesdesk.services.auth import ADMINS, require
from salesdesk.services.records import Actor, BulkResult

SENT_MAIL_KEPT = timedelta(days=30)
"""How long sent mail stays in the outbox, with its rendered bodies, before the clock
jobs delete it: long enough to look into a lead's "did they get our email?" and to
see a partly refused message, short enough that a floor sending thousands of emails
a day does not grow its database without limit (and keeps leads' personal data no
longer than it needs). A constant rather than a rule: SalesDesk shows no sent
mail to anyone (the Mail server tab lists only mail that did not go out, or went
out partly refused), so there is nothing for an admin to weigh."""
PURGE_BATCH = 500
"""Sent messages deleted per transaction: a first purge of a long backlog takes the
write lock in short turns, and reps' clicks queue between them."""
PURGE_MAX_BATCHES = 20
"""Most batches per clock round; a longer backlog is finished by the next rounds."""

_PENDING, _IN_FLIGHT = OutboxStatus.PENDING.value, OutboxStatus.IN_FLIGHT.value
_SENT, _FAILED = OutboxStatus.SENT.value, OutboxStatus.FAILED.value


@dataclass(frozen=True, slots=True)
class MailRow:
    """Mail an admin should know about: given up, waiting to retry, or partly refused."""

    id: int
    template: str
    to_address: str
    subject: str
    status: str  # 'failed', 'retrying' or 'partly_sent'
    attempts: int
    last_error: str
    created_at: datetime
    next_attempt_at: datetime | None
    lead_id: int | None

    @property
    def can_retry(self) -> bool:
        return self.status in ("failed", "retrying")


@dataclass(frozen=True, slots=True)
class OutboxSummary:
    waiting: int
    retrying: int
    in_flight: int
    failed: int
    oldest_waiting: datetime | None = None  # when the oldest waiting message was written


def purge_sent_mail(db: Database) -> int:
    """Delete sent mail older than :data:`SENT_MAIL_KEPT`; returns how many were deleted.

    Only ``sent`` rows: failed, waiting and in-flight mail stays until it is
    sent (an admin sees and retries failures). Each batch of
    :data:`PURGE_BATCH` is its own short transaction, up to
    :data:`PURGE_MAX_BATCHES` per call. Run by ``jobs.run_due_jobs``.
    """
    cutoff = db.now() - SENT_MAIL_KEPT
    old = (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.status == _SENT,
            # A sent row's next_attempt_at is the end of its last lease, minutes
            # after it was claimed: the (status, next_attempt_at) index finds old
            # sent mail without an index of its own; sent_at decides.
            OutboxMessage.next_attempt_at < cutoff,
            OutboxMessage.sent_at < cutoff,
        )
        .limit(PURGE_BATCH)
    )
    with db.read() as session:  # most rounds: nothing to do, and no write lock taken
        if session.scalar(old.limit(1)) is None:
            return 0
    purged = 0
    for _ in range(PURGE_MAX_BATCHES):
        with db.write() as session:
            deleted = (
                session.connection()
                .execute(delete(OutboxMessage).where(OutboxMessage.id.in_(old)))
                .rowcount
            )
        purged += deleted
        if deleted < PURGE_BATCH:
            break
    return purged


def list_failed_mail(db: Database, actor: Actor, limit: int = 500) -> list[MailRow]:
    """Mail that needs an admin's eye, newest first, with the server's own reason.

    ``failed``: given up; ``retrying``: failed at least once and waiting for its
    next try; ``partly_sent``: delivered, but some recipients were refused.
    """
    with db.read() as session:
        require(session, actor, ADMINS)
        rows = session.scalars(
            select(OutboxMessage)
            .where(
                (OutboxMessage.status == _FAILED)
                | (
                    OutboxMessage.status.in_((_PENDING, _SENT))
                    & OutboxMessage.last_error.is_not(None)
                )
            )
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
        )
        return [_mail_row(m) for m in rows]


def _mail_row(m: OutboxMessage) -> MailRow:
    status = {_FAILED: "failed", _PENDING: "retrying", _SENT: "partly_sent"}[m.status]
    return MailRow(
        id=m.id,
        template=m.template,
        to_address=m.to_address,
        subject=m.subject,
        status=status,
        attempts=m.attempts,
        last_error=m.last_error or "",
        created_at=m.created_at,
        next_attempt_at=m.next_attempt_at if status == "retrying" else None,
        lead_id=m.lead_id,
    )


def retry_mail(db: Database, actor: Actor, ids: Iterable[int]) -> BulkResult:
    """Send failed (or waiting) mail again at the next delivery round (admins only)."""
    wanted = sorted(set(ids))
    with db.write() as session:
        require(session, actor, ADMINS)
        now = db.now()
        rows = {
            m.id: m
            for m in session.scalars(
                select(OutboxMessage).where(OutboxMessage.id.in_(wanted)).with_for_update()
            )
        }
        done: list[int] = []
        skipped: dict[int, str] = {}
        for mail_id in wanted:
            m = rows.get(mail_id)
            if m is None:
                skipped[mail_id] = "no longer exists"
            elif m.status == _SENT:
                skipped[mail_id] = "was already sent"
            elif m.status == _IN_FLIGHT:
                skipped[mail_id] = "is being sent right now"
            elif m.status == _PENDING and m.last_error is None:
                skipped[mail_id] = "is already waiting to be sent"
            else:
                m.status, m.attempts, m.next_attempt_at = _PENDING, 0, now
                m.last_error = None
                done.append(mail_id)
        return BulkResult(done=tuple(done), skipped=skipped)


def outbox_summary(db: Database, actor: Actor) -> OutboxSummary:
    """How much mail is waiting, retrying, being sent and failed (for a status line)."""
    with db.read() as session:
        require(session, actor, ADMINS)
        counts = dict.fromkeys(("waiting", "retrying", "in_flight", "failed"), 0)
        retrying = OutboxMessage.last_error.is_not(None)
        for status, has_error, n in session.execute(
            select(OutboxMessage.status, retrying, func.count())
            .where(OutboxMessage.status != _SENT)
            .group_by(OutboxMessage.status, retrying)
        ):
            if status == _PENDING:
                counts["retrying" if has_error else "waiting"] += n
            else:
                counts[status] += n
        oldest = session.scalar(
            select(func.min(OutboxMessage.created_at)).where(
                OutboxMessage.status == _PENDING, OutboxMessage.last_error.is_(None)
            )
        )
        return OutboxSummary(**counts, oldest_waiting=oldest)


__all__ = [
    "PURGE_BATCH",
    "PURGE_MAX_BATCHES",
    "SENT_MAIL_KEPT",
    "MailRow",
    "OutboxSummary",
    "list_failed_mail",
    "outbox_summary",
    "purge_sent_mail",
    "retry_mail",
]
