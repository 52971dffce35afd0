"""Leads: adding them, the lists people see, and a manager's operations.

Reps see only their own leads; every query here filters by the actor, so a
rep's request for another rep's lead is refused rather than answered.
Managers see the whole pool through :func:`list_leads`, filtered and sorted in
the database and paged by keyset ``(sort key, id)`` — never by deep OFFSET.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    and_,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    tuple_,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session
from sqlalchemy.sql.schema import Table
from sqlalchemy.types import JSON

from salesdesk.db import Database
from salesdesk.models import Lead, LeadEvent, LeadStatus, Pool, Role, User
from salesdesk.services.auth import MANAGERS, require
from salesdesk.services.errors import NotAllowedError, NotFoundError, ValidationError
from salesdesk.services.lifecycle import (
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
from salesdesk.services.routing import route_new_leads
from salesdesk.services.rules import Rules, load_rules

EMAIL_RE = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
_NOT_DIGIT = re.compile(r"\D")
MAX_PAGE = 500


def email_key(email: str | None) -> str | None:
    return email.strip().lower() if email and email.strip() else None


def phone_key(phone: str | None) -> str | None:
    """Digits only, so '+44 20 7946 0018' and '0044-20-7946-0018' compare by their tail."""
    digits = _NOT_DIGIT.sub("", phone or "")
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
    if lead.phone and len(_NOT_DIGIT.sub("", lead.phone)) < 5:
        raise ValidationError(f'invalid phone number "{lead.phone}"', field="phone")


def insert_leads(
    session: Session,
    leads: Sequence[NewLead],
    pool_id: int,
    now: datetime,
    rules: Rules,
    actor_id: int | None,
    keys: Sequence[tuple[str | None, str | None]] | None = None,
) -> list[int]:
    """Insert already-checked leads into a pool, then route them.

    ``keys``: each lead's ``(email_key, phone_key)`` when the caller has them
    already (the import, which checked duplicates with them).

    One ``created`` event per lead keeps the history complete from the start.
    The ids are reserved first (:func:`_reserve_lead_ids`), so the leads and
    their events go in without ``RETURNING``, at the driver's own bulk speed
    (:func:`_bulk_insert`): SQLAlchemy cannot batch an ``INSERT … RETURNING``
    whose ids must come back in row order on SQLite, and ran one statement per
    lead there.
    """
    if not leads:
        return []
    ids = _reserve_lead_ids(session, len(leads))
    pool = LeadStatus.POOL.value
    empty = json.dumps({})
    if keys is None:
        keys = [(email_key(lead.email), phone_key(lead.phone)) for lead in leads]
    _bulk_insert(
        session,
        cast(Table, Lead.__table__),
        _LEAD_COLUMNS,
        [
            (
                lead_id,
                lead.first_name.strip(),
                lead.last_name.strip(),
                lead.company.strip(),
                lead.email.strip() if lead.email else None,
                lead.phone.strip() if lead.phone else None,
                email,
                phone,
                lead.source.strip(),
                lead.score,
                lead.priority,
                json.dumps(lead.custom) if lead.custom else empty,
                "[]",
                pool,
                pool_id,
                now,
            )
            for lead_id, lead, (email, phone) in zip(ids, leads, keys, strict=True)
        ],
    )
    details = json.dumps({"pool_id": pool_id})
    _bulk_insert(
        session,
        cast(Table, LeadEvent.__table__),
        _EVENT_COLUMNS,
        [(lead_id, actor_id, "created", now, pool, details) for lead_id in ids],
    )
    route_new_leads(session, {pool_id: ids}, now, rules, actor_id)
    return ids


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
_EVENT_COLUMNS = ("lead_id", "actor_id", "kind", "at", "to_status", "details")


def _reserve_lead_ids(session: Session, count: int) -> list[int]:
    """Ids for ``count`` new leads, in ascending order, taken before the INSERT.

    PostgreSQL: from the column's own sequence, so concurrent writers never
    collide. SQLite: the ids after the largest one — what SQLite itself would
    choose — which is safe because every write transaction starts with
    ``BEGIN IMMEDIATE`` and so holds the database's only write lock.
    """
    if session.get_bind().dialect.name == "postgresql":
        sequence = func.pg_get_serial_sequence(Lead.__tablename__, "id")
        reserved = session.scalars(
            select(func.nextval(sequence)).select_from(func.generate_series(1, count))
        )
        return sorted(int(i) for i in reserved)
    largest = session.scalar(select(func.max(Lead.id))) or 0
    return list(range(largest + 1, largest + count + 1))


def _bulk_insert(
    session: Session, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """Many rows into one table in the session's transaction, JSON columns as text.

    PostgreSQL: ``COPY … FROM STDIN``, several times faster than any INSERT.
    Elsewhere (SQLite): one DB-API ``executemany``, with only the values that
    need it (datetimes) passed through the dialect's own bind processing —
    SQLAlchemy's per-row parameter handling cost more than the INSERT itself.
    """
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name == "postgresql":
        driver = connection.connection.driver_connection
        assert driver is not None
        with (
            driver.cursor() as cursor,
            cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    # (column index, processor, memo): a batch shares one timestamp, so each
    # distinct value is processed once.
    processors: list[tuple[int, Any, dict[Any, Any]]] = [
        (i, process, {})
        for i, name in enumerate(columns)
        if not isinstance(table.c[name].type, JSON)
        and (process := table.c[name].type.dialect_impl(dialect).bind_processor(dialect))
    ]
    compiled = insert(table).compile(dialect=dialect, column_keys=list(columns))
    names = list(compiled.positiontup or columns)
    reorder = names != list(columns)
    order = [columns.index(name) for name in names]
    params: list[Any] = []
    for row in rows:
        values = list(row)
        for i, process, memo in processors:
            value = values[i]
            if value not in memo:
                memo[value] = process(value)
            values[i] = memo[value]
        if compiled.positiontup is None:
            params.append(dict(zip(columns, values, strict=True)))
        else:
            params.append(tuple([values[i] for i in order] if reorder else values))
    connection.exec_driver_sql(compiled.string, params)


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


def text_filter(text: str) -> ColumnElement[bool] | None:
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
    condition = text_filter(search)
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
    """What the manager's table shows; every field set narrows it, empty ones do not.

    Date bounds are naive UTC; ``*_from`` is inclusive and ``*_to`` exclusive, so
    consecutive days never overlap.
    """

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
    call_back_from: datetime | None = None
    call_back_to: datetime | None = None
    text: str = ""


@dataclass(frozen=True, slots=True)
class LeadCount:
    """How many leads match a filter: exact when small, otherwise an estimate.

    Counting a million rows exactly costs far more than showing a page of them,
    so above :data:`COUNT_EXACT_UP_TO` the count is estimated from a sample and
    the screen says "about".
    """

    value: int
    exact: bool


@dataclass(frozen=True, slots=True)
class SortKey:
    """How one column of the manager's table sorts.

    Every order is a chain of *segments*; each segment is one index range read
    in ``(column, id)`` or ``(id)`` order, so any page — the first, the
    thousandth, the last — costs one short index scan per segment it touches.

    Attributes:
        column: the lead column whose value orders the rows.
        blank: the value that means "empty" (``None`` for NULL, ``""`` for empty
            text). Empty values come last in both directions, as in a
            spreadsheet, so sorting by call back date shows the dates first.
        groups: ``"status"``, ``"pool"`` or ``"owner"``: one segment per status
            (in lifecycle order) or per pool/person (by name), read by id.
    """

    column: Any
    blank: Any = ...
    groups: str | None = None


# The statuses in the order a lead lives through them.
STATUS_ORDER = (
    LeadStatus.POOL,
    LeadStatus.CURRENT,
    LeadStatus.CALLBACK,
    LeadStatus.APPOINTMENT,
    LeadStatus.DEAD,
)

SORT_KEYS: dict[str, SortKey] = {
    "created_at": SortKey(Lead.created_at),
    "name": SortKey(Lead.last_name, blank=""),
    "company": SortKey(Lead.company, blank=""),
    "pool": SortKey(Lead.pool_id, blank=None, groups="pool"),
    "status": SortKey(Lead.status, groups="status"),
    "owner": SortKey(Lead.owner_id, blank=None, groups="owner"),
    "assigned_at": SortKey(Lead.assigned_at, blank=None),
    "last_contacted_at": SortKey(Lead.last_contacted_at, blank=None),
    "call_back_at": SortKey(Lead.call_back_at, blank=None),
    "source": SortKey(Lead.source, blank=""),
    "score": SortKey(Lead.score),
}

# Exact counts up to here; above it, an estimate from a sample of id ranges.
COUNT_EXACT_UP_TO = 10_000
_SAMPLE_WINDOWS = 20
_SAMPLE_WIDTH = 250
# Below this many matches a filter is always "narrow" to the SQLite planner hint.
_PROBE = 1_000


def _filter_conditions(f: LeadFilter) -> list[Any]:
    conditions = _indexed_conditions(f)
    text = text_filter(f.text)
    if text is not None:
        conditions.append(text)
    return conditions


def _indexed_conditions(f: LeadFilter) -> list[Any]:
    """The filter's conditions that an index can answer (all but the text search)."""
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
        (Lead.call_back_at, f.call_back_from, f.call_back_to),
    ):
        if low is not None:
            conditions.append(column >= low)
        if high is not None:
            conditions.append(column < high)
    return conditions


