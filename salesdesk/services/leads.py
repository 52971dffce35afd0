"""Leads: adding them, a rep's own lists, and a manager's operations.

Reps see only their own leads; every query here filters by the actor, so a
rep's request for another rep's lead is refused rather than answered.
Managers see the whole pool through :mod:`salesdesk.services.lead_table`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain
from typing import Any, cast

from sqlalchemy import (
    JSON,
    ColumnElement,
    Integer,
    String,
    and_,
    func,
    insert,
    literal,
    or_,
    select,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.schema import Table
from sqlalchemy.types import DateTime

from salesdesk.db import Database
from salesdesk.models import Lead, LeadEvent, LeadStatus, Pool, Role, User
from salesdesk.services.auth import MANAGERS, require
from salesdesk.services.errors import NotAllowedError, NotFoundError, ValidationError
from salesdesk.services.lifecycle import (
    fetch_lead_row,
    fetch_lead_rows,
    forget_leads,
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
from salesdesk.services.records import Actor, BulkResult, LeadDetail, LeadRow
from salesdesk.services.routing import route_new_leads
from salesdesk.services.rules import Rules, load_rules
from salesdesk.services.sql_lists import among

EMAIL_RE = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
_NOT_DIGIT = re.compile(r"\D")
_PHONE_TYPED = re.compile(r"^[\d()+\-./]+$")  # a word of a phone number as people type it


def email_key(email: str | None) -> str | None:
    return email.strip().lower() if email and email.strip() else None


def phone_key(phone: str | None) -> str | None:
    """Digits only, so '+44 20 7946 0018' and '0044-20-7946-0018' compare by their tail."""
    return phone_key_of_digits(phone_digits(phone or ""))


def phone_digits(phone: str) -> str:
    return _NOT_DIGIT.sub("", phone)


def phone_key_of_digits(digits: str) -> str | None:
    """:func:`phone_key` of a phone whose digits are already known (the import's)."""
    return digits[-10:] or None


# The checks of a lead's email and phone, on values already stripped: the field
# that is malformed, or None. check_new_lead and the import both say why with
# INVALID_CONTACT.
INVALID_CONTACT = {"email": 'invalid email "{}"', "phone": 'invalid phone number "{}"'}
_MIN_PHONE_DIGITS = 5


def malformed_contact(email: str, digits: str, phone: str) -> str | None:
    """``email`` stripped, ``digits`` the phone's (:func:`phone_digits`)."""
    if email and not EMAIL_RE.match(email):
        return "email"
    if phone and len(digits) < _MIN_PHONE_DIGITS:
        return "phone"
    return None


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
    email, phone = (lead.email or "").strip(), lead.phone or ""
    bad = malformed_contact(email, phone_digits(phone), phone)
    if bad is not None:
        raise ValidationError(INVALID_CONTACT[bad].format(getattr(lead, bad)), field=bad)


def insert_leads(
    session: Session,
    leads: Sequence[NewLead],
    pool_id: int,
    now: datetime,
    rules: Rules,
    actor_id: int | None,
) -> list[int]:
    """Insert already-checked leads into a pool, then route them: :func:`insert_lead_values`."""
    empty = json.dumps({})
    return insert_lead_values(
        session,
        [
            (
                lead.first_name.strip(),
                lead.last_name.strip(),
                lead.company.strip(),
                lead.email.strip() if lead.email else None,
                lead.phone.strip() if lead.phone else None,
                email_key(lead.email),
                phone_key(lead.phone),
                lead.source.strip(),
                lead.score,
                lead.priority,
                json.dumps(lead.custom) if lead.custom else empty,
            )
            for lead in leads
        ],
        pool_id,
        now,
        rules,
        actor_id,
    )


LeadValues = tuple[
    str, str, str, str | None, str | None, str | None, str | None, str, int, int, str
]
"""A checked new lead as stored: first_name, last_name, company, email, phone,
email_key, phone_key, source, score, priority, and custom as JSON text.

The import builds these straight from a file's cells (a :class:`NewLead` per
row, and JSON encoding it again, cost a tenth of an import's time)."""


def insert_lead_values(
    session: Session,
    rows: Sequence[LeadValues],
    pool_id: int,
    now: datetime,
    rules: Rules,
    actor_id: int | None,
) -> list[int]:
    """Insert already-checked leads into a pool (:func:`write_lead_values`), then route them."""
    ids = write_lead_values(session, rows, pool_id, now, actor_id)
    route_new_leads(session, {pool_id: ids}, now, rules, actor_id)
    return ids


def write_lead_values(
    session: Session,
    rows: Sequence[LeadValues],
    pool_id: int,
    now: datetime,
    actor_id: int | None,
) -> list[int]:
    """Write already-checked leads into a pool, each with its ``created`` event; their ids.

    Routing them is the caller's next step (:func:`routing.route_new_leads`,
    which says how many it handed out). One ``created`` event per lead keeps
    the history complete from the start.
    The ids are reserved first (:func:`_reserve_lead_ids`), so the leads go
    in without ``RETURNING``, at the driver's own bulk speed
    (:func:`_bulk_insert`): SQLAlchemy cannot batch an ``INSERT … RETURNING``
    whose ids must come back in row order on SQLite, and ran one statement per
    lead there. Their events are then made from those ids in SQL
    (:func:`_record_created`).
    """
    if not rows:
        return []
    ids = _reserve_lead_ids(session, len(rows))
    stamp = _timestamp_for_driver(session, now)
    tail = ("[]", LeadStatus.POOL.value, pool_id, stamp)
    _bulk_insert(
        session,
        cast(Table, Lead.__table__),
        _LEAD_COLUMNS,
        [(lead_id, *row, *tail) for lead_id, row in zip(ids, rows, strict=True)],
    )
    _record_created(session, ids, pool_id, now, actor_id)
    return ids


def _record_created(
    session: Session, ids: list[int], pool_id: int, now: datetime, actor_id: int | None
) -> None:
    """The ``created`` event of each of these new leads: one ``INSERT … SELECT``.

    Every event of a batch is the same but for its lead, so the database makes
    them from the leads' ids (one parameter, see :func:`sql_lists.among`)
    rather than being sent a row per lead: 2 % fewer instructions per
    imported row on either engine (session 10), and no second path for rows.
    """
    dialect = session.get_bind().dialect.name
    made = select(
        Lead.id,
        literal(actor_id, Integer),
        literal("created", String),
        literal(now, DateTime),
        literal(LeadStatus.POOL.value, String),
        literal({"pool_id": pool_id}, JSON),
    ).where(among(Lead.id, ids, dialect))
    session.execute(insert(LeadEvent).from_select(_EVENT_COLUMNS, made))


_LEAD_COLUMNS = (
    "id",
    "first_name",
    "last_name",
    "company",
    "email",
    "phone",
    "email_key",
    "phone_key",
    "source",
    "score",
    "priority",
    "custom",
    "tags",
    "status",
    "pool_id",
    "created_at",
)
_EVENT_COLUMNS = ["lead_id", "actor_id", "kind", "at", "to_status", "details"]


def _reserve_lead_ids(session: Session, count: int) -> list[int]:
    """Ids for ``count`` new leads, in ascending order, taken before the INSERT.

    PostgreSQL: from the column's own sequence, so concurrent writers never
    collide. SQLite: the ids after the largest one — what SQLite itself would
    choose — which is safe because every write transaction starts with
    ``BEGIN IMMEDIATE`` and so holds the database's only write lock.
    """
    if session.get_bind().dialect.name == "postgresql":
        # The sequence is looked up once: named inside the query, it was looked up
        # (and its name cast to an oid) for every id, 5x the cost of the ids themselves.
        name = session.scalar(select(func.pg_get_serial_sequence(Lead.__tablename__, "id")))
        # Fetched by psycopg itself: SQLAlchemy's handling of a result row cost ten
        # times the query, 0.4 s of client CPU per 100,000 ids (session 9).
        reserved = (
            _psycopg(session)
            .execute("SELECT nextval(%s::regclass) FROM generate_series(1, %s)", (name, count))
            .fetchall()
        )
        return sorted(lead_id for (lead_id,) in reserved)
    largest = session.scalar(select(func.max(Lead.id))) or 0
    return list(range(largest + 1, largest + count + 1))


def _psycopg(session: Session) -> Any:
    """The psycopg connection under the session's: for COPY, and fetches SQLAlchemy makes slow."""
    driver = session.connection().connection.driver_connection
    assert driver is not None
    return driver


def _timestamp_for_driver(session: Session, moment: datetime) -> str:
    """``moment`` as the text the database driver is given for a timestamp, made once.

    Every row of a batch carries the same timestamp; converting it row by row
    (SQLAlchemy's processor for SQLite's text dates, psycopg's datetime dumper
    in a COPY: 3 µs a value, 0.23 s per 100,000 rows) cost more than sending it.
    """
    dialect = session.get_bind().dialect
    process = DateTime().dialect_impl(dialect).bind_processor(dialect)
    if process is not None:
        return str(process(moment))  # SQLite: SQLAlchemy's storage format
    # PostgreSQL: the ISO text COPY reads for a timestamp (the schema's are naive UTC).
    return moment.isoformat(" ")


def _bulk_insert(
    session: Session, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """Many rows into one table in the session's transaction, as the driver takes them.

    The values must be ready for the driver as they are: text (JSON columns
    too, and timestamps from :func:`_timestamp_for_driver`), numbers, None.
    PostgreSQL: ``COPY … FROM STDIN``, several times faster than any INSERT.
    Elsewhere (SQLite): one DB-API ``executemany`` of a statement that inserts
    :func:`_rows_per_insert` rows at once (and one shorter statement for the
    rows left over) — SQLAlchemy's per-row parameter handling cost more than
    the INSERT itself. Each run of an INSERT opens a cursor on the table and
    on every one of its indexes (``leads`` has a dozen) and finds its place in
    each from the root; one row per run spent half of SQLite's instructions on
    that (20,000 leads: 2.59 billion instructions one row at a time, 1.31
    billion fifty at a time, counted with callgrind).
    """
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name == "postgresql":
        with (
            _psycopg(session).cursor() as cursor,
            cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    per_insert = _rows_per_insert(len(columns))
    whole = len(rows) - len(rows) % per_insert
    flat = chain.from_iterable
    if whole:
        connection.exec_driver_sql(
            _multi_row_insert(dialect, table, columns, per_insert),
            [tuple(flat(rows[i : i + per_insert])) for i in range(0, whole, per_insert)],
        )
    if whole < len(rows):
        rest = rows[whole:]
        connection.exec_driver_sql(
            _multi_row_insert(dialect, table, columns, len(rest)), tuple(flat(rest))
        )


# SQLite before 3.32 allowed at most 999 parameters in a statement: within it, a
# 16-column row goes 62 at a time, where the gain has levelled off (50 rows at a
# time: 1.31 billion instructions per 20,000 leads, 200 at a time: 1.28).
_SQLITE_PARAMETERS = 999


def _rows_per_insert(width: int) -> int:
    return max(1, _SQLITE_PARAMETERS // width)


def _multi_row_insert(dialect: Dialect, table: Table, columns: Sequence[str], rows: int) -> str:
    """``INSERT INTO table (columns) VALUES (?, …), (?, …) …`` for ``rows`` rows.

    Written out rather than compiled: SQLAlchemy names every value of a
    multi-row insert (``first_name_m61``), which the driver would then map back.
    ``?`` is pysqlite's parameter style, the only driver that comes here.
    """
    assert dialect.paramstyle == "qmark", dialect.paramstyle
    quote = dialect.identifier_preparer.quote
    one = "(" + ", ".join(["?"] * len(columns)) + ")"
    return (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES {', '.join([one] * rows)}"
    )


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


def text_filter(text: str, dialect: str) -> ColumnElement[bool] | None:
    """Leads whose name, company, email or phone contain every word, ignoring case.

    A word typed like a phone number (``555-938-8053``) also matches the
    stored phone's digits, so the format it was saved in does not matter.

    ``%`` and ``_`` in a word are matched as themselves. SQLite's ``LIKE``
    already ignores the case of ASCII letters (as far as its ``lower()`` goes,
    too), so it is used as it is: lower-casing every row's columns first made a
    search of a million leads three times slower. PostgreSQL has ``ILIKE``.
    """
    words = text.split()
    if not words:
        return None
    columns = (Lead.first_name, Lead.last_name, Lead.company, Lead.email_key, Lead.phone)
    conditions = []
    for word in words:
        if dialect == "sqlite":
            found = [c.contains(word, autoescape=True) for c in columns]
        else:
            found = [c.icontains(word, autoescape=True) for c in columns]
        digits = phone_digits(word)
        if len(digits) >= 3 and _PHONE_TYPED.match(word):
            # A number as the customer gives it: 555-938-8053, (555) 9388053, …
            # matches the stored phone's digits, whatever its own format.
            found.append(Lead.phone_key.contains(phone_key_of_digits(digits)))
        conditions.append(or_(*found))
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
    condition = text_filter(search, db.dialect)
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


# --- the appointments queue (admins) ---------------------------------------------


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


# Why a lead was left alone by a bulk operation, read after a count ("2 already in the pool").
_CANNOT_MOVE = {
    LeadStatus.POOL.value: "already in the pool",
    LeadStatus.DEAD.value: "dead",
    LeadStatus.APPOINTMENT.value: "with the admin team (appointment made)",
}


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
                skipped[lead.id] = _CANNOT_MOVE[lead.status]
                continue
            if lead.owner_id == target.id:
                skipped[lead.id] = f"already belongs to {target.display_name}"
                continue
            former = lead.owner_id
            kind = "reassigned" if former is not None else "assigned"
            name = f"{lead.first_name} {lead.last_name}".strip() or lead.company
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
                skipped[lead.id] = _CANNOT_MOVE[lead.status]
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
        deleted: list[int] = []
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
                deleted.append(lead.id)
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
        forget_leads(session, deleted)
        return BulkResult(done=tuple(done), skipped=skipped)


def lead_rows_by_id(db: Database, actor: Actor, lead_ids: Sequence[int]) -> list[LeadRow]:
    with db.read() as session:
        require(session, actor, MANAGERS)
        return fetch_lead_rows(session, lead_ids)


__all__ = [
    "EMAIL_RE",
    "INVALID_CONTACT",
    "LeadValues",
    "NewLead",
    "add_lead",
    "appointments_queue",
    "assign_leads",
    "check_new_lead",
    "email_key",
    "get_lead",
    "insert_lead_values",
    "write_lead_values",
    "insert_leads",
    "lead_rows_by_id",
    "malformed_contact",
    "mark_booked",
    "my_call_backs",
    "my_current_leads",
    "phone_digits",
    "phone_key",
    "phone_key_of_digits",
    "remove_leads",
    "return_to_pool",
    "text_filter",
]
