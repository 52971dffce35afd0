"""Next's database function, written out whole, and leaner

``salesdesk_claim_next`` was 0007's function with 0008 and 0009 editing its
text by string replacement, so no file showed it as it runs. Here it is whole,
and it does less per click with the same answers:

* **Whether a call back is due is read with the rep's lock**, not by a
  statement of its own. That statement's snapshot is older than the lock, so
  the answer is a hint: a call back that another click of the same rep took
  meanwhile makes the call back statement find nothing, and the pool is tried
  next (as 0008 already allowed for).
* **One lead at a time is checked only when the rule is on** (off by
  default), in a statement of its own after the lock: the claim no longer
  carries the unused "first waiting lead" subquery on every click.
* **The claim statement is plainer**: the cap is one comparison with the
  count, not two CTEs; it returns the lead's own columns, not ``leads.*``; and
  the pools are not sorted (only a rep with exactly one pullable pool comes
  here, so the order did not matter).

Measured with ``benchmarks/claim_instructions.py`` (instructions per claim of
one single-user backend, 200,000 leads, each with its history): 0010's function
1,671,607 / 1,655,309 (two rounds), this one 1,607,262 / 1,590,718 (the raw
``SKIP LOCKED`` statement: 786,606 / 809,953). Tried and not kept: the pool's
name read with the lock (+27,000).

The outcomes are 0007's: ``pool``, ``callback``, ``replayed_pool``,
``replayed_callback``, ``refused_account``, ``refused_by_rules``,
``several_pools``, ``no_pools``, ``empty`` (see ``services/allocation.py``).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

from salesdesk.migrations import earlier_revision

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The lead's columns the desk shows, with their types, in the order the function
# returns them (after outcome, held, cap, waiting_id; before pool_name, owner_name).
COLUMNS = (
    ("id", "integer"),
    ("first_name", "varchar"),
    ("last_name", "varchar"),
    ("company", "varchar"),
    ("email", "varchar"),
    ("phone", "varchar"),
    ("source", "varchar"),
    ("score", "integer"),
    ("priority", "integer"),
    ("status", "varchar"),
    ("pool_id", "integer"),
    ("owner_id", "integer"),
    ("created_at", "timestamp"),
    ("assigned_at", "timestamp"),
    ("last_action_at", "timestamp"),
    ("last_contacted_at", "timestamp"),
    ("call_back_at", "timestamp"),
    ("email_confirmed_at", "timestamp"),
    ("appointment_at", "timestamp"),
    ("dead_at", "timestamp"),
    ("tags", "json"),
)


def _of(alias: str) -> str:
    """The columns of ``alias``, listed."""
    return ", ".join(f"{alias}.{name}" for name, _ in COLUMNS)


# The leads this rep may take from the pool: not one that left them just now.
MAY_TAKE = """l.pool_id = v_pool AND l.status = 'pool'
                  AND (l.previous_owner_id IS NULL OR l.previous_owner_id <> p_user
                       OR l.released_at <= v_since)"""

HELD = """SELECT count(*) AS n FROM leads AS l
            WHERE l.owner_id = p_user AND l.status = 'current'"""

# The columns of both events Next writes: a pool lead claimed, a due call back reopened.
EVENT_INTO = """INSERT INTO lead_events (lead_id, actor_id, kind, at, from_status, to_status,
                                     from_owner_id, to_owner_id, details, request_id)"""

# One pool lead for the rep, with its event, gated by the cap; {pick} chooses it.
CLAIM = """
        RETURN QUERY
        WITH held AS (
            {held}
        ), claimed AS (
            UPDATE leads AS t
            SET status = 'current', owner_id = p_user, assigned_at = p_now, call_back_at = NULL
            WHERE t.id = ({pick}
                LIMIT 1
                FOR UPDATE SKIP LOCKED)
              AND t.status = 'pool' AND (SELECT h.n FROM held AS h) < v_cap
            RETURNING {claimed}
        ), claim_event AS (
            {event_into}
            SELECT c.id, p_user, 'claimed', p_now, 'pool', 'current',
                   NULL, p_user, json_build_object('pool_id', c.pool_id), p_request_id
            FROM claimed AS c
        )
        SELECT CASE
                   WHEN c.id IS NOT NULL THEN 'pool'
                   WHEN h.n >= v_cap THEN 'refused_by_rules'
                   WHEN v_pool IS NULL THEN 'no_pools'
                   ELSE 'empty'
               END,
               h.n, v_cap, NULL::integer, {answer},
               (SELECT p.name FROM pools AS p WHERE p.id = c.pool_id),
               CASE WHEN c.id IS NOT NULL THEN v_rep.display_name END
        FROM held AS h LEFT JOIN claimed AS c ON true{only_when};"""

NEWEST = f"""
                SELECT l.id FROM leads AS l
                WHERE {MAY_TAKE}
                ORDER BY l.priority DESC, l.score DESC, l.created_at DESC, l.id DESC"""
IN_GROUP = f"""
                SELECT l.id FROM leads AS l
                WHERE {MAY_TAKE}
                  AND l.priority = v_group.priority AND l.score = v_group.score
                ORDER BY l.created_at, l.id"""

FUNCTION = """
CREATE OR REPLACE FUNCTION salesdesk_claim_next(
    p_user integer, p_now timestamp, p_roles text[], p_cap integer,
    p_one_at_a_time boolean, p_cooldown_hours integer, p_pool_order text,
    p_request_id text
) RETURNS TABLE (
    outcome text, held bigint, cap integer, waiting_id integer,
    {typed}, pool_name varchar, owner_name varchar
) LANGUAGE plpgsql AS $function$
#variable_conflict use_column
DECLARE
    v_rep record;
    v_rules json;
    v_cap integer;
    v_pool integer;
    v_since timestamp;
    v_done record;
    v_held bigint;
    v_waiting integer;
    v_group record;
