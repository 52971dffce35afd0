"""One claim index for both pool orders: ix_leads_claim_oldest goes

The pool's leads had two claim indexes, one per pool order: newest first
(priority, score, created_at, each descending: the ascending index read
backwards) and oldest first (priority and score descending, created_at
ascending), which needed an index of its own. Only one order is in use at a
time, yet every imported lead wrote an entry in both, and every claim deleted
its entry from both.

Oldest first now reads ``ix_leads_claim_newest`` in two steps: the best
(priority, score) group among the leads this rep may take (one probe from
the index's end), then that group's oldest lead (one probe from the group's
start). On SQLite the write lock means nobody else takes a lead meanwhile; on
PostgreSQL other reps may be taking (``SKIP LOCKED``) every lead of that
group, and the function then moves on to the next group, so a rep is never
told the pool is empty while it is not.

Measured on SQLite, 1,000,000 leads, 8 processes claiming (newest first),
old code on 0008 against new code on 0009, interleaved 4 s runs on copies of
one floor: 1,139 / 1,454 / 1,510 claims/s before, 1,293 / 1,558 / 1,536 after
(benchmarks/README.md). Importing, the index was ~7 % of the insert's CPU.

The function is 0008's, with the oldest-first branch replaced.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from salesdesk.migrations import earlier_revision

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The leads this rep may take from the pool: not one that left them just now.
MAY_TAKE = """l.pool_id = v_pool AND l.status = 'pool'
                  AND (l.previous_owner_id IS NULL OR l.previous_owner_id <> p_user
                       OR l.released_at <= v_since)"""

# Oldest first, group by group. {claim_in_group} answers only when it gave a
# lead or the rules refused; {nothing_claimed} answers everything else.
OLDEST_FIRST = f"""        DECLARE
            v_group record;
        BEGIN
            SELECT l.priority, l.score INTO v_group
            FROM leads AS l
            WHERE {MAY_TAKE}
            ORDER BY l.priority DESC, l.score DESC
            LIMIT 1;
            WHILE FOUND LOOP
{{claim_in_group}}
                IF FOUND THEN
                    RETURN;
                END IF;
                -- Others are taking every lead of this group: the next one down.
                SELECT l.priority, l.score INTO v_group
                FROM leads AS l
                WHERE {MAY_TAKE}
                  AND (l.priority, l.score) < (v_group.priority, v_group.score)
                ORDER BY l.priority DESC, l.score DESC
                LIMIT 1;
            END LOOP;
        END;
{{nothing_claimed}}"""

IN_GROUP = "\n                  AND l.priority = v_group.priority AND l.score = v_group.score"
OLD_INDEX = "ix_leads_claim_oldest"


REVISION_0008 = "0008_lean_claim_and_indexes_of_filled_values.py"


def function_sql() -> str:
    r0008 = earlier_revision(REVISION_0008)
    r0007 = earlier_revision(r0008.REVISION_0007)
    answer = {"returned": r0007.RETURNED}
    from_pool = r0008.FROM_POOL.format(order="l.created_at, l.id", **answer)
    order_by = "\n                ORDER BY l.created_at, l.id"
    assert from_pool.count(order_by) == 1, "0008's pool statement is not the one edited"
    claim_in_group = from_pool.replace(order_by, IN_GROUP + order_by)
    assert claim_in_group.endswith(";")
    claim_in_group = (
        claim_in_group[:-1]
        + "\n        WHERE g.via IS NOT NULL OR NOT EXISTS (SELECT 1 FROM allowed);"
    )
    nothing_claimed = (
        "\n        RETURN QUERY"
        + r0008.HELD
        + """, given AS (
            SELECT 'pool' AS via, l.* FROM leads AS l WHERE false
        )"""
        + r0008.ANSWER.format(**answer)
        + ";"
    )
    oldest_first = OLDEST_FIRST.format(
        claim_in_group=claim_in_group, nothing_claimed=nothing_claimed
    )
    template = r0007.FUNCTION.replace(
        r0008.POOL_ORDER_CHOICE, r0008.DUE_FIRST + r0008.POOL_ORDER_CHOICE
    )
    sql = template.format(
        lead_columns=r0007.LEAD_COLUMNS,
        from_call_backs=r0008.FROM_CALL_BACKS.format(**answer),
        claim_oldest=oldest_first,
        claim_newest=r0008.FROM_POOL.format(order=r0007.ORDERS["newest_first"], **answer),
    )
    return sql.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def upgrade() -> None:
    op.drop_index(OLD_INDEX, table_name="leads")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(function_sql())


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(earlier_revision(REVISION_0008).function_sql())
    where = sa.text("status = 'pool'")
    op.create_index(
        OLD_INDEX,
        "leads",
        ["pool_id", sa.text("priority DESC"), sa.text("score DESC"), "created_at", "id"],
        postgresql_where=where,
        sqlite_where=where,
    )
