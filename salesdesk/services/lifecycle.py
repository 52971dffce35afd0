"""The building blocks every lead transition shares, used inside a transaction.

Service modules (allocation, actions, leads, jobs) compose these; none of them
opens a transaction itself. Keeping each state change in one function here is
what makes "every transition writes its event" true by construction.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, insert, literal_column, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session, aliased

from salesdesk.models import Lead, LeadEvent, LeadStatus, Note, Pool, User
from salesdesk.services.records import (
    UNCHANGED,
    EventRow,
    LeadDetail,
    LeadRow,
    NoteRow,
    Unchanged,
)
from salesdesk.services.rules import Rules, load_rules
from salesdesk.services.sql_lists import among
from salesdesk.services.workdays import days_after

Owner = aliased(User, name="owner")

NOTE_ADDED = "note_added"
"""The event a note writes: the receipt of its click's request id (``details.note_id``).
Left out of a lead's history, which is shown beside the notes themselves."""

LEAD_COLUMNS = (
    Lead.id,
    Lead.first_name,
    Lead.last_name,
    Lead.company,
    Lead.email,
    Lead.phone,
    Lead.source,
    Lead.score,
    Lead.priority,
    Lead.status,
    Lead.pool_id,
    Lead.owner_id,
    Lead.created_at,
    Lead.assigned_at,
    Lead.last_action_at,
    Lead.last_contacted_at,
    Lead.call_back_at,
    Lead.email_confirmed_at,
    Lead.appointment_at,
    Lead.dead_at,
    Lead.tags,
)


def status_is(status: LeadStatus, lead: Any = Lead) -> Any:
    """``leads.status = '<status>'`` with the value inlined, not bound.

    The claim index and the clock jobs' indexes are partial (``WHERE status =
    'pool'``); SQLite and PostgreSQL's generic prepared plans only use them
    when the query carries the same literal. ``lead``: an alias of ``Lead``.
    """
    return lead.status == literal_column(f"'{status.value}'")


def lead_rows() -> Select[*tuple[Any, ...]]:
    """Lead columns with the pool's and the owner's names, ready for :func:`to_lead_row`."""
    return (
        select(
            *LEAD_COLUMNS,
            Pool.name.label("pool_name"),
            Owner.display_name.label("owner_name"),
        )
        .select_from(Lead)
        .outerjoin(Pool, Pool.id == Lead.pool_id)
        .outerjoin(Owner, Owner.id == Lead.owner_id)
    )