BEGIN
    -- 1. Lock the rep first: every later statement (a new snapshot each) sees
    -- this rep's latest state, so two clicks by one rep run one after the other.
    -- The rules, the pools and whether a call back is due are read alongside;
    -- "due" is only a hint (the call back statement checks again).
    SELECT u.active, u.role, u.cap, u.display_name,
           (SELECT json_object_agg(r.key, r.value) FROM rules AS r) AS rules,
           ARRAY(
               SELECT m.pool_id
               FROM pool_members AS m JOIN pools AS p ON p.id = m.pool_id
               WHERE m.user_id = u.id AND p.active AND p.routing <> 'manual') AS pools,
           EXISTS (SELECT 1 FROM leads AS c
                   WHERE c.owner_id = u.id AND c.status = 'callback'
                     AND c.call_back_at <= p_now) AS due
    INTO v_rep
    FROM users AS u
    WHERE u.id = p_user
    FOR UPDATE OF u;
    IF NOT FOUND OR NOT v_rep.active OR NOT (v_rep.role = ANY (p_roles)) THEN
        outcome := 'refused_account';
        RETURN NEXT;
        RETURN;
    END IF;
    -- 2. A retried click: its first attempt committed if its event is there.
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
    v_since := p_now - make_interval(
        hours => coalesce((v_rules ->> 'cooldown_hours')::integer, p_cooldown_hours));
    -- 3. One lead at a time (off by default): the cap and the first current lead
    -- still waiting for an action (a due call back waits again until acted on).
    IF coalesce((v_rules ->> 'one_at_a_time')::boolean, p_one_at_a_time) THEN
        SELECT count(*),
               min(l.id) FILTER (WHERE l.last_action_at IS NULL
                                    OR l.last_action_at < l.assigned_at
                                    OR l.last_action_at < l.call_back_at)
        INTO v_held, v_waiting
        FROM leads AS l
        WHERE l.owner_id = p_user AND l.status = 'current';
        IF v_held >= v_cap OR v_waiting IS NOT NULL THEN
            outcome := 'refused_by_rules';
            held := v_held;
            cap := v_cap;
            waiting_id := v_waiting;
            RETURN NEXT;
            RETURN;
        END IF;
    END IF;
    -- 4. The rep's own due call back comes first.
    IF v_rep.due THEN
        RETURN QUERY
        WITH held AS (
            {held}
        ), due AS (
            UPDATE leads AS l SET status = 'current'
            WHERE l.id = (
                SELECT c.id FROM leads AS c
                WHERE c.owner_id = p_user AND c.status = 'callback' AND c.call_back_at <= p_now
                ORDER BY c.call_back_at, c.id
                LIMIT 1)
              AND l.status = 'callback' AND (SELECT h.n FROM held AS h) < v_cap
            RETURNING {due}
        ), due_event AS (
            {event_into}
            SELECT d.id, p_user, 'call_back_due', p_now, 'callback', 'current',
                   p_user, p_user, '{{}}'::json, p_request_id
            FROM due AS d
        )
        SELECT CASE WHEN d.id IS NOT NULL THEN 'callback' ELSE 'refused_by_rules' END,
               h.n, v_cap, NULL::integer, {due_answer},
               (SELECT p.name FROM pools AS p WHERE p.id = d.pool_id),
               CASE WHEN d.id IS NOT NULL THEN v_rep.display_name END
        FROM held AS h LEFT JOIN due AS d ON true
        WHERE d.id IS NOT NULL OR h.n >= v_cap;
        IF FOUND THEN
            RETURN;
        END IF;
    END IF;
    -- 5. The best pool lead, newest or oldest first.
    IF coalesce(v_rules ->> 'pool_order', p_pool_order) = 'oldest_first' THEN
        -- The best (priority, score) group among the leads this rep may take, then
        -- that group's oldest lead; when others are taking every lead of the
        -- group, the next group down.
        SELECT l.priority, l.score INTO v_group
        FROM leads AS l
        WHERE {may_take}
        ORDER BY l.priority DESC, l.score DESC
        LIMIT 1;
        WHILE FOUND LOOP
{claim_in_group}
            IF FOUND THEN
                RETURN;
            END IF;
            SELECT l.priority, l.score INTO v_group
            FROM leads AS l
            WHERE {may_take}
              AND (l.priority, l.score) < (v_group.priority, v_group.score)
            ORDER BY l.priority DESC, l.score DESC
            LIMIT 1;
        END LOOP;
        RETURN QUERY
        WITH held AS (
            {held}
        )
        SELECT CASE
                   WHEN h.n >= v_cap THEN 'refused_by_rules'
                   WHEN v_pool IS NULL THEN 'no_pools'
                   ELSE 'empty'
               END,
               h.n, v_cap, NULL::integer, {nothing}, NULL::varchar, NULL::varchar
        FROM held AS h;
    ELSE
{claim_newest}
    END IF;
END
$function$;
"""


def function_sql() -> str:
    return FUNCTION.format(
        typed=", ".join(f"{name} {kind}" for name, kind in COLUMNS),
        held=HELD,
        event_into=EVENT_INTO,
        due=_of("l"),
        due_answer=_of("d"),
        may_take=MAY_TAKE,
        nothing=", ".join(f"NULL::{kind}" for _, kind in COLUMNS),
        # Oldest first claims inside the loop over groups, hence indented once more.
        claim_in_group=_claim(
            IN_GROUP, only_when="\n        WHERE c.id IS NOT NULL OR h.n >= v_cap"
        ).replace("\n", "\n    "),
        claim_newest=_claim(NEWEST),
    )


def _claim(pick: str, only_when: str = "") -> str:
    """CLAIM for one way of choosing the lead; ``only_when`` limits when it answers."""
    return CLAIM.format(
        held=HELD,
        event_into=EVENT_INTO,
        pick=pick,
        claimed=_of("t"),
        answer=_of("c"),
        only_when=only_when,
    )


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(function_sql())


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(earlier_revision("0009_one_claim_index.py").function_sql())
