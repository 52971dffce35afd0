"""The manager's table: the whole pool, filtered, sorted and paged in the database.

Managers see the whole pool through :func:`list_leads`, filtered and sorted in
the database and paged by keyset ``(sort key, id)`` — never by deep OFFSET.
Every order is a chain of *segments*; each segment is one index range read in
``(column, id)`` or ``(id)`` order, so any page — the first, the thousandth,
the last — costs one short index scan per segment it touches (see
:class:`SortKey`).

Counting a million rows exactly costs far more than showing a page of them, so
:func:`count_leads` is exact up to :data:`COUNT_EXACT_UP_TO` (10,000) and above
it estimated from a sample, and the screen says "about" (see :class:`LeadCount`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, literal_column, or_, select, tuple_
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from salesdesk.db import Database
from salesdesk.models import Lead, LeadStatus, Pool, User
from salesdesk.services.auth import MANAGERS, require
from salesdesk.services.errors import ValidationError
from salesdesk.services.leads import text_filter
from salesdesk.services.lifecycle import lead_rows, status_is, to_lead_row
from salesdesk.services.records import Actor, LeadPage, LeadRow

MAX_PAGE = 500
WALK_PAGE = 5_000  # a page of walk_leads (an export)


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

# How the manager's table (and its CSV export) names each status.
STATUS_WORDS = {
    LeadStatus.POOL.value: "In pool",
    LeadStatus.CURRENT.value: "Current",
    LeadStatus.CALLBACK.value: "Call back",
    LeadStatus.APPOINTMENT.value: "Appointment",
    LeadStatus.DEAD.value: "Dead",
}

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
# A text search matching at most this many leads is read by id on SQLite.
FEW_MATCHES = 2_000


def _filter_conditions(f: LeadFilter, dialect: str) -> list[Any]:
    conditions = _indexed_conditions(f)
    text = text_filter(f.text, dialect)
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
    dialect = session.get_bind().dialect.name
    text = text_filter(f.text, dialect)
    if dialect != "sqlite":
        return indexed if text is None else [*indexed, text]
    if text is not None:
        # A search no index can answer: SQLite would walk the sort order's
        # index and read every row through it (1.4 s on a million leads when
        # the word is rare). One pass in the table's own order finds the
        # matches at half the cost; when they are few, the page is read by id.
        found = session.scalars(select(Lead.id).where(*indexed, text).limit(FEW_MATCHES + 1)).all()
        if len(found) <= FEW_MATCHES:
            return [Lead.id.in_(found)]
    if indexed:
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
    sampled = _by_id_alone(session, conditions)
    hits = session.scalar(select(func.count()).where(*sampled, or_(*windows))) or 0
    return LeadCount(max(round(hits * span / slots), COUNT_EXACT_UP_TO + 1), False)


def _by_id_alone(session: Session, conditions: list[Any]) -> list[Any]:
    """``conditions`` for a read that must go by id: kept away from SQLite's indexes.

    SQLite plans without statistics. Offered an index on a filter's column (the
    partial index of assigned dates, say), it walks the filter's whole range
    instead of the few id windows it was given: 95 ms instead of 2 for
    "assigned in the last 7 days" on a million leads. A condition inside a
    function call is one it cannot answer from an index. PostgreSQL keeps
    statistics and is left to plan.
    """
    if session.get_bind().dialect.name != "sqlite":
        return conditions
    return [func.ifnull(c, literal_column("0")) for c in conditions]


def count_leads(db: Database, actor: Actor, filters: LeadFilter = LeadFilter()) -> LeadCount:
    """How many leads match ``filters`` (exact when small, "about" when large)."""
    conditions = _filter_conditions(filters, db.dialect)
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
    limit = max(1, min(limit, MAX_PAGE))
    return _read_page(db, actor, filters, sort, descending, after, limit, with_total, from_end)


def walk_leads(
    db: Database,
    actor: Actor,
    filters: LeadFilter = LeadFilter(),
    sort: str = "created_at",
    descending: bool = True,
    page_size: int | None = None,
) -> Iterator[tuple[LeadRow, ...]]:
    """Every lead ``filters`` match, in the table's order, a page at a time (for an export).

    Each page is its own read transaction and continues from the last by
    keyset, so a million leads never sit in memory at once and no transaction
    stays open for the whole walk. Pages are larger than a screen's: a page's
    planning costs the same whatever its size.
    """
    after: tuple[Any, ...] | None = None
    size = page_size or WALK_PAGE
    while True:
        page = _read_page(db, actor, filters, sort, descending, after, size, False, False)
        if page.rows:
            yield page.rows
        if page.next_cursor is None:
            return
        after = page.next_cursor


def _read_page(
    db: Database,
    actor: Actor,
    filters: LeadFilter,
    sort: str,
    descending: bool,
    after: tuple[Any, ...] | None,
    limit: int,
    with_total: bool,
    from_end: bool,
) -> LeadPage:
    if sort not in SORT_KEYS:
        raise ValidationError(f"Leads cannot be sorted by '{sort}'.", field="sort")
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


__all__ = [
    "COUNT_EXACT_UP_TO",
    "MAX_PAGE",
    "SORT_KEYS",
    "STATUS_ORDER",
    "STATUS_WORDS",
    "LeadCount",
    "LeadFilter",
    "SortKey",
    "count_leads",
    "list_leads",
    "walk_leads",
]
