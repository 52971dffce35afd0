"""Next: a rep pulls their next lead.

Next, in one write transaction:

1. lock the rep's own ``users`` row (PostgreSQL ``FOR UPDATE``; on SQLite the
   whole transaction holds the write lock from ``BEGIN IMMEDIATE``), so two
   clicks by the same rep — a double-click, two windows — run one after the
   other and the second sees the first's lead;
2. check the rep is active, under the cap, and (one-at-a-time mode) has no
   current lead still waiting for an action;
3. hand back the rep's own oldest due call back, if any;
4. otherwise claim the best pool lead with one conditional
   ``UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED LIMIT 1) … RETURNING``,
   so concurrent reps each skip the rows the others are taking. Both pool
   orders read one index, ``ix_leads_claim_newest``: newest first from its
   end; oldest first in two steps, the best (priority, score) group this rep
   may take from and then its oldest lead (on PostgreSQL, when others are
   taking every lead of that group, the next group down);
5. write the ``claimed`` event.

Next is the busiest call on a floor, so each engine gets the shortest path:

* PostgreSQL: the steps run inside the database function
  ``salesdesk_claim_next`` (written out whole in migration 0011) — one prepared call on the
  thread's own autocommit connection, one round trip, the lock and the rest in
  statements with a fresh snapshot each.
* SQLite: the whole claim holds the database's write lock, so it runs as plain
  ``sqlite3`` statements, the checks in one of them.
* A rep in several pools (and a refused account, to say why) takes the same
  steps through SQLAlchemy, one statement at a time.

Every path takes the click's ``request_id``: a retried click finds the event
its first attempt wrote and answers with that lead instead of claiming again.

Leads pushed to reps as they arrive (round robin, weighted) are
``services/routing.py``.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Connection,
    DateTime,
    bindparam,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.orm import Session, aliased

from salesdesk.db import Database
from salesdesk.models import Lead, LeadStatus, Pool, PoolMember, Routing, User
from salesdesk.services.auth import ANYONE, require
from salesdesk.services.errors import CapReachedError, OneAtATimeError
from salesdesk.services.lifecycle import (
    LEAD_COLUMNS,
    effective_cap,
    event_of_request,
    fetch_lead_row,
    record_event,
    status_is,
    to_lead_row,
)
from salesdesk.services.records import Actor, ClaimResult
from salesdesk.services.rules import Rules, rules_from_stored

ALREADY_DONE = (
    "Your last Next went through before the connection dropped, but that lead is no longer "
    "on your desk."
)
EMPTY_POOL = "No leads are waiting in your pools right now. Try again in a little while."
NO_POOLS = (
    "You are not a member of any active pool yet. An admin adds people to pools in "
    "Settings → Pools."
)
CALL_BACK_DUE = "A call back is due."


def claim_next_lead(db: Database, actor: Actor, *, request_id: str | None = None) -> ClaimResult:
    """Give the rep their next lead: a due call back first, else the best pool lead.

    ``request_id`` names the click. The desk retries a click whose answer was
    lost with the same id, and the retry answers with the lead the first
    attempt gave (if the rep still holds it) instead of claiming another.

    Raises:
        CapReachedError, OneAtATimeError: a rule refuses another lead now.
        NotAllowedError: the account is deactivated.
    """
    if db.dialect == "postgresql":
        result = _claim_in_database(db, actor, request_id)
    else:
        result = _claim_on_sqlite(db, actor, request_id)
    if result is not None:
        return result
    return _claim_step_by_step(db, actor, request_id)


def _replay(session: Session, actor: Actor, lead_id: int | None, kind: str) -> ClaimResult:
    """The answer to a Next that was already done: its lead, as it is now."""
    lead = fetch_lead_row(session, lead_id) if lead_id is not None else None
    if lead is None or lead.owner_id != actor.id:
        return ClaimResult(lead=None, message=ALREADY_DONE)
    if kind == "call_back_due":
        return ClaimResult(lead=lead, message=CALL_BACK_DUE, from_callback=True)
    return ClaimResult(lead=lead, message="")


# --- PostgreSQL: one call to salesdesk_claim_next() ------------------------------------

_CLAIM_CALL = "SELECT * FROM salesdesk_claim_next(%s, %s, %s, %s, %s, %s, %s, %s)"
# The function's columns after (outcome, held, cap, waiting_id), in its order.
_CLAIMED_COLUMNS = (
    "id",
    "first_name",
    "last_name",
    "company",
    "email",
    "phone",
    "source",
    "score",
    "priority",
    "status",
    "pool_id",
    "owner_id",
    "created_at",
    "assigned_at",
    "last_action_at",
    "last_contacted_at",
    "call_back_at",
    "email_confirmed_at",
    "appointment_at",
    "dead_at",
    "tags",
    "pool_name",
    "owner_name",
)


def _claim_in_database(db: Database, actor: Actor, request_id: str | None) -> ClaimResult | None:
    """Next as one prepared call in autocommit: the function is the transaction.

    Returns ``None``, with nothing changed, for a rep in several pools (and
    for an account that turned out fine on a second look), which the
    step-by-step path then handles.
    """
    now = db.now()
    with db.autocommit_cursor() as cursor:
        cursor.execute(_CLAIM_CALL, (actor.id, now, *_claim_defaults(), request_id), prepare=True)
        row = cursor.fetchone()
    outcome, held, cap, waiting_id = row[:4]
    if outcome in ("pool", "callback"):
        lead = to_lead_row(cast(Any, dict(zip(_CLAIMED_COLUMNS, row[4:], strict=True))))
        if outcome == "callback":
            return ClaimResult(lead=lead, message=CALL_BACK_DUE, from_callback=True)
        return ClaimResult(lead=lead, message="")
    if outcome in ("replayed_pool", "replayed_callback"):
        kind = "call_back_due" if outcome == "replayed_callback" else "claimed"
        with db.read() as session:
            return _replay(session, actor, waiting_id, kind)
    if outcome == "refused_by_rules":
        _refuse(db, held, cap, waiting_id)
    if outcome == "refused_account":
        with db.read() as session:
            require(session, actor)  # says why, in auth's own words
        return None
    if outcome == "no_pools":
        return ClaimResult(lead=None, message=NO_POOLS)
    if outcome == "empty":
        return ClaimResult(lead=None, message=EMPTY_POOL)
    return None  # several_pools


@functools.cache
def _claim_defaults() -> tuple[Any, ...]:
    """The roles that may click Next, and the rules' defaults.

    The function applies the stored rules over these defaults, so
    ``services/rules.py`` stays the one place that defines them.
    """
    defaults = Rules()
    return (
        "{" + ",".join(sorted(ANYONE)) + "}",  # a text[] literal: cheaper to send than a list
        defaults.cap,
        defaults.one_at_a_time,
        defaults.cooldown_hours,
        defaults.pool_order,
    )


def _refuse(db: Database, held: int, cap: int, waiting_id: int | None) -> None:
    """Raise the rule's refusal: the cap, else one lead at a time."""
    if held >= cap:
        raise CapReachedError(held, cap)
    with db.read() as session:
        waiting = fetch_lead_row(session, waiting_id) if waiting_id is not None else None
    raise OneAtATimeError(waiting.name if waiting else f"lead #{waiting_id}")