def to_lead_row(row: RowMapping) -> LeadRow:
    return LeadRow(
        id=row["id"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        company=row["company"],
        email=row["email"],
        phone=row["phone"],
        source=row["source"],
        score=row["score"],
        priority=row["priority"],
        status=row["status"],
        pool_id=row["pool_id"],
        pool_name=row["pool_name"],
        owner_id=row["owner_id"],
        owner_name=row["owner_name"],
        created_at=row["created_at"],
        assigned_at=row["assigned_at"],
        last_action_at=row["last_action_at"],
        last_contacted_at=row["last_contacted_at"],
        call_back_at=row["call_back_at"],
        email_confirmed_at=row["email_confirmed_at"],
        appointment_at=row["appointment_at"],
        dead_at=row["dead_at"],
        tags=tuple(row["tags"] or ()),
    )


def fetch_lead_row(session: Session, lead_id: int) -> LeadRow | None:
    row = session.execute(lead_rows().where(Lead.id == lead_id)).mappings().first()
    return to_lead_row(row) if row else None


def fetch_lead_rows(session: Session, lead_ids: Sequence[int]) -> list[LeadRow]:
    rows = session.execute(lead_rows().where(Lead.id.in_(lead_ids))).mappings()
    by_id = {r["id"]: to_lead_row(r) for r in rows}
    return [by_id[i] for i in lead_ids if i in by_id]


def record_event(
    session: Session,
    *,
    lead_id: int | None,
    actor_id: int | None,
    kind: str,
    at: datetime,
    from_status: str | None = None,
    to_status: str | None = None,
    from_owner_id: int | None = None,
    to_owner_id: int | None = None,
    details: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> None:
    session.execute(
        insert(LeadEvent).values(
            request_id=request_id,
            lead_id=lead_id,
            actor_id=actor_id,
            kind=kind,
            at=at,
            from_status=from_status,
            to_status=to_status,
            from_owner_id=from_owner_id,
            to_owner_id=to_owner_id,
            details=details or {},
        )
    )


def forget_leads(session: Session, lead_ids: Collection[int]) -> None:
    """Delete leads; their history stays, no longer naming them.

    ``lead_events`` is a log without foreign keys (revision 0010), so the link
    is cleared here: the events keep their counts, not the lead's identity.
    Two statements for any number of leads.
    """
    if not lead_ids:
        return
    dialect = session.get_bind().dialect.name
    session.execute(
        update(LeadEvent)
        .where(among(LeadEvent.lead_id, lead_ids, dialect))
        .values(lead_id=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        delete(Lead)
        .where(among(Lead.id, lead_ids, dialect))
        .execution_options(synchronize_session=False)
    )


def event_of_request(session: Session, request_id: str | None) -> Any:
    """The event an earlier attempt of this click wrote — ``(lead_id, kind, details)`` — or None.

    A client retries a click after a lost connection with the same request id;
    the event that id produced is the proof it committed, and what it did.
    """
    if not request_id:
        return None
    return session.execute(
        select(LeadEvent.lead_id, LeadEvent.kind, LeadEvent.details).where(
            LeadEvent.request_id == request_id
        )
    ).first()


def replayed(session: Session, request_id: str | None) -> tuple[bool, int | None]:
    """Has this click already been done? Returns ``(done, lead_id)``."""
    row = event_of_request(session, request_id)
    return (True, row.lead_id) if row else (False, None)


def transition(
    session: Session,
    lead: Lead,
    *,
    kind: str,
    actor_id: int | None,
    at: datetime,
    status: LeadStatus | None = None,
    owner_id: int | None | Unchanged = UNCHANGED,
    details: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> None:
    """Move ``lead`` to a new status and/or owner and write the event for it.

    ``owner_id`` left as ``UNCHANGED`` keeps the owner. Leaving an owner records who
    had it and when (the cooldown reads that); gaining one stamps ``assigned_at``.
    """
    from_status, from_owner = lead.status, lead.owner_id
    if status is not None:
        lead.status = status.value
    if owner_id is not UNCHANGED and owner_id != from_owner:
        if from_owner is not None:
            lead.previous_owner_id = from_owner
            lead.released_at = at
        lead.owner_id = owner_id
        lead.assigned_at = at if owner_id is not None else None
    record_event(
        session,
        lead_id=lead.id,
        actor_id=actor_id,
        kind=kind,
        at=at,
        from_status=from_status,
        to_status=lead.status,
        from_owner_id=from_owner,
        to_owner_id=lead.owner_id,
        details=details,
        request_id=request_id,
    )


def release_to_pool(
    session: Session,
    lead: Lead,
    *,
    kind: str,
    actor_id: int | None,
    at: datetime,
    details: dict[str, Any] | None = None,
) -> None:
    """Back to the pool: no owner, no pending call back."""
    lead.call_back_at = None
    transition(
        session,
        lead,
        kind=kind,
        actor_id=actor_id,
        at=at,
        status=LeadStatus.POOL,
        owner_id=None,
        details=details,
    )


def give_to(
    session: Session,
    lead: Lead,
    owner_id: int,
    *,
    kind: str,
    actor_id: int | None,
    at: datetime,
    details: dict[str, Any] | None = None,
) -> None:
    """Make ``owner_id`` the holder of ``lead``: a current lead, or its call back.

    A call back someone booked travels with the lead to its new owner, date and
    all (a customer was promised that call); anything else becomes current.
    """
    if lead.status == LeadStatus.CALLBACK.value and lead.owner_id is not None:
        transition(
            session, lead, kind=kind, actor_id=actor_id, at=at, owner_id=owner_id, details=details
        )
        return
    lead.call_back_at = None
    transition(
        session,
        lead,
        kind=kind,
        actor_id=actor_id,
        at=at,
        status=LeadStatus.CURRENT,
        owner_id=owner_id,
        details=details,
    )


def effective_cap(user: User, rules: Rules) -> int:
    return user.cap if user.cap is not None else rules.cap


def current_counts(session: Session, user_ids: Iterable[int]) -> dict[int, int]:
    """How many current leads each user holds (the cap counts these)."""
    ids = list(user_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(Lead.owner_id, func.count())
        .where(Lead.owner_id.in_(ids), status_is(LeadStatus.CURRENT))
        .group_by(Lead.owner_id)
    )
    counts = dict.fromkeys(ids, 0)
    counts.update({owner: n for owner, n in rows if owner is not None})
    return counts


# The two limits on holding a lead, by the kind of event that ends them.
LIMIT_REASONS = {"expired": "keep period", "idle": "no action"}


def hold_limits(rules: Rules) -> dict[str, int]:
    """The days of each limit that is on: ``{"expired": keep days, "idle": idle days}``."""
    days = {"expired": rules.keep_days, "idle": rules.idle_days}
    return {kind: n for kind, n in days.items() if n > 0}


def limit_starts(
    assigned_at: datetime | None, call_back_at: datetime | None, last_action_at: datetime | None
) -> dict[str, datetime]:
    """When each limit of a held lead started counting.

    The keep period (``expired``) runs from the later of assignment and the last
    call back date (a call back extends the hold); the idle limit (``idle``)
    from the latest of those and the last action.
    """
    held = max(m for m in (assigned_at, call_back_at) if m is not None)  # a held lead has one
    return {"expired": held, "idle": max(held, last_action_at or held)}


def returns_to_pool(
    rules: Rules,
    status: str,
    assigned_at: datetime | None,
    call_back_at: datetime | None,
    last_action_at: datetime | None,
) -> tuple[datetime, str] | None:
    """When a current lead goes back to the pool if nothing more is done, and why.

    ``(moment, "keep period" | "no action")``, or ``None`` when no limit applies.
    The clock jobs count the same limits backwards from now (``jobs._release_held``).
    """
    if status != LeadStatus.CURRENT.value or assigned_at is None:
        return None
    starts = limit_starts(assigned_at, call_back_at, last_action_at)
    working = rules.working_days_only
    limits = [
        (days_after(starts[kind], n, working_days_only=working), LIMIT_REASONS[kind])
        for kind, n in hold_limits(rules).items()
    ]
    return min(limits) if limits else None


def lead_detail(session: Session, lead_row: LeadRow) -> LeadDetail:
    """A lead with its custom fields, notes and full history (every owner's).

    The history leaves out ``note_added`` events: each note is shown with its
    author and time in the notes, and a "Note added" line beside it would only
    repeat that.
    """
    custom = session.scalar(select(Lead.custom).where(Lead.id == lead_row.id)) or {}
    author = aliased(User)
    notes = session.execute(
        select(Note.id, Note.at, author.display_name, Note.body)
        .outerjoin(author, author.id == Note.author_id)
        .where(Note.lead_id == lead_row.id)
        .order_by(Note.at, Note.id)
    )
    actor, from_owner, to_owner = aliased(User), aliased(User), aliased(User)
    events = session.execute(
        select(
            LeadEvent.id,
            LeadEvent.kind,
            LeadEvent.at,
            actor.display_name,
            LeadEvent.from_status,
            LeadEvent.to_status,
            from_owner.display_name,
            to_owner.display_name,
            LeadEvent.details,
        )
        .outerjoin(actor, actor.id == LeadEvent.actor_id)
        .outerjoin(from_owner, from_owner.id == LeadEvent.from_owner_id)
        .outerjoin(to_owner, to_owner.id == LeadEvent.to_owner_id)
        .where(LeadEvent.lead_id == lead_row.id, LeadEvent.kind != NOTE_ADDED)
        .order_by(LeadEvent.at, LeadEvent.id)
    )
    back = returns_to_pool(
        load_rules(session),
        lead_row.status,
        lead_row.assigned_at,
        lead_row.call_back_at,
        lead_row.last_action_at,
    )
    return LeadDetail(
        lead=lead_row,
        returns_at=back[0] if back else None,
        returns_because=back[1] if back else "",
        custom=dict(custom),
        notes=tuple(NoteRow(*n) for n in notes),
        history=tuple(
            EventRow(
                id=e[0],
                kind=e[1],
                at=e[2],
                actor_name=e[3],
                from_status=e[4],
                to_status=e[5],
                from_owner_name=e[6],
                to_owner_name=e[7],
                details=dict(e[8] or {}),
            )
            for e in events
        ),
    )
