"""Leads: adding them, the lists people see, and a manager's operations.

Reps see only their own leads; every query here filters by the actor, so a
rep's request for another rep's lead is refused rather than answered.
Managers see the whole pool through :func:`list_leads`, filtered and sorted in
the database and paged by keyset ``(sort key, id)`` — never by deep OFFSET.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, insert, literal, or_, select, tuple_
from sqlalchemy.orm import Session

from salesdesk.db import Database
from salesdesk.models import Lead, LeadEvent, LeadStatus, Pool, Role, User
from salesdesk.services.allocation import route_new_leads
from salesdesk.services.auth import MANAGERS, require
from salesdesk.services.errors import NotAllowedError, NotFoundError, ValidationError
from salesdesk.services.lifecycle import (
    Owner,
    fetch_lead_row,
    fetch_lead_rows,
    give_to,
    lead_detail,
    lead_rows,
    record_event,
    release_to_pool,
    status_is,
    to_lead_row,
    transition,
)
from salesdesk.services.notifications import notify
from salesdesk.services.records import Actor, BulkResult, LeadDetail, LeadPage, LeadRow
from salesdesk.services.rules import Rules, load_rules

EMAIL_RE = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
MAX_PAGE = 500


def email_key(email: str | None) -> str | None:
    return email.strip().lower() if email and email.strip() else None


def phone_key(phone: str | None) -> str | None:
    """Digits only, so '+44 20 7946 0018' and '0044-20-7946-0018' compare by their tail."""
    digits = re.sub(r"\D", "", phone or "")
    if not digits:
        return None
    return digits[-10:] if len(digits) > 10 else digits


@dataclass(frozen=True, slots=True)
class NewLead:
    """The fields of a lead as it arrives (from a form, an import, the demo)."""

    first_name: str = ""
    last_name: str = ""
    company: str = ""
    email: str | None = None
    phone: str | None = None
    source: str = ""
    score: int = 0
    priority: int = 0
    custom: dict[str, Any] = field(default_factory=dict)


def check_new_lead(lead: NewLead) -> None:
    """Refuse a lead no one could contact, or one with a malformed email."""
    if not (lead.email or lead.phone):
        raise ValidationError("A lead needs an email address or a phone number.")
    if lead.email and not EMAIL_RE.match(lead.email.strip()):
        raise ValidationError(f'invalid email "{lead.email}"', field="email")
    if lead.phone and len(re.sub(r"\D", "", lead.phone)) < 5:
        raise ValidationError(f'invalid phone number "{lead.phone}"', field="phone")


def insert_leads(
    session: Session,
    leads: Sequence[NewLead],
    pool_id: int,
    now: datetime,
    rules: Rules,
    actor_id: int | None,
) -> list[int]:
    """Insert already-checked leads into a pool in one statement, then route them.

    One ``created`` event per lead keeps the history complete from the start.
    """
    if not leads:
        return []
    values = [
        {
            "first_name": lead.first_name.strip(),
            "last_name": lead.last_name.strip(),
            "company": lead.company.strip(),
            "email": lead.email.strip() if lead.email else None,
            "phone": lead.phone.strip() if lead.phone else None,
            "email_key": email_key(lead.email),
            "phone_key": phone_key(lead.phone),
            "source": lead.source.strip(),
            "score": lead.score,
            "priority": lead.priority,
            "custom": lead.custom,
            "tags": [],
            "status": LeadStatus.POOL.value,
            "pool_id": pool_id,
            "created_at": now,
        }
        for lead in leads
    ]
    ids = list(
        session.scalars(insert(Lead).returning(Lead.id, sort_by_parameter_order=True), values)
    )
    session.execute(
        insert(LeadEvent),
        [
            {
                "lead_id": lead_id,
                "actor_id": actor_id,
                "kind": "created",
                "at": now,
                "to_status": LeadStatus.POOL.value,
                "details": {"pool_id": pool_id},
            }
            for lead_id in ids
        ],
    )
    route_new_leads(session, {pool_id: ids}, now, rules, actor_id)
    return ids


def add_lead(db: Database, actor: Actor, pool_id: int, lead: NewLead) -> LeadRow:
    """A manager enters one lead by hand."""
    check_new_lead(lead)
    with db.write() as session:
        require(session, actor, MANAGERS)
        if session.get(Pool, pool_id) is None:
            raise NotFoundError("That pool no longer exists.")
        (lead_id,) = insert_leads(session, [lead], pool_id, db.now(), load_rules(session), actor.id)
        row = fetch_lead_row(session, lead_id)
        assert row is not None
        return row


# --- a rep's own lists ------------------------------------------------------------


def _text_filter(text: str) -> ColumnElement[bool] | None:
    words = text.split()
    if not words:
        return None
    conditions = []
    for word in words:
        pattern = f"%{word.lower()}%"
        conditions.append(
            or_(
                func.lower(Lead.first_name).like(pattern),
                func.lower(Lead.last_name).like(pattern),
                func.lower(Lead.company).like(pattern),
                Lead.email_key.like(pattern),
                Lead.phone.like(f"%{word}%"),
            )
        )
    return and_(*conditions)


def my_current_leads(db: Database, actor: Actor, search: str = "") -> list[LeadRow]:
    """The rep's Current list: oldest assignment first, so nothing is forgotten."""
    query = (
        lead_rows()
        .where(Lead.owner_id == actor.id, status_is(LeadStatus.CURRENT))
        .order_by(Lead.assigned_at, Lead.id)
    )
    return _own_list(db, actor, query, search)