# --- SQLite: the same steps as plain statements on the bare sqlite3 connection ---------

# The claim's columns, as the two UPDATEs below return them.
_SQLITE_RETURNING = (
    "RETURNING id, first_name, last_name, company, email, phone, source, score, priority,"
    " status, pool_id, owner_id, created_at, assigned_at, last_action_at, last_contacted_at,"
    " call_back_at, email_confirmed_at, appointment_at, dead_at, tags,"
    " (SELECT name FROM pools WHERE pools.id = leads.pool_id) AS pool_name"
)
_SQLITE_DATETIME_COLUMNS = range(12, 20)  # created_at … dead_at in _CLAIMED_COLUMNS
_SQLITE_TAGS_COLUMN = 20

# Everything Next checks, in one statement: the rep and the rules, an earlier
# attempt of this click, the rep's pullable pools (how many, and the one), how
# many current leads the rep holds, and whether a call back is due (both from the
# index alone: a due call back is then reopened by its own statement).
_SQLITE_REP = f"""
    SELECT u.display_name, u.role, u.active, u.cap,
           (SELECT json_group_object(r.key, json(r.value)) FROM rules AS r),
           (SELECT e.kind FROM lead_events AS e WHERE e.request_id = :request_id),
           (SELECT e.lead_id FROM lead_events AS e WHERE e.request_id = :request_id),
           (SELECT count(*) FROM pool_members AS m JOIN pools AS p ON p.id = m.pool_id
            WHERE m.user_id = u.id AND p.active AND p.routing <> '{Routing.MANUAL.value}'),
           (SELECT min(m.pool_id) FROM pool_members AS m JOIN pools AS p ON p.id = m.pool_id
            WHERE m.user_id = u.id AND p.active AND p.routing <> '{Routing.MANUAL.value}'),
           (SELECT count(*) FROM leads AS l WHERE l.owner_id = u.id AND l.status = 'current'),
           EXISTS (SELECT 1 FROM leads AS l
                   WHERE l.owner_id = u.id AND l.status = 'callback' AND l.call_back_at <= :now)
    FROM users AS u
    WHERE u.id = :uid
"""
# One lead at a time only: the first current lead still waiting for an action (a due
# call back waits again until it is acted on). It reads every held lead's row, so it
# runs only when the rule is on: with the rule off it was most of a claim's page reads.
_SQLITE_WAITING = """
    SELECT min(id) FROM leads
    WHERE owner_id = :uid AND status = 'current'
      AND (last_action_at IS NULL OR last_action_at < assigned_at OR last_action_at < call_back_at)
"""
_SQLITE_DUE = f"""
    UPDATE leads SET status = 'current'
    WHERE id = (
        SELECT id FROM leads
        WHERE owner_id = :uid AND status = 'callback' AND call_back_at <= :now
        ORDER BY call_back_at, id
        LIMIT 1)
      AND status = 'callback'
    {_SQLITE_RETURNING}
"""
# No "call_back_at = NULL" here: a pool lead has none (release_to_pool clears it), and
# naming the column would make SQLite rewrite its index entry on every claim.
_SQLITE_CLAIM = """
    UPDATE leads
    SET status = 'current', owner_id = :uid, assigned_at = :now
    WHERE id = (
        SELECT l.id FROM leads AS l
        WHERE l.pool_id = :pool AND l.status = 'pool' AND {not_cooling}{group}
        ORDER BY {order}
        LIMIT 1)
      AND status = 'pool'
    {returning}
"""
_SQLITE_NOT_COOLING = (
    "({t}.previous_owner_id IS NULL OR {t}.previous_owner_id <> :uid OR {t}.released_at <= :since)"
)
# Oldest first reads the one claim index (ix_leads_claim_newest) in two steps: the
# best (priority, score) among the leads this rep may take, then that group's
# oldest lead. Under SQLite's write lock nobody else is taking a lead meanwhile.
_SQLITE_OLDEST_GROUP = """
          AND (l.priority, l.score) = (
              SELECT h.priority, h.score FROM leads AS h
              WHERE h.pool_id = :pool AND h.status = 'pool' AND {not_cooling}
              ORDER BY h.priority DESC, h.score DESC
              LIMIT 1)"""