def _id_range(session: Session) -> tuple[Any, Any]:
    """The smallest and largest lead id: two index probes.

    Written as two subqueries on purpose: SQLite answers ``min(id)`` or
    ``max(id)`` alone from the index, but both in one SELECT with a full scan.
    """
    lowest = select(func.min(Lead.id)).scalar_subquery()
    highest = select(func.max(Lead.id)).scalar_subquery()
    low, high = session.execute(select(lowest, highest)).one()
    return low, high


def _broad_from(limit: int, span: int) -> int:
    """Matches above which walking the sort order beats sorting the matches (see below)."""
    return max(_PROBE, int(math.sqrt(limit * span)))


def _planned_conditions(session: Session, f: LeadFilter, limit: int) -> list[Any]:
    """The filter's conditions, with a hint for SQLite's planner when they match many rows.

    SQLite's statistics hold one average per index, so it takes "unassigned"
    (nine leads in ten) for as rare as "owned by Alice", reads every match
    through the filter's index and sorts them all: seconds, for 200 rows.
    A capped count of the matches tells a broad filter from a narrow one, and a
    broad one is marked ``likelihood(…, 0.9)`` so the planner walks the sort
    order's index instead and stops after one page.

    Where the line lies: walking the order reads about ``limit / share`` rows,
    sorting the matches reads ``share * n`` of them; the two cost the same at
    ``sqrt(limit * n)`` matches (about 14,000 for 200 rows of 1,000,000), which
    is the cap of the count. PostgreSQL keeps per-value statistics and plans
    this well by itself.
    """
    indexed = _indexed_conditions(f)
    text = text_filter(f.text)
    if indexed and session.get_bind().dialect.name == "sqlite":
        low, high = _id_range(session)
        cap = _broad_from(limit, (high - low + 1) if low is not None else 0)
        probe = select(Lead.id).where(*indexed).limit(cap + 1).subquery()
        if (session.scalar(select(func.count()).select_from(probe)) or 0) > cap:
            indexed = [func.likelihood(c, literal_column("0.9")) for c in indexed]
    return indexed if text is None else [*indexed, text]