def my_call_backs(db: Database, actor: Actor, search: str = "") -> list[LeadRow]:
    """The rep's Call backs: soonest due first (overdue ones on top)."""
    query = (
        lead_rows()
        .where(Lead.owner_id == actor.id, status_is(LeadStatus.CALLBACK))
        .order_by(Lead.call_back_at, Lead.id)
    )
    return _own_list(db, actor, query, search)


def _own_list(db: Database, actor: Actor, query: Any, search: str) -> list[LeadRow]:
    condition = _text_filter(search)
    if condition is not None:
        query = query.where(condition)
    with db.read() as session:
        require(session, actor)
        return [to_lead_row(r) for r in session.execute(query).mappings()]


def get_lead(db: Database, actor: Actor, lead_id: int) -> LeadDetail:
    """One lead, whole; a rep may open only their own."""
    with db.read() as session:
        user = require(session, actor)
        row = fetch_lead_row(session, lead_id)
        if row is None:
            raise NotFoundError("This lead no longer exists; a manager may have removed it.")
        if user.role == Role.REP.value and row.owner_id != user.id:
            raise NotAllowedError("This lead is not yours; ask your manager if you need it.")
        return lead_detail(session, row)


# --- the manager's view of the whole pool ----------------------------------------


@dataclass(frozen=True, slots=True)
class LeadFilter:
    pool_id: int | None = None
    statuses: tuple[str, ...] = ()
    owner_id: int | None = None
    unassigned: bool = False
    source: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    assigned_from: datetime | None = None
    assigned_to: datetime | None = None
    contacted_from: datetime | None = None
    contacted_to: datetime | None = None
    text: str = ""


_EPOCH = datetime(1900, 1, 1)

# Sortable columns: the expression and the value that stands in for NULL, so
# that keyset comparisons never meet a NULL.
SORT_KEYS: dict[str, tuple[Any, Any]] = {
    "created_at": (Lead.created_at, None),
    "name": (Lead.last_name, None),
    "company": (Lead.company, None),
    "pool": (Pool.name, ""),
    "status": (Lead.status, None),
    "owner": (Owner.display_name, ""),
    "assigned_at": (Lead.assigned_at, _EPOCH),
    "last_contacted_at": (Lead.last_contacted_at, _EPOCH),
    "call_back_at": (Lead.call_back_at, _EPOCH),
    "source": (Lead.source, None),
    "score": (Lead.score, None),
}