_SQLITE_EVENT = """
    INSERT INTO lead_events (lead_id, actor_id, kind, at, from_status, to_status, from_owner_id,
                             to_owner_id, details, request_id)
    VALUES (:lead, :uid, :kind, :now, :from_status, 'current', :from_owner, :uid, :details,
            :request_id)
"""
# The same orders as _claim_order(); oldest first within its (priority, score) group.
_SQL_ORDER = {
    "newest_first": "l.priority DESC, l.score DESC, l.created_at DESC, l.id DESC",
    "oldest_first": "l.created_at, l.id",
}


def _claim_on_sqlite(db: Database, actor: Actor, request_id: str | None) -> ClaimResult | None:
    """Next on SQLite: the steps of :func:`_claim_step_by_step`, without the ORM.

    The whole claim holds the database's write lock, so the time spent in it
    is the floor's throughput; as plain ``sqlite3`` statements it is a tenth
    of what it is through the ORM. Returns ``None``, with nothing changed,
    for a refused account or a rep in several pools (the step-by-step path).
    """
    to_db, from_db = _sqlite_datetime(db.engine.dialect)
    with db.sqlite_write() as lite:
        step = _sqlite_claim_steps(lite, actor, db.now(), to_db, request_id)
    if step is None:
        return None
    outcome, payload = step
    if outcome == "done":
        with db.read() as session:
            return _replay(session, actor, *payload)
    if outcome == "refused":
        _refuse(db, *payload)
    if outcome in ("empty", "no_pools"):
        return ClaimResult(lead=None, message=EMPTY_POOL if outcome == "empty" else NO_POOLS)
    kind, row, display_name = payload
    values = list(row)
    for i in _SQLITE_DATETIME_COLUMNS:
        values[i] = from_db(values[i])
    values[_SQLITE_TAGS_COLUMN] = json.loads(values[_SQLITE_TAGS_COLUMN] or "[]")
    columns = dict(zip(_CLAIMED_COLUMNS[:-1], values, strict=True))
    lead = to_lead_row(cast(Any, {**columns, "owner_name": display_name}))
    if kind == "call_back_due":
        return ClaimResult(lead=lead, message=CALL_BACK_DUE, from_callback=True)
    return ClaimResult(lead=lead, message="")


