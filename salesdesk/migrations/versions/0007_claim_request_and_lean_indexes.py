"""Next takes the click's request id; a due call back waits for an action; leaner indexes

Three changes to the claim path, in one revision because the claim function
changes with all of them:

* **A retried Next is not a second lead.** ``salesdesk_claim_next`` takes the
  click's request id, looks for the event it already produced (after the rep's
  lock, so a retry waits for the first attempt to finish) and answers
  ``replayed_pool`` / ``replayed_callback`` with that lead's id instead of
  claiming again; the events it writes carry the id. The function's argument
  list changes, so the old one is dropped rather than replaced.
* **One lead at a time counts a due call back.** A call back that came due is
  back in Current with its last action (the Call Back click) older than its
  call back date: it is waiting for the rep, so ``waiting`` now includes
  ``last_action_at < call_back_at``.
* **Fewer index entries per claim and per imported lead.** The clock jobs'
  ``(status, call_back_at)`` and ``(status, assigned_at)`` indexes become
  partial indexes of the only status each job reads (``callback``,
  ``current``): a claim no longer moves an entry in the first, and an import
  writes neither. ``status`` stays first in the key so that SQLite, which has
  no statistics here, still picks them over ``ix_leads_sort_status``. On
  ``lead_events``, the request id index only holds events that have one
  (imports and jobs have none), and the index on ``at`` alone
  goes: every query by time also names kinds (``ix_lead_events_kind_at``),
  an actor or a lead.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from salesdesk.migrations import earlier_revision

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_SIGNATURE = "salesdesk_claim_next(integer, timestamp, text[], integer, boolean, integer, text)"
SIGNATURE = (
    "salesdesk_claim_next(integer, timestamp, text[], integer, boolean, integer, text, text)"
)

LEAD_COLUMNS = (
    "id integer, first_name varchar, last_name varchar, company varchar, email varchar,"
    " phone varchar, source varchar, score integer, priority integer, status varchar,"
    " pool_id integer, owner_id integer, created_at timestamp, assigned_at timestamp,"
    " last_action_at timestamp, last_contacted_at timestamp, call_back_at timestamp,"
    " email_confirmed_at timestamp, appointment_at timestamp, dead_at timestamp, tags json"
)
RETURNED = (
    "g.id, g.first_name, g.last_name, g.company, g.email, g.phone, g.source, g.score,"
    " g.priority, g.status, g.pool_id, g.owner_id, g.created_at, g.assigned_at,"
    " g.last_action_at, g.last_contacted_at, g.call_back_at, g.email_confirmed_at,"
    " g.appointment_at, g.dead_at, g.tags"
)
ORDERS = {
    "newest_first": "l.priority DESC, l.score DESC, l.created_at DESC, l.id DESC",
    "oldest_first": "l.priority DESC, l.score DESC, l.created_at ASC, l.id ASC",
}

# Counting the rep's current leads, reopening a due call back, claiming the
# pool's best lead (SKIP LOCKED) and writing the event, all in one statement:
# the cap and one-at-a-time checks gate both updates.
CLAIM = """
        RETURN QUERY
        WITH held AS (
            SELECT count(*) AS n,
                   min(l.id) FILTER (
                       WHERE l.last_action_at IS NULL OR l.last_action_at < l.assigned_at
                          OR l.last_action_at < l.call_back_at
                   ) AS waiting
            FROM leads AS l
            WHERE l.owner_id = p_user AND l.status = 'current'
        ), allowed AS (
            SELECT 1 FROM held AS h
            WHERE h.n < v_cap AND (NOT v_one_at_a_time OR h.waiting IS NULL)
        ), due AS (
            UPDATE leads AS l SET status = 'current'
            WHERE l.id = (
                SELECT c.id FROM leads AS c
                WHERE c.owner_id = p_user AND c.status = 'callback' AND c.call_back_at <= p_now
                ORDER BY c.call_back_at, c.id
                LIMIT 1)
              AND l.status = 'callback' AND EXISTS (SELECT 1 FROM allowed)
            RETURNING l.*
        ), due_event AS (
            INSERT INTO lead_events (lead_id, actor_id, kind, at, from_status, to_status,
                                     from_owner_id, to_owner_id, details, request_id)
            SELECT d.id, p_user, 'call_back_due', p_now, 'callback', 'current',
                   p_user, p_user, '{{}}'::json, p_request_id
            FROM due AS d
        ), claimed AS (
            UPDATE leads AS t
            SET status = 'current', owner_id = p_user, assigned_at = p_now, call_back_at = NULL
            WHERE t.id = (
                SELECT l.id FROM leads AS l
                WHERE l.pool_id = v_pool AND l.status = 'pool'
                  AND (l.previous_owner_id IS NULL OR l.previous_owner_id <> p_user
                       OR l.released_at <= v_since)
                ORDER BY {order}
                LIMIT 1
                FOR UPDATE SKIP LOCKED)
              AND t.status = 'pool'
              AND EXISTS (SELECT 1 FROM allowed) AND NOT EXISTS (SELECT 1 FROM due)
            RETURNING t.*
        ), claim_event AS (
            INSERT INTO lead_events (lead_id, actor_id, kind, at, from_status, to_status,
                                     from_owner_id, to_owner_id, details, request_id)
            SELECT c.id, p_user, 'claimed', p_now, 'pool', 'current',
                   NULL, p_user, json_build_object('pool_id', c.pool_id), p_request_id
            FROM claimed AS c
        ), given AS (
            SELECT 'callback' AS via, d.* FROM due AS d
            UNION ALL
            SELECT 'pool' AS via, c.* FROM claimed AS c
        )
        SELECT CASE
                   WHEN g.via IS NOT NULL THEN g.via
                   WHEN NOT EXISTS (SELECT 1 FROM allowed) THEN 'refused_by_rules'
                   WHEN v_pool IS NULL THEN 'no_pools'
                   ELSE 'empty'
               END,
               h.n, v_cap, h.waiting, {returned},
               (SELECT p.name FROM pools AS p WHERE p.id = g.pool_id),
               CASE WHEN g.via IS NOT NULL THEN v_rep.display_name END
        FROM held AS h LEFT JOIN given AS g ON true;