@dataclass(frozen=True, slots=True)
class _Segment:
    key: tuple[Any, ...]  # orders the segments; (1,) marks the "empty" segment
    # Builds the condition that selects the segment's rows (None: all of them);
    # built only for segments actually read, as one page rarely needs many.
    condition: Callable[[], Any] | None
    column: Any | None  # read in (column, id) order; None: by id alone


def _status_test(status: LeadStatus) -> Callable[[], Any]:
    return lambda: status_is(status)


def _equals(column: Any, value: Any) -> Callable[[], Any]:
    return lambda: column == value


def _segments(session: Session, spec: SortKey, conditions: list[Any]) -> list[_Segment]:
    column = spec.column
    if spec.groups == "status":
        return [_Segment((0, i), _status_test(s), None) for i, s in enumerate(STATUS_ORDER)]
    if spec.groups == "pool":
        named = session.execute(select(Pool.id, Pool.name)).all()
    elif spec.groups == "owner":
        # Only people who hold a matching lead: held leads are few (reps x cap
        # plus call backs), so this reads a short index range, and an idle
        # floor of hundreds of reps costs no empty queries.
        holders = select(Lead.owner_id).where(Lead.owner_id.is_not(None), *conditions).distinct()
        named = session.execute(
            select(User.id, User.display_name).where(User.id.in_(holders))
        ).all()
    elif spec.blank is ...:
        return [_Segment((0,), None, column)]
    elif spec.blank is None:
        return [
            _Segment((0,), lambda: column.is_not(None), column),
            _Segment((1,), lambda: column.is_(None), None),
        ]
    else:
        # "> ''" rather than "<> ''": a range the index can seek to.
        return [
            _Segment((0,), lambda: column > spec.blank, column),
            _Segment((1,), lambda: column == spec.blank, None),
        ]
    groups = [
        _Segment((0, name.casefold(), gid), _equals(column, gid), None) for gid, name in named
    ]
    return [*groups, _Segment((1,), lambda: column.is_(None), None)]


