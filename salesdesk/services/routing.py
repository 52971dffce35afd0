"""Routing: leads pushed to a pool's members as they arrive (round robin, weighted).

Weighted routing uses smooth weighted round robin (the nginx algorithm): each
member's running weight grows by its share, the largest is chosen and pays back
the total. Shares are exact over every window of ``sum(weights)`` leads rather
than only on average — no dice. Round robin hands each lead to the member
served longest ago, skipping members who are full. The routing state is stored
on ``pool_members`` so every client continues the same sequence.

Pools with *next* routing wait for reps to pull (``services/allocation.py``);
*manual* pools wait for a manager.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from salesdesk.models import Lead, LeadStatus, Pool, PoolMember, Routing, User
from salesdesk.services.lifecycle import current_counts, effective_cap, give_to, status_is
from salesdesk.services.notifications import notify
from salesdesk.services.rules import Rules

PUSH_ROUTINGS = (Routing.ROUND_ROBIN.value, Routing.WEIGHTED.value)


def route_waiting_leads(
    session: Session,
    pool_id: int,
    now: datetime,
    rules: Rules,
    actor_id: int | None = None,
    lead_ids: list[int] | None = None,
) -> int:
    """Push a round-robin or weighted pool's waiting leads to its members.

    Runs inside the caller's transaction. Members who are inactive, at their
    cap or have a zero share are skipped; leads left over (everyone full) keep
    waiting in the pool for the next run or for Next. Returns how many moved.

    The ``routed`` event has no actor: the pool's rule chose the rep, and a
    history that named the manager who imported the lead would read as if
    they had assigned it. ``actor_id`` (who set the routing off, if a person
    did) is kept in the event's details as ``triggered_by``.
    """
    pool = session.execute(
        select(Pool).where(Pool.id == pool_id).with_for_update()
    ).scalar_one_or_none()
    if pool is None or not pool.active or pool.routing not in PUSH_ROUTINGS:
        return 0
    members = session.execute(
        select(PoolMember, User)
        .join(User, User.id == PoolMember.user_id)
        .where(PoolMember.pool_id == pool_id, User.active.is_(True), PoolMember.weight > 0)
        .order_by(PoolMember.position, PoolMember.user_id)
        .with_for_update()
    ).all()
    if not members:
        return 0
    weighted = pool.routing == Routing.WEIGHTED.value
    counts = current_counts(session, [u.id for _, u in members])
    caps = {u.id: effective_cap(u, rules) for _, u in members}

    query = (
        select(Lead)
        .where(Lead.pool_id == pool_id, status_is(LeadStatus.POOL))
        .order_by(Lead.priority.desc(), Lead.id)  # urgent first, then in order of arrival
        .with_for_update(skip_locked=True)
    )
    if lead_ids is not None:
        query = query.where(Lead.id.in_(lead_ids))
    since = now - timedelta(hours=rules.cooldown_hours)
    routed = 0
    for lead in session.scalars(query):
        eligible = [
            (m, u)
            for m, u in members
            if counts[u.id] < caps[u.id]
            and not (
                lead.previous_owner_id == u.id and lead.released_at and lead.released_at > since
            )
        ]
        if not eligible:
            if all(counts[u.id] >= caps[u.id] for _, u in members):
                break  # everyone is full: the rest keep waiting
            continue
        member, user = _pick_member(eligible, weighted)
        details: dict[str, object] = {"pool_id": pool_id, "routing": pool.routing}
        if actor_id is not None:
            details["triggered_by"] = actor_id
        give_to(
            session,
            lead,
            user.id,
            kind="routed",
            actor_id=None,  # the pool's rule chose the rep, not the person who added the lead
            at=now,
            details=details,
        )
        name = f"{lead.first_name} {lead.last_name}".strip() or lead.company
        notify(
            session, user.id, "routed", f"{name} was routed to you from {pool.name}", now, lead.id
        )
        counts[user.id] += 1
        routed += 1
    return routed


def _pick_member(
    eligible: list[tuple[PoolMember, User]], weighted: bool
) -> tuple[PoolMember, User]:
    """Choose who gets the next pushed lead; updates the stored routing state.

    Round robin: the member served longest ago (``current_weight`` holds a
    "last served" counter), so a member skipped while full simply takes their
    turn when they have room again. Weighted: smooth weighted round robin over
    the members who have room.
    """
    if not weighted:
        chosen = min(eligible, key=lambda mu: mu[0].current_weight)
        chosen[0].current_weight = max(m.current_weight for m, _ in eligible) + 1
        return chosen
    total = sum(m.weight for m, _ in eligible)
    for m, _ in eligible:
        m.current_weight += m.weight
    chosen = max(eligible, key=lambda mu: mu[0].current_weight)
    chosen[0].current_weight -= total
    return chosen


def route_new_leads(
    session: Session,
    lead_ids_by_pool: dict[int, list[int]],
    now: datetime,
    rules: Rules,
    actor_id: int | None,
) -> int:
    """Route freshly created leads in push pools (a no-op for next and manual pools)."""
    pushed = session.scalars(
        select(Pool.id).where(
            Pool.id.in_(list(lead_ids_by_pool)), Pool.routing.in_(PUSH_ROUTINGS), Pool.active
        )
    ).all()
    return sum(
        route_waiting_leads(session, pid, now, rules, actor_id, lead_ids_by_pool[pid])
        for pid in pushed
    )


def push_pool_ids(session: Session) -> list[int]:
    return list(
        session.scalars(
            select(Pool.id).where(Pool.routing.in_(PUSH_ROUTINGS), Pool.active.is_(True))
        )
    )


__all__ = ["PUSH_ROUTINGS", "push_pool_ids", "route_new_leads", "route_waiting_leads"]
