"""Team figures for the manager's view: who is working, which pool runs dry.

Everything here is read from the lead table and the event history that every
transition already writes, so no counter can drift from the truth. Each
function is one read transaction and returns frozen records; the charts and
the team panel draw them as they are.

"Today" and "a day" are the manager's local days (this computer's time zone
unless told otherwise): :func:`local_days` turns them into the naive UTC
instants the database stores, so a floor in New York sees its own days,
including the ones that are 23 or 25 hours long.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo

from sqlalchemy import case, func, select, text
from sqlalchemy.orm import InstrumentedAttribute, Session

from salesdesk.db import Database
from salesdesk.models import Lead, LeadEvent, LeadStatus, Pool, PoolMember, Role, Routing, User
from salesdesk.services.auth import MANAGERS, require
from salesdesk.services.errors import ValidationError
from salesdesk.services.records import Actor
from salesdesk.services.workdays import local_date, local_midnight

# A lead reaching a rep: pulled with Next, pushed by routing, or given by a manager.
CLAIM_KINDS = ("claimed", "routed", "assigned", "reassigned")
# What a rep decided about a lead: the four action buttons.
OUTCOME_KINDS = ("dead", "call_back", "email_confirmed", "appointment")
# Everything that counts as working a lead: the outcomes and logged calls.
ACTION_KINDS = (*OUTCOME_KINDS, "contacted")

# A rep with nothing done for this long is shown as idle — while the floor is at
# work, that is: while some rep did something within this time. Before the shift,
# at night and at weekends nobody has, and nobody is called idle (a banner naming
# every rep at every such hour would soon be ignored, in the hours it matters too).
IDLE_AFTER = timedelta(hours=1)
# A pool reps pull from (routing "next") runs dry when fewer leads wait than
# this many per active member. A pushed pool (round robin, weighted) hands
# each lead out as it arrives, so nothing waiting there is normal; a manual
# pool's leads wait for a manager, not for the reps.
DRY_PER_MEMBER = 2
MAX_DAYS = 92
# The most lead sources the filter offers.
MAX_SOURCES = 200


@dataclass(frozen=True, slots=True)
class RepActivityRow:
    """One rep in the team panel.

    Attributes:
        current: leads in the rep's Current list now.
        call_backs: leads the rep holds with a call back date.
        claimed_today: leads that reached the rep today (Next, routing, a manager).
        actions_today: calls logged and action buttons pressed today.
        last_activity_at: the rep's latest event of any kind (naive UTC), if any.
        idle: nothing done for :data:`IDLE_AFTER` (or ever) while another rep
            did something within it.
    """

    user_id: int
    display_name: str
    current: int
    call_backs: int
    claimed_today: int
    actions_today: int
    last_activity_at: datetime | None
    idle: bool


@dataclass(frozen=True, slots=True)
class PoolStatusRow:
    """Leads of one pool by status; ``pool_id`` is ``None`` for leads without a pool.

    Attributes:
        counts: status -> number of leads (every status present, zeros included).
        members: active members of the pool.
        running_dry: an active pool that its members pull from with Next, where
            fewer than :data:`DRY_PER_MEMBER` leads per member are waiting.
    """

    pool_id: int | None
    name: str
    active: bool
    counts: dict[str, int]
    members: int
    running_dry: bool

    @property
    def waiting(self) -> int:
        return self.counts.get(LeadStatus.POOL.value, 0)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True, slots=True)
class RepDayRow:
    """One rep's claims and outcomes on one local day.

    Attributes:
        day: the local calendar day.
        claims: leads that reached the rep that day (see ``CLAIM_KINDS``).
        outcomes: action kind -> count, every kind in ``OUTCOME_KINDS`` present.
    """

    day: date
    user_id: int
    display_name: str
    claims: int
    outcomes: dict[str, int] = field(default_factory=dict)


def local_days(now: datetime, days: int, tz: tzinfo | None = None) -> list[tuple[date, datetime]]:
    """The last ``days`` local days (today last) with the instant each starts, and tomorrow's.

    Args:
        now: the current instant, naive UTC (``db.now()``).
        days: how many days, today included.
        tz: the time zone of the days; ``None`` means this computer's.

    Returns:
        ``days + 1`` pairs ``(local date, start as naive UTC)``, ascending; day
        ``i`` runs from ``result[i][1]`` up to ``result[i + 1][1]``.
    """
    if not 1 <= days <= MAX_DAYS:
        raise ValidationError(f"Choose from 1 to {MAX_DAYS} days.", field="days")
    today = local_date(now, tz)
    result = []
    for back in range(days - 1, -2, -1):
        day = today - timedelta(days=back)
        result.append((day, local_midnight(day, tz)))
    return result


def team_activity(db: Database, actor: Actor, tz: tzinfo | None = None) -> list[RepActivityRow]:
    """Every active rep: what they hold, what they did today, when they last did anything.

    Args:
        tz: whose "today"; ``None`` means this computer's time zone.
    """
    today = local_days(db.now(), 1, tz)[0][1]
    with db.read() as session:
        require(session, actor, MANAGERS)
        now = db.now()
        # The latest event per rep: one index probe each on (actor_id, at).
        last = (
            select(func.max(LeadEvent.at))
            .where(LeadEvent.actor_id == User.id)
            .correlate(User)
            .scalar_subquery()
        )
        reps = session.execute(
            select(User.id, User.display_name, last)
            .where(User.role == Role.REP.value, User.active.is_(True))
            .order_by(User.display_name, User.id)
        ).all()
        ids = [r[0] for r in reps]
        held = _held_counts(session, ids)
        claimed = _event_counts(session, LeadEvent.to_owner_id, CLAIM_KINDS, today)
        actions = _event_counts(session, LeadEvent.actor_id, ACTION_KINDS, today)
        quiet = {r[0]: r[2] is None or now - r[2] >= IDLE_AFTER for r in reps}
        floor_at_work = not all(quiet.values())
        return [
            RepActivityRow(
                user_id=user_id,
                display_name=name,
                current=held.get((user_id, LeadStatus.CURRENT.value), 0),
                call_backs=held.get((user_id, LeadStatus.CALLBACK.value), 0),
                claimed_today=claimed.get(user_id, 0),
                actions_today=actions.get(user_id, 0),
                last_activity_at=last_at,
                idle=floor_at_work and quiet[user_id],
            )
            for user_id, name, last_at in reps
        ]


def _held_counts(session: Session, user_ids: list[int]) -> dict[tuple[int, str], int]:
    if not user_ids:
        return {}
    rows = session.execute(
        select(Lead.owner_id, Lead.status, func.count())
        .where(
            Lead.owner_id.in_(user_ids),
            Lead.status.in_((LeadStatus.CURRENT.value, LeadStatus.CALLBACK.value)),
        )
        .group_by(Lead.owner_id, Lead.status)
    )
    return {(owner, status): n for owner, status, n in rows if owner is not None}


def _event_counts(
    session: Session,
    person: InstrumentedAttribute[int | None],
    kinds: Sequence[str],
    since: datetime,
) -> dict[int, int]:
    rows = session.execute(
        select(person, func.count())
        .where(LeadEvent.at >= since, LeadEvent.kind.in_(kinds), person.is_not(None))
        .group_by(person)
    )
    return {user_id: n for user_id, n in rows if user_id is not None}


def pool_status_counts(db: Database, actor: Actor) -> list[PoolStatusRow]:
    """Leads by status in every pool (pools by name; leads without a pool last)."""
    with db.read() as session:
        require(session, actor, MANAGERS)
        counts: dict[int | None, dict[str, int]] = {}
        for pool_id, status, n in session.execute(
            select(Lead.pool_id, Lead.status, func.count()).group_by(Lead.pool_id, Lead.status)
        ):
            counts.setdefault(pool_id, {})[status] = n
        members = dict(
            session.execute(
                select(PoolMember.pool_id, func.count())
                .join(User, User.id == PoolMember.user_id)
                .where(User.active.is_(True))
                .group_by(PoolMember.pool_id)
            ).all()
        )
        pools = session.execute(select(Pool.id, Pool.name, Pool.active, Pool.routing)).all()
        rows = []
        for pool_id, name, active, routing in sorted(pools, key=lambda p: (p[1].casefold(), p[0])):
            by_status = _all_statuses(counts.get(pool_id, {}))
            n_members = members.get(pool_id, 0)
            dry = (
                active
                and routing == Routing.NEXT.value
                and n_members > 0
                and by_status[LeadStatus.POOL.value] < DRY_PER_MEMBER * n_members
            )
            rows.append(PoolStatusRow(pool_id, name, active, by_status, n_members, dry))
        if None in counts:
            orphans = _all_statuses(counts[None])
            rows.append(PoolStatusRow(None, "No pool", False, orphans, 0, False))
        return rows


def _all_statuses(counts: dict[str, int]) -> dict[str, int]:
    return {s.value: counts.get(s.value, 0) for s in LeadStatus}


def rep_activity_by_day(
    db: Database, actor: Actor, days: int = 7, tz: tzinfo | None = None
) -> list[RepDayRow]:
    """Claims and outcomes per rep per local day, for the chart.

    Args:
        days: how many days back, today included.
        tz: whose days; ``None`` means this computer's time zone.

    Returns:
        One row per active rep per day (zeros included, so a chart shows an idle
        day as a gap rather than leaving it out), days ascending.
    """
    bounds = local_days(db.now(), days, tz)
    starts = [start for _, start in bounds]
    # The bucket is computed in the database with plain comparisons, so the
    # same statement runs on both engines and honours days of any length.
    bucket = case(
        *((LeadEvent.at < end, i) for i, end in enumerate(starts[1:])),
        else_=len(starts) - 1,
    )
    is_claim = LeadEvent.kind.in_(CLAIM_KINDS)
    person = case((is_claim, LeadEvent.to_owner_id), else_=LeadEvent.actor_id)
    with db.read() as session:
        require(session, actor, MANAGERS)
        reps = session.execute(
            select(User.id, User.display_name)
            .where(User.role == Role.REP.value, User.active.is_(True))
            .order_by(User.display_name, User.id)
        ).all()
        found: dict[tuple[int, int], dict[str, int]] = {}
        for day, user_id, kind, n in session.execute(
            select(bucket, person, LeadEvent.kind, func.count())
            .where(
                LeadEvent.at >= starts[0],
                LeadEvent.at < starts[-1],
                LeadEvent.kind.in_((*CLAIM_KINDS, *OUTCOME_KINDS)),
            )
            .group_by(bucket, person, LeadEvent.kind)
        ):
            if user_id is not None:
                found.setdefault((day, user_id), {})[kind] = n
    rows = []
    for i, (day, _) in enumerate(bounds[:-1]):
        for user_id, name in reps:
            kinds = found.get((i, user_id), {})
            rows.append(
                RepDayRow(
                    day=day,
                    user_id=user_id,
                    display_name=name,
                    claims=sum(kinds.get(k, 0) for k in CLAIM_KINDS),
                    outcomes={k: kinds.get(k, 0) for k in OUTCOME_KINDS},
                )
            )
    return rows


# Each step finds the next source above the last one with one probe of the
# (source, id) index, so listing a handful of sources costs a handful of probes
# however many leads there are (a "skip scan", written out for both engines).
_SOURCES_SQL = text(
    """
    WITH RECURSIVE found(value, n) AS (
        SELECT (SELECT min(source) FROM leads WHERE source > ''), 1
        UNION ALL
        SELECT (SELECT min(source) FROM leads WHERE source > found.value), found.n + 1
        FROM found
        WHERE found.value IS NOT NULL AND found.n < :most
    )
    SELECT value FROM found WHERE value IS NOT NULL
    """
)


def lead_sources(db: Database, actor: Actor) -> list[str]:
    """Every non-empty lead source (at most :data:`MAX_SOURCES`), in order, for the filter."""
    with db.read() as session:
        require(session, actor, MANAGERS)
        return list(session.scalars(_SOURCES_SQL, {"most": MAX_SOURCES}))