def _traversal(keys: Iterable[tuple[Any, ...]], descending: bool) -> list[tuple[Any, ...]]:
    """Segment keys in reading order: values by direction, the empty segment last."""
    keys = set(keys)
    body = sorted((k for k in keys if k[0] == 0), reverse=descending)
    return body + sorted(k for k in keys if k[0] != 0)


def _order(segment: _Segment, descending: bool) -> list[Any]:
    columns = [segment.column, Lead.id] if segment.column is not None else [Lead.id]
    return [c.desc() if descending else c.asc() for c in columns]


def _after(segment: _Segment, cursor: tuple[Any, ...], descending: bool) -> Any:
    _, value, lead_id = cursor
    if segment.column is None:
        return Lead.id < lead_id if descending else Lead.id > lead_id
    here, there = tuple_(segment.column, Lead.id), tuple_(value, lead_id)
    return here < there if descending else here > there


def _read_segments(
    session: Session,
    segments: list[_Segment],
    conditions: list[Any],
    descending: bool,
    after: tuple[Any, ...] | None,
    wanted: int,
) -> list[tuple[_Segment, RowMapping]]:
    by_key = {s.key: s for s in segments}
    keys = [s.key for s in segments]
    start = 0
    if after is not None:
        try:
            key = tuple(after[0])
            if len(after) != 3 or not any(len(k) == len(key) and k[0] == key[0] for k in keys):
                raise ValueError("a cursor of another order")
            order = _traversal([*keys, key], descending)
            start = order.index(key)
        except (TypeError, ValueError, IndexError):
            raise ValidationError("This list is out of date; refresh it.", field="after") from None
        keys = order
    found: list[tuple[_Segment, RowMapping]] = []
    for position, key in enumerate(_traversal(keys, descending) if after is None else keys):
        if position < start or key not in by_key:
            continue
        segment = by_key[key]
        query = lead_rows().where(*conditions)
        if segment.condition is not None:
            query = query.where(segment.condition())
        if after is not None and position == start:
            query = query.where(_after(segment, after, descending))
        query = query.order_by(*_order(segment, descending)).limit(wanted - len(found))
        found += [(segment, row) for row in session.execute(query).mappings()]
        if len(found) >= wanted:
            break
    return found


def _cursor(segment: _Segment, row: RowMapping) -> tuple[Any, ...]:
    value = row[segment.column.key] if segment.column is not None else None
    return (segment.key, value, row["id"])