def _sqlite_claim_steps(
    lite: Any, actor: Actor, now: datetime, to_db: Any, request_id: str | None
) -> tuple[str, Any] | None:
    """The statements run under the write lock; nothing else (no conversions) runs there.

    Returns ``(outcome, payload)``: ``done`` (an earlier attempt of this click:
    lead id and event kind), ``refused`` (held, cap, waiting lead),
    ``empty`` / ``no_pools``, or ``given`` (event kind, the lead's row, the
    rep's name); ``None`` for the step-by-step path.
    """
    at = to_db(now)
    rep = lite.execute(
        _SQLITE_REP, {"uid": actor.id, "request_id": request_id, "now": at}
    ).fetchone()
    if rep is None or not rep[2] or rep[1] not in ANYONE:
        return None
    display_name, user_cap, stored = rep[0], rep[3], rep[4]
    done_kind, done_lead, pools, pool_id, held, call_back_due = rep[5:]
    if done_kind is not None:
        return "done", (done_lead, done_kind)
    if pools > 1:
        return None
    rules = _sqlite_rules(stored or "{}")
    cap = user_cap if user_cap is not None else rules.cap
    if held >= cap:
        return "refused", (held, cap, None)
    if rules.one_at_a_time:
        waiting_id = lite.execute(_SQLITE_WAITING, {"uid": actor.id}).fetchone()[0]
        if waiting_id is not None:
            return "refused", (held, cap, waiting_id)
    row = None
    if call_back_due:  # may still find none: a manager may have just taken it away
        row = lite.execute(_SQLITE_DUE, {"uid": actor.id, "now": at}).fetchone()
    kind, from_status, details = "call_back_due", "callback", "{}"
    from_owner: int | None = actor.id
    if row is None:
        if pool_id is None:
            return "no_pools", None
        kind, from_status, from_owner = "claimed", "pool", None
        details = json.dumps({"pool_id": pool_id})
        since = to_db(now - timedelta(hours=rules.cooldown_hours))
        row = lite.execute(
            _sqlite_claim(rules.pool_order),
            {"uid": actor.id, "now": at, "since": since, "pool": pool_id},
        ).fetchone()
        if row is None:
            return "empty", None
    lite.execute(
        _SQLITE_EVENT,
        {
            "lead": row[0],
            "uid": actor.id,
            "kind": kind,
            "now": at,
            "from_status": from_status,
            "from_owner": from_owner,
            "details": details,
            "request_id": request_id,
        },
    )
    return "given", (kind, row, display_name)


@functools.lru_cache(maxsize=4)
def _sqlite_rules(stored: str) -> Rules:
    """The rules from their stored JSON text: parsed once per distinct text, not per click."""
    return rules_from_stored(json.loads(stored))