"""

FUNCTION = """
CREATE FUNCTION salesdesk_claim_next(
    p_user integer,
    p_now timestamp,
    p_roles text[],
    p_cap integer,
    p_one_at_a_time boolean,
    p_cooldown_hours integer,
    p_pool_order text,
    p_request_id text
) RETURNS TABLE (
    outcome text, held bigint, cap integer, waiting_id integer, {lead_columns},
    pool_name varchar, owner_name varchar
)
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
DECLARE
    v_rep record;
    v_rules json;
    v_cap integer;
    v_one_at_a_time boolean;
    v_pool integer;
    v_since timestamp;
    v_done record;
BEGIN
    -- Lock first: every later statement (a new snapshot each) sees this rep's
    -- latest state, so two clicks by one rep run one after the other.
    SELECT u.active, u.role, u.cap, u.display_name,
           (SELECT json_object_agg(r.key, r.value) FROM rules AS r) AS rules,
           ARRAY(
               SELECT m.pool_id
               FROM pool_members AS m JOIN pools AS p ON p.id = m.pool_id
               WHERE m.user_id = u.id AND p.active AND p.routing <> 'manual'
               ORDER BY m.position, m.pool_id) AS pools
    INTO v_rep
    FROM users AS u
    WHERE u.id = p_user
    FOR UPDATE OF u;
    IF NOT FOUND OR NOT v_rep.active OR NOT (v_rep.role = ANY (p_roles)) THEN
        outcome := 'refused_account';
        RETURN NEXT;
        RETURN;
    END IF;
    -- A retried click: its first attempt committed if its event is there.
    IF p_request_id IS NOT NULL THEN
        SELECT e.lead_id, e.kind INTO v_done
        FROM lead_events AS e
        WHERE e.request_id = p_request_id;
        IF FOUND THEN
            outcome := CASE WHEN v_done.kind = 'call_back_due' THEN 'replayed_callback'
                            ELSE 'replayed_pool' END;
            waiting_id := v_done.lead_id;
            RETURN NEXT;
            RETURN;
        END IF;
    END IF;
    IF cardinality(v_rep.pools) > 1 THEN
        outcome := 'several_pools';
        RETURN NEXT;
        RETURN;
    END IF;
    v_pool := v_rep.pools[1];
    v_rules := coalesce(v_rep.rules, '{{}}'::json);
    v_cap := coalesce(v_rep.cap, (v_rules ->> 'cap')::integer, p_cap);
    v_one_at_a_time := coalesce((v_rules ->> 'one_at_a_time')::boolean, p_one_at_a_time);
    v_since := p_now - make_interval(
        hours => coalesce((v_rules ->> 'cooldown_hours')::integer, p_cooldown_hours));
    IF coalesce(v_rules ->> 'pool_order', p_pool_order) = 'oldest_first' THEN
{claim_oldest}
    ELSE
{claim_newest}
    END IF;
END
$fn$
"""

# (old name, old columns) -> (new name, new columns, partial-index status)
PARTIAL = {
    ("ix_leads_status_call_back", ("status", "call_back_at")): (
        "ix_leads_call_backs_due",
        ("status", "call_back_at", "id"),
        "callback",
    ),
    ("ix_leads_status_assigned", ("status", "assigned_at")): (
        "ix_leads_held_since",
        ("status", "assigned_at", "id"),
        "current",
    ),
}


def function_sql() -> str:
    return FUNCTION.format(
        lead_columns=LEAD_COLUMNS,
        claim_oldest=CLAIM.format(order=ORDERS["oldest_first"], returned=RETURNED),
        claim_newest=CLAIM.format(order=ORDERS["newest_first"], returned=RETURNED),
    )


def _where(status: str) -> dict[str, object]:
    clause = sa.text(f"status = '{status}'")
    return {"postgresql_where": clause, "sqlite_where": clause}


def upgrade() -> None:
    for (old, _), (new, columns, status) in PARTIAL.items():
        op.drop_index(old, table_name="leads")
        op.create_index(new, "leads", list(columns), **_where(status))  # type: ignore[arg-type]
    op.drop_index("ix_lead_events_at", table_name="lead_events")
    op.drop_index("ix_lead_events_request", table_name="lead_events")
    request_where = sa.text("request_id IS NOT NULL")
    op.create_index(
        "ix_lead_events_request",
        "lead_events",
        ["request_id"],
        unique=True,
        postgresql_where=request_where,
        sqlite_where=request_where,
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {OLD_SIGNATURE}")
        op.execute(function_sql())


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE}")
        op.execute(earlier_revision("0006_claim_next_function.py").function_sql())
    op.drop_index("ix_lead_events_request", table_name="lead_events")
    op.create_index("ix_lead_events_request", "lead_events", ["request_id"], unique=True)
    op.create_index("ix_lead_events_at", "lead_events", ["at"])
    for (old, old_columns), (new, _, _) in PARTIAL.items():
        op.drop_index(new, table_name="leads")
        op.create_index(old, "leads", list(old_columns))