def _filter_conditions(f: LeadFilter) -> list[Any]:
    conditions: list[Any] = []
    if f.pool_id is not None:
        conditions.append(Lead.pool_id == f.pool_id)
    if f.statuses:
        conditions.append(Lead.status.in_(f.statuses))
    if f.unassigned:
        conditions.append(Lead.owner_id.is_(None))
    elif f.owner_id is not None:
        conditions.append(Lead.owner_id == f.owner_id)
    if f.source:
        conditions.append(Lead.source == f.source)
    for column, low, high in (
        (Lead.created_at, f.created_from, f.created_to),
        (Lead.assigned_at, f.assigned_from, f.assigned_to),
        (Lead.last_contacted_at, f.contacted_from, f.contacted_to),
    ):
        if low is not None:
            conditions.append(column >= low)
        if high is not None:
            conditions.append(column < high)
    text = _text_filter(f.text)
    if text is not None:
        conditions.append(text)
    return conditions


def list_leads(
    db: Database,
    actor: Actor,
    filters: LeadFilter = LeadFilter(),
    sort: str = "created_at",
    descending: bool = True,
    after: tuple[Any, ...] | None = None,
    limit: int = 100,
    with_total: bool = True,
) -> LeadPage:
    """One page of the whole pool for a manager, with the total that matches."""
    if sort not in SORT_KEYS:
        raise ValidationError(f"Leads cannot be sorted by '{sort}'.", field="sort")
    limit = max(1, min(limit, MAX_PAGE))
    column, null_as = SORT_KEYS[sort]
    key = func.coalesce(column, literal(null_as)) if null_as is not None else column
    conditions = _filter_conditions(filters)
    with db.read() as session:
        require(session, actor, MANAGERS)
        query = lead_rows().add_columns(key.label("sort_key")).where(*conditions)
        if after is not None:
            cursor = tuple_(key, Lead.id)
            query = query.where(cursor < tuple_(*after) if descending else cursor > tuple_(*after))
        order = [key.desc(), Lead.id.desc()] if descending else [key.asc(), Lead.id.asc()]
        rows = session.execute(query.order_by(*order).limit(limit + 1)).mappings().all()
        total = -1
        if with_total:
            count_query = select(func.count()).select_from(Lead)
            if sort in ("pool", "owner") or filters.text:
                count_query = count_query.outerjoin(Pool, Pool.id == Lead.pool_id).outerjoin(
                    Owner, Owner.id == Lead.owner_id
                )
            total = session.scalar(count_query.where(*conditions)) or 0
        page = rows[:limit]
        next_cursor = (page[-1]["sort_key"], page[-1]["id"]) if len(rows) > limit else None
        return LeadPage(
            rows=tuple(to_lead_row(r) for r in page), total=total, next_cursor=next_cursor
        )


def appointments_queue(db: Database, actor: Actor) -> list[LeadRow]:
    """Leads handed to the admin team, newest appointment first."""
    with db.read() as session:
        require(session, actor, MANAGERS)
        query = (
            lead_rows()
            .where(status_is(LeadStatus.APPOINTMENT), Lead.booked_at.is_(None))
            .order_by(Lead.appointment_at.desc(), Lead.id.desc())
        )
        return [to_lead_row(r) for r in session.execute(query).mappings()]


def mark_booked(db: Database, actor: Actor, lead_id: int) -> None:
    with db.write() as session:
        user = require(session, actor, MANAGERS)
        lead = session.get(Lead, lead_id, with_for_update=True)
        if lead is None or lead.status != LeadStatus.APPOINTMENT.value:
            raise NotFoundError("This appointment is no longer in the queue.")
        now = db.now()
        lead.booked_at = now
        record_event(
            session,
            lead_id=lead.id,
            actor_id=user.id,
            kind="booked",
            at=now,
            from_status=lead.status,
            to_status=lead.status,
        )


# --- manager operations: one lead or many, each an event ---------------------------


def _lock_leads(session: Session, lead_ids: Iterable[int]) -> list[Lead]:
    ids = sorted(set(lead_ids))  # a fixed order, so two bulk operations never deadlock
    return list(
        session.scalars(select(Lead).where(Lead.id.in_(ids)).order_by(Lead.id).with_for_update())
    )