@functools.cache
def _sqlite_claim(pool_order: str) -> str:
    group = ""
    if pool_order == "oldest_first":
        group = _SQLITE_OLDEST_GROUP.format(not_cooling=_SQLITE_NOT_COOLING.format(t="h"))
    return _SQLITE_CLAIM.format(
        not_cooling=_SQLITE_NOT_COOLING.format(t="l"),
        group=group,
        order=_SQL_ORDER[pool_order],
        returning=_SQLITE_RETURNING,
    )


@functools.lru_cache(maxsize=8)
def _sqlite_datetime(dialect: Any) -> tuple[Any, Any]:
    """How SQLAlchemy writes and reads a ``DateTime`` on SQLite (text in a fixed format).

    Comparisons such as ``call_back_at <= :now`` compare that text, so the
    parameters must be written exactly as the ORM writes the columns.
    """
    impl = DateTime().dialect_impl(dialect)
    return impl.bind_processor(dialect), impl.result_processor(dialect, None)


# --- step by step: a rep in several pools, a refused account ---------------------------


def _claim_step_by_step(db: Database, actor: Actor, request_id: str | None) -> ClaimResult:
    with db.write_connection() as conn:
        now = db.now()
        # Lock first: everything after this statement sees this rep's latest state.
        user, rules, pool_ids = _lock_rep(conn, actor)
        with Session(bind=conn) as session:
            done = event_of_request(session, request_id)
            if done is not None:
                return _replay(session, actor, done.lead_id, done.kind)
            _check_may_take_another(session, user, rules)
            lead_row = _reopen_due_call_back(session, user, now, request_id)
            if lead_row is not None:
                return ClaimResult(lead=lead_row, message=CALL_BACK_DUE, from_callback=True)
            if not pool_ids:
                return ClaimResult(lead=None, message=NO_POOLS)
            since = now - timedelta(hours=rules.cooldown_hours)
            for pool_id in _pools_by_best_head(session, pool_ids, user.id, since, rules):
                row = _claim_from_pool(session, pool_id, user, now, since, rules, request_id)
                if row is not None:
                    return ClaimResult(lead=row, message="")
            return ClaimResult(lead=None, message=EMPTY_POOL)


def _lock_rep(conn: Connection, actor: Actor) -> tuple[User, Rules, list[int]]:
    """Lock the rep's ``users`` row, check the account, read the rules and pools.

    One plain statement (on PostgreSQL the pools come with it): the ORM's
    bookkeeping for the user and the rules would cost more than the claim.
    Rules and pools are read in the snapshot of the locking statement, which
    is no weaker than reading them after it: changing them never took the
    rep's lock. Returns a detached :class:`User` with the columns Next uses.
    """
    postgresql = conn.dialect.name == "postgresql"
    row = conn.execute(_lock_rep_statement(postgresql), {"uid": actor.id}).first()
    if row is None or not row.active or row.role not in ANYONE:
        with Session(bind=conn) as session:
            require(session, actor)  # refuses, in auth's own words
    assert row is not None  # require() refuses a user who is not there
    user = User(id=row.id, display_name=row.display_name, role=row.role, cap=row.cap)
    stored = row.rules
    rules = rules_from_stored(json.loads(stored) if isinstance(stored, str) else stored or {})
    pool_ids = list(row.pool_ids or ()) if postgresql else _pullable_pools(conn, user.id)
    return user, rules, pool_ids


@functools.cache
def _lock_rep_statement(postgresql: bool) -> Any:
    if postgresql:
        return text(
            f"""
            SELECT u.id, u.display_name, u.role, u.active, u.cap,
                   (SELECT json_object_agg(r.key, r.value) FROM rules AS r) AS rules,
                   ARRAY(
                       SELECT m.pool_id
                       FROM pool_members AS m JOIN pools AS p ON p.id = m.pool_id
                       WHERE m.user_id = u.id AND p.active
                         AND p.routing <> '{Routing.MANUAL.value}'
                       ORDER BY m.position, m.pool_id) AS pool_ids
            FROM users AS u
            WHERE u.id = :uid
            FOR UPDATE OF u
            """
        )
    # SQLite: BEGIN IMMEDIATE already holds the database's write lock.
    return text(
        """
        SELECT u.id, u.display_name, u.role, u.active, u.cap,
               (SELECT json_group_object(r.key, json(r.value)) FROM rules AS r) AS rules
        FROM users AS u
        WHERE u.id = :uid
        """
    )