def _count(session: Session, conditions: list[Any]) -> LeadCount:
    """Exact up to :data:`COUNT_EXACT_UP_TO`; above, estimated from id windows.

    The estimate counts matching rows in evenly spaced windows of ids (one
    stratified sample across the table's age) and scales by the id span, so
    gaps left by deleted leads are accounted for. It reads about 5,000 rows
    by primary key however large the table is.
    """
    capped = select(Lead.id).where(*conditions).limit(COUNT_EXACT_UP_TO + 1).subquery()
    exact = session.scalar(select(func.count()).select_from(capped)) or 0
    if exact <= COUNT_EXACT_UP_TO:
        return LeadCount(exact, True)
    low, high = _id_range(session)
    span = high - low + 1
    slots = _SAMPLE_WINDOWS * _SAMPLE_WIDTH
    if span <= 4 * slots:
        total = session.scalar(select(func.count()).select_from(Lead).where(*conditions)) or 0
        return LeadCount(total, True)
    step = span // _SAMPLE_WINDOWS
    windows = [
        Lead.id.between(low + i * step, low + i * step + _SAMPLE_WIDTH - 1)
        for i in range(_SAMPLE_WINDOWS)
    ]
    hits = session.scalar(select(func.count()).where(*conditions, or_(*windows))) or 0
    return LeadCount(max(round(hits * span / slots), COUNT_EXACT_UP_TO + 1), False)


def count_leads(db: Database, actor: Actor, filters: LeadFilter = LeadFilter()) -> LeadCount:
    """How many leads match ``filters`` (exact when small, "about" when large)."""
    conditions = _filter_conditions(filters)
    with db.read() as session:
        require(session, actor, MANAGERS)
        return _count(session, conditions)


def list_leads(
    db: Database,
    actor: Actor,
    filters: LeadFilter = LeadFilter(),
    sort: str = "created_at",
    descending: bool = True,
    after: tuple[Any, ...] | None = None,
    limit: int = 100,
    with_total: bool = True,
    from_end: bool = False,
) -> LeadPage:
    """One page of the whole pool for a manager.

    Filtered and sorted in the database and paged by keyset: pass the previous
    page's ``next_cursor`` as ``after``. ``from_end`` returns the last page of
    the order instead (rows still in display order; no ``next_cursor``).

    ``total`` is exact up to :data:`COUNT_EXACT_UP_TO` and an estimate above
    (see :func:`count_leads`, which also says which); ``-1`` without
    ``with_total``. A screen over a large table should ask for the page alone
    and the count separately, so the rows never wait for the count.
    """
    if sort not in SORT_KEYS:
        raise ValidationError(f"Leads cannot be sorted by '{sort}'.", field="sort")
    limit = max(1, min(limit, MAX_PAGE))
    with db.read() as session:
        require(session, actor, MANAGERS)
        conditions = _planned_conditions(session, filters, limit)
        segments = _segments(session, SORT_KEYS[sort], conditions)
        if from_end:
            # The last page is the first page read backwards: every segment in
            # the opposite order, and each one in the opposite direction.
            backwards = list(reversed(_traversal([s.key for s in segments], descending)))
            by_key = {s.key: s for s in segments}
            found: list[tuple[_Segment, RowMapping]] = []
            for key in backwards:
                segment = by_key[key]
                query = lead_rows().where(*conditions)
                if segment.condition is not None:
                    query = query.where(segment.condition())
                query = query.order_by(*_order(segment, not descending))
                found += [
                    (segment, r)
                    for r in session.execute(query.limit(limit - len(found))).mappings()
                ]
                if len(found) >= limit:
                    break
            page, next_cursor = list(reversed(found)), None
        else:
            found = _read_segments(session, segments, conditions, descending, after, limit + 1)
            page = found[:limit]
            next_cursor = _cursor(*page[-1]) if len(found) > limit else None
        total = _count(session, conditions).value if with_total else -1
        return LeadPage(
            rows=tuple(to_lead_row(row) for _, row in page), total=total, next_cursor=next_cursor
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