def assign_leads(
    db: Database, actor: Actor, lead_ids: Sequence[int], to_user_id: int
) -> BulkResult:
    """Assign (from the pool) or reassign (from another rep) to one person.

    A manager's choice may exceed the rep's cap: the cap limits what a rep
    pulls, not what a manager decides. Dead leads and appointments are skipped.
    """
    with db.write() as session:
        manager = require(session, actor, MANAGERS)
        target = session.execute(
            select(User).where(User.id == to_user_id).with_for_update()
        ).scalar_one_or_none()
        if target is None or not target.active:
            raise ValidationError("Choose an active person to assign the leads to.", field="owner")
        now = db.now()
        done: list[int] = []
        skipped: dict[int, str] = {}
        found = _lock_leads(session, lead_ids)
        for missing in set(lead_ids) - {lead.id for lead in found}:
            skipped[missing] = "no longer exists"
        for lead in found:
            if lead.status in (LeadStatus.DEAD.value, LeadStatus.APPOINTMENT.value):
                skipped[lead.id] = f"is {lead.status}"
                continue
            if lead.owner_id == target.id:
                skipped[lead.id] = f"already belongs to {target.display_name}"
                continue
            former = lead.owner_id
            kind = "reassigned" if former is not None else "assigned"
            name = f"{lead.first_name} {lead.last_name}".strip() or lead.company
            if lead.status == LeadStatus.CALLBACK.value and former is not None:
                # The call back travels with the lead to its new owner.
                transition(
                    session, lead, kind=kind, actor_id=manager.id, at=now, owner_id=target.id
                )
            else:
                give_to(session, lead, target.id, kind=kind, actor_id=manager.id, at=now)
            notify(session, target.id, "assigned", f"{name} was assigned to you", now, lead.id)
            if former is not None:
                notify(
                    session,
                    former,
                    "reassigned_away",
                    f"{name} was reassigned to {target.display_name}",
                    now,
                    lead.id,
                )
            done.append(lead.id)
        return BulkResult(done=tuple(done), skipped=skipped)


def return_to_pool(db: Database, actor: Actor, lead_ids: Sequence[int]) -> BulkResult:
    with db.write() as session:
        manager = require(session, actor, MANAGERS)
        now = db.now()
        done: list[int] = []
        skipped: dict[int, str] = {}
        for lead in _lock_leads(session, lead_ids):
            if lead.status in (
                LeadStatus.POOL.value,
                LeadStatus.DEAD.value,
                LeadStatus.APPOINTMENT.value,
            ):
                skipped[lead.id] = f"is {lead.status}"
                continue
            former = lead.owner_id
            release_to_pool(session, lead, kind="returned", actor_id=manager.id, at=now)
            if former is not None:
                name = f"{lead.first_name} {lead.last_name}".strip() or lead.company
                notify(
                    session,
                    former,
                    "reassigned_away",
                    f"{name} went back to the pool",
                    now,
                    lead.id,
                )
            done.append(lead.id)
        return BulkResult(done=tuple(done), skipped=skipped)


def remove_leads(db: Database, actor: Actor, lead_ids: Sequence[int]) -> BulkResult:
    """Remove by the dead-lead rule: hide and tag, or delete."""
    with db.write() as session:
        manager = require(session, actor, MANAGERS)
        rules = load_rules(session)
        now = db.now()
        done: list[int] = []
        skipped: dict[int, str] = {}
        for lead in _lock_leads(session, lead_ids):
            if rules.dead_policy == "delete":
                record_event(
                    session,
                    lead_id=None,
                    actor_id=manager.id,
                    kind="deleted",
                    at=now,
                    from_status=lead.status,
                    from_owner_id=lead.owner_id,
                    details={"reason": "removed"},
                )
                session.execute(delete(Lead).where(Lead.id == lead.id))
            elif lead.status == LeadStatus.DEAD.value:
                skipped[lead.id] = "is already dead"
                continue
            else:
                lead.dead_at = now
                lead.call_back_at = None
                lead.tags = sorted({*(lead.tags or []), rules.dead_tag})
                transition(
                    session,
                    lead,
                    kind="removed",
                    actor_id=manager.id,
                    at=now,
                    status=LeadStatus.DEAD,
                    owner_id=None,
                )
            done.append(lead.id)
        return BulkResult(done=tuple(done), skipped=skipped)


def lead_rows_by_id(db: Database, actor: Actor, lead_ids: Sequence[int]) -> list[LeadRow]:
    with db.read() as session:
        require(session, actor, MANAGERS)
        return fetch_lead_rows(session, lead_ids)