def _check_may_take_another(session: Session, user: User, rules: Rules) -> None:
    held, waiting_id = session.execute(_held_leads(), {"uid": user.id}).one()
    cap = effective_cap(user, rules)
    if held >= cap:
        raise CapReachedError(held, cap)
    if rules.one_at_a_time and waiting_id is not None:
        waiting = fetch_lead_row(session, waiting_id)
        raise OneAtATimeError(waiting.name if waiting else f"lead #{waiting_id}")


@functools.cache
def _held_leads() -> Any:
    return select(
        func.count(),
        func.min(Lead.id).filter(
            or_(
                Lead.last_action_at.is_(None),
                Lead.last_action_at < Lead.assigned_at,
                # A call back that came due waits for an action again.
                Lead.last_action_at < Lead.call_back_at,
            )
        ),
    ).where(Lead.owner_id == bindparam("uid"), status_is(LeadStatus.CURRENT))


def _reopen_due_call_back(
    session: Session, user: User, now: datetime, request_id: str | None
) -> Any:
    due = (
        select(Lead.id)
        .where(
            Lead.owner_id == user.id,
            status_is(LeadStatus.CALLBACK),
            Lead.call_back_at <= now,
        )
        .order_by(Lead.call_back_at, Lead.id)
        .limit(1)
        .scalar_subquery()
    )
    lead_id = session.execute(
        update(Lead)
        .where(Lead.id == due, status_is(LeadStatus.CALLBACK))
        .values(status=LeadStatus.CURRENT.value)
        .returning(Lead.id)
    ).scalar_one_or_none()
    if lead_id is None:
        return None
    record_event(
        session,
        lead_id=lead_id,
        actor_id=user.id,
        kind="call_back_due",
        at=now,
        from_status=LeadStatus.CALLBACK.value,
        to_status=LeadStatus.CURRENT.value,
        from_owner_id=user.id,
        to_owner_id=user.id,
        request_id=request_id,
    )
    return fetch_lead_row(session, lead_id)


def _pullable_pools(session: Session | Connection, user_id: int) -> list[int]:
    """Active pools the rep belongs to whose leads wait for Next (all but manual)."""
    return list(
        session.scalars(
            select(PoolMember.pool_id)
            .join(Pool, Pool.id == PoolMember.pool_id)
            .where(
                PoolMember.user_id == user_id,
                Pool.active.is_(True),
                Pool.routing != Routing.MANUAL.value,
            )
            .order_by(PoolMember.position, PoolMember.pool_id)
        )
    )


def _claim_order(rules: Rules) -> list[Any]:
    """The pool's order; oldest first is within the best (priority, score) group."""
    if rules.pool_order == "oldest_first":
        return [Lead.created_at.asc(), Lead.id.asc()]
    return [Lead.priority.desc(), Lead.score.desc(), Lead.created_at.desc(), Lead.id.desc()]


def _not_cooling_down(user_id: int, since: datetime, lead: Any = Lead) -> Any:
    return or_(
        lead.previous_owner_id.is_(None),
        lead.previous_owner_id != user_id,
        lead.released_at <= since,
    )


def _best_groups(
    pool_id: int, user_id: int, since: datetime, below: tuple[int, int] | None = None
) -> Any:
    """The pool's (priority, score) groups this rep may take from, best first.

    There is one claim index, in newest-first order (ix_leads_claim_newest);
    oldest first reads it in two steps: the best group, then its oldest lead.
    ``below``: only the groups after that one.
    """
    head = aliased(Lead)
    query = select(head.priority, head.score).where(
        head.pool_id == pool_id,
        status_is(LeadStatus.POOL, head),
        _not_cooling_down(user_id, since, head),
    )
    if below is not None:
        query = query.where(tuple_(head.priority, head.score) < tuple_(*map(literal, below)))
    return query.order_by(head.priority.desc(), head.score.desc())


