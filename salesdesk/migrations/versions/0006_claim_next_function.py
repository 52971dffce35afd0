"""salesdesk_claim_next(): Next on PostgreSQL in one round trip (PostgreSQL only)

With a hundred reps clicking Next at once, each claim's cost is mostly round
trips and per-statement overhead, not the work itself. Next needs two
statements in order — lock the rep's row, then (in a fresh snapshot that
already holds the rep's earlier claims) check the cap and take a lead — and in
READ COMMITTED only a function can run two statements with two snapshots in
one call. This one does exactly what ``services/allocation.py`` does step by
step on SQLite, for a rep in at most one pool; for a rep in several pools it
only answers ``several_pools`` and the service takes the step-by-step path.

The stored rules are read here; their defaults are passed in by the caller, so
``services/rules.py`` stays the one place that defines them. Each outcome row
carries the lead's columns when a lead was handed out. A later change to the
claim replaces the function in a new revision (``CREATE OR REPLACE``).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SIGNATURE = "salesdesk_claim_next(integer, timestamp, text[], integer, boolean, integer, text)"

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
                                     from_owner_id, to_owner_id, details)
            SELECT d.id, p_user, 'call_back_due', p_now, 'callback', 'current',
                   p_user, p_user, '{{}}'::json
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
                                     from_owner_id, to_owner_id, details)
            SELECT c.id, p_user, 'claimed', p_now, 'pool', 'current',
                   NULL, p_user, json_build_object('pool_id', c.pool_id)
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
CREATE OR REPLACE FUNCTION salesdesk_claim_next(
    p_user integer,
    p_now timestamp,
    p_roles text[],
    p_cap integer,
    p_one_at_a_time boolean,
    p_cooldown_hours integer,
    p_pool_order text
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


def function_sql() -> str:
    return FUNCTION.format(
        lead_columns=LEAD_COLUMNS,
        claim_oldest=CLAIM.format(order=ORDERS["oldest_first"], returned=RETURNED),
        claim_newest=CLAIM.format(order=ORDERS["newest_first"], returned=RETURNED),
    )


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(function_sql())


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE}")