def _candidates(
    pool_id: int,
    user_id: int,
    since: datetime,
    rules: Rules,
    group: tuple[int, int] | None = None,
) -> Any:
    """The pool's next lead for this rep (oldest first: in ``group``, else the best one)."""
    query = select(Lead.id, Lead.priority, Lead.score, Lead.created_at).where(
        Lead.pool_id == pool_id, status_is(LeadStatus.POOL), _not_cooling_down(user_id, since)
    )
    if rules.pool_order == "oldest_first":
        best: Any = _best_groups(pool_id, user_id, since).limit(1).scalar_subquery()
        if group is not None:
            best = tuple_(*map(literal, group))
        query = query.where(tuple_(Lead.priority, Lead.score) == best)
    return query.order_by(*_claim_order(rules)).limit(1)


def _pools_by_best_head(
    session: Session | Connection, pool_ids: list[int], user_id: int, since: datetime, rules: Rules
) -> list[int]:
    """Order the rep's pools by the lead each would give, best first.

    Each pool's head comes from its own index (one short scan per pool), so a
    rep in several pools costs a few index probes, never a sort of the pool.
    """
    if len(pool_ids) == 1:
        return pool_ids
    heads = union_all(
        *(
            _candidates(pid, user_id, since, rules)
            .add_columns(literal_column(str(pid)).label("head_pool"))
            .subquery()
            .select()
            for pid in pool_ids
        )
    ).subquery()
    sign = -1 if rules.pool_order == "oldest_first" else 1
    ranked = sorted(
        session.execute(
            select(
                heads.c.head_pool, heads.c.priority, heads.c.score, heads.c.created_at, heads.c.id
            )
        ),
        key=lambda r: (r.priority, r.score, sign * r.created_at.timestamp(), sign * r.id),
        reverse=True,
    )
    ordered = [r.head_pool for r in ranked]
    return ordered + [p for p in pool_ids if p not in ordered]


def _claim_from_pool(
    session: Session,
    pool_id: int,
    user: User,
    now: datetime,
    since: datetime,
    rules: Rules,
    request_id: str | None,
) -> Any:
    group: tuple[int, int] | None = None
    if rules.pool_order == "oldest_first":
        group = _first_group(session, pool_id, user.id, since)
        if group is None:
            return None
    while (row := _claim_one(session, pool_id, user, now, since, rules, group)) is None:
        if group is None:
            return None
        # Others are taking (SKIP LOCKED) every lead of that group: the next one.
        group = _first_group(session, pool_id, user.id, since, below=group)
        if group is None:
            return None
    record_event(
        session,
        lead_id=row["id"],
        actor_id=user.id,
        kind="claimed",
        at=now,
        from_status=LeadStatus.POOL.value,
        to_status=LeadStatus.CURRENT.value,
        to_owner_id=user.id,
        details={"pool_id": pool_id},
        request_id=request_id,
    )
    return to_lead_row(cast(Any, {**row, "owner_name": user.display_name}))


def _first_group(
    session: Session,
    pool_id: int,
    user_id: int,
    since: datetime,
    below: tuple[int, int] | None = None,
) -> tuple[int, int] | None:
    """The best (priority, score) group this rep may take from (after ``below``)."""
    row = session.execute(_best_groups(pool_id, user_id, since, below).limit(1)).first()
    return (row[0], row[1]) if row is not None else None


def _claim_one(
    session: Session,
    pool_id: int,
    user: User,
    now: datetime,
    since: datetime,
    rules: Rules,
    group: tuple[int, int] | None,
) -> Any:
    """Claim the pool's next lead (in ``group``, oldest first); its row, or None."""
    candidate = (
        _candidates(pool_id, user.id, since, rules, group)
        .with_only_columns(Lead.id)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    pool_name = select(Pool.name).where(Pool.id == Lead.pool_id).scalar_subquery()
    return (
        session.execute(
            update(Lead)
            .where(Lead.id == candidate, status_is(LeadStatus.POOL))
            .values(
                status=LeadStatus.CURRENT.value,
                owner_id=user.id,
                assigned_at=now,
                call_back_at=None,
            )
            .returning(*LEAD_COLUMNS, pool_name.label("pool_name"))
        )
        .mappings()
        .first()
    )


__all__ = [
    "ALREADY_DONE",
    "EMPTY_POOL",
    "NO_POOLS",
    "claim_next_lead",
]
