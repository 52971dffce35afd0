"""Reminders and digests that run on a clock (called from ``jobs.run_due_jobs``).

Both functions work inside the caller's transaction and write their email
through the outbox, so a reminder exists exactly when its record does.

* **Follow-up reminder per pool** (``pools.follow_up_days``): a current lead
  whose owner has had no contact with it for N days reminds the owner once —
  in-app or by email, by rule. The reminder is a ``follow_up_reminder`` row in
  ``lead_events``; a lead is reminded again only after new contact (or a new
  owner) followed by another N quiet days.
* **Digest of assignments**: the in-app notices of leads given to a person or
  taken away appear at once (``leads.assign_leads`` and the jobs write them);
  by email they come in a digest at most hourly per person, built from
  ``lead_events`` and remembered in ``mail_digests``. Routed leads (round
  robin, weighted) count as given too.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session, aliased

from salesdesk.models import Lead, LeadEvent, LeadStatus, MailDigest, Pool, User
from salesdesk.services import mail
from salesdesk.services.lifecycle import status_is, transition
from salesdesk.services.notifications import notify
from salesdesk.services.rules import Rules
from salesdesk.services.workdays import (
    days_before,
    days_text,
    floor_time,
    local_date,
    period_in,
)

FOLLOW_UP_KIND = "follow_up_reminder"
FOLLOW_UP_BATCH = 500

DIGEST_INTERVAL = timedelta(hours=1)
"""At most one digest per person per this long."""
DIGEST_GATHER = timedelta(minutes=5)
"""A change is reported once it is this old: a manager's burst of clicks lands in one
email, and a transaction that committed late is never skipped."""
DIGEST_LOOKBACK = timedelta(hours=24)
"""Older changes are not emailed (the in-app notice told the person long ago)."""
DIGEST_MAX_ITEMS = 50

# Event kinds that give a lead to its to_owner, and that take it from its from_owner.
# A rep's own Next ("claimed") is not news to them.
GAINED = ("assigned", "reassigned", "routed")
LOST = ("reassigned", "returned", "expired", "idle")


# --- follow-up reminders ---------------------------------------------------------------


def send_follow_ups(session: Session, now: datetime, rules: Rules) -> int:
    """Remind owners of current leads quiet for their pool's follow-up days; how many."""
    pools = session.execute(
        select(Pool.id, Pool.follow_up_days).where(Pool.follow_up_days > 0).order_by(Pool.id)
    ).all()
    sent = 0
    for pool_id, pool_days in pools:
        if sent >= FOLLOW_UP_BATCH:
            break
        days = int(pool_days or 0)
        cutoff = days_before(now, days, working_days_only=rules.working_days_only)
        quiet = session.execute(_quiet_leads(pool_id, cutoff).limit(FOLLOW_UP_BATCH - sent))
        for lead, owner in quiet.all():
            _remind_follow_up(session, lead, owner, days, now, rules)
            sent += 1
    return sent


def _contact_marks() -> tuple[Any, ...]:
    """What counts as the owner's last touch of a lead: the latest of these."""
    return (Lead.assigned_at, Lead.last_contacted_at, Lead.last_action_at, Lead.call_back_at)


def _quiet_leads(pool_id: int, cutoff: datetime) -> Any:
    marks = _contact_marks()
    quiet = [Lead.assigned_at <= cutoff] + [or_(m.is_(None), m <= cutoff) for m in marks[1:]]
    # Already reminded since the last touch: an event after every mark (a touch in
    # the same second as a reminder counts as after it).
    reminded = exists().where(
        LeadEvent.lead_id == Lead.id,
        LeadEvent.kind == FOLLOW_UP_KIND,
        *(or_(m.is_(None), LeadEvent.at > m) for m in marks),
    )
    return (
        select(Lead, User)
        .join(User, User.id == Lead.owner_id)
        .where(
            status_is(LeadStatus.CURRENT),
            Lead.pool_id == pool_id,
            User.active.is_(True),
            *quiet,
            ~reminded,
        )
        .order_by(Lead.assigned_at, Lead.id)
        .with_for_update(of=Lead, skip_locked=True)
    )


def _remind_follow_up(
    session: Session, lead: Lead, owner: User, days: int, now: datetime, rules: Rules
) -> None:
    by_email = rules.follow_up_reminder == "email" and bool(owner.email)
    transition(  # no move: the event marks the reminder, so it is not sent again
        session,
        lead,
        kind=FOLLOW_UP_KIND,
        actor_id=None,
        at=now,
        details={
            "days": days,
            "working": rules.working_days_only,
            "by": "email" if by_email else "in_app",
        },
    )
    name = _lead_name(lead.first_name, lead.last_name, lead.company, lead.id)
    if by_email:
        assert owner.email is not None
        context = mail.lead_context(lead, owner, rules.company_name)
        context["days"] = days
        context["quiet_for"] = days_text(days, rules.working_days_only)
        context["last_contact"] = (
            lead.last_contacted_at.strftime("%Y-%m-%d")
            if lead.last_contacted_at
            else f"none since it was assigned on {lead.assigned_at:%Y-%m-%d}"
        )
        mail.enqueue(
            session,
            template="follow_up_reminder",
            to=[owner.email],
            context=context,
            now=now,
            lead_id=lead.id,
        )
    else:
        notify(
            session,
            owner.id,
            "follow_up",
            f"Follow up: {name} — no contact for {days_text(days, rules.working_days_only)}",
            now,
            lead.id,
        )


# --- the digest of assignments -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Change:
    at: datetime
    gained: bool
    text: str
    lead_id: int | None


def send_digests(session: Session, now: datetime, rules: Rules) -> int:
    """Email each person who is due one a digest of leads given or taken; how many."""
    if not rules.assignment_digest:
        return 0
    cut = now - DIGEST_GATHER
    people = {
        u.id: u
        for u in session.scalars(
            select(User).where(User.active.is_(True), User.email.is_not(None), User.email != "")
        )
    }
    if not people:
        return 0
    marks = {
        m.user_id: m
        for m in session.scalars(select(MailDigest).where(MailDigest.user_id.in_(people)))
    }
    floor = now - DIGEST_LOOKBACK
    since = {uid: max(m.covered_until, floor) if (m := marks.get(uid)) else floor for uid in people}
    # Who may have one now: never sent, or the last one an interval ago.
    due = {
        uid for uid in people if (m := marks.get(uid)) is None or m.sent_at <= now - DIGEST_INTERVAL
    }
    if not due:
        return 0
    changes = _changes_by_person(session, min(since[uid] for uid in due), cut, due, since)
    sent = 0
    for uid in sorted(changes):
        items = changes[uid]
        _send_digest(session, people[uid], items, now, rules)
        mark = marks.get(uid)
        if mark is None:
            session.add(MailDigest(user_id=uid, covered_until=cut, sent_at=now))
        else:
            mark.covered_until, mark.sent_at = cut, now
        sent += 1
    return sent


def _changes_by_person(
    session: Session,
    low: datetime,
    cut: datetime,
    due: set[int],
    since: dict[int, datetime],
) -> dict[int, list[_Change]]:
    actor, from_owner, to_owner = aliased(User), aliased(User), aliased(User)
    rows = session.execute(
        select(
            LeadEvent.kind,
            LeadEvent.at,
            LeadEvent.lead_id,
            LeadEvent.from_owner_id,
            LeadEvent.to_owner_id,
            LeadEvent.details,
            Lead.first_name,
            Lead.last_name,
            Lead.company,
            Pool.name,
            actor.display_name,
            from_owner.display_name,
            to_owner.display_name,
        )
        .outerjoin(Lead, Lead.id == LeadEvent.lead_id)
        .outerjoin(Pool, Pool.id == Lead.pool_id)
        .outerjoin(actor, actor.id == LeadEvent.actor_id)
        .outerjoin(from_owner, from_owner.id == LeadEvent.from_owner_id)
        .outerjoin(to_owner, to_owner.id == LeadEvent.to_owner_id)
        .where(
            LeadEvent.kind.in_(sorted(set(GAINED) | set(LOST))),
            LeadEvent.at > low,
            LeadEvent.at <= cut,
            or_(
                and_(LeadEvent.to_owner_id.in_(due), LeadEvent.kind.in_(GAINED)),
                and_(LeadEvent.from_owner_id.in_(due), LeadEvent.kind.in_(LOST)),
            ),
        )
        .order_by(LeadEvent.at, LeadEvent.id)
    ).all()
    changes: dict[int, list[_Change]] = defaultdict(list)
    for (
        kind,
        at,
        lead_id,
        from_id,
        to_id,
        details,
        first,
        last,
        company,
        pool,
        by,
        was,
        now_to,
    ) in rows:
        name = _lead_name(first, last, company, lead_id)
        if to_id in due and kind in GAINED and to_id != from_id and at > since[to_id]:
            changes[to_id].append(
                _Change(at, True, _gained_text(kind, name, pool, by, was), lead_id)
            )
        if from_id in due and kind in LOST and from_id != to_id and at > since[from_id]:
            changes[from_id].append(
                _Change(at, False, _lost_text(kind, name, by, now_to, details or {}), lead_id)
            )
    return changes


def _gained_text(kind: str, name: str, pool: str | None, by: str | None, was: str | None) -> str:
    if kind == "routed":
        return f"{name} came to you from the {pool} pool" if pool else f"{name} came to you"
    if kind == "reassigned" and was:
        return f"{name} was reassigned to you from {was}" + (f" by {by}" if by else "")
    return f"{name} was assigned to you" + (f" by {by}" if by else "")


def _lost_text(
    kind: str, name: str, by: str | None, to: str | None, details: dict[str, Any]
) -> str:
    if kind == "reassigned":
        return f"{name} was reassigned to {to or 'someone else'}" + (f" by {by}" if by else "")
    if kind == "expired":
        return f"{name} went back to the pool (keep period{period_in(details, ' of ', '')} ended)"
    if kind == "idle":
        return f"{name} went back to the pool (no action for {period_in(details)})"
    return f"{name} was returned to the pool" + (f" by {by}" if by else "")


def _send_digest(
    session: Session, person: User, items: list[_Change], now: datetime, rules: Rules
) -> None:
    assert person.email is not None
    if len(items) == 1 and items[0].gained and items[0].lead_id is not None:
        # One new lead and nothing else: its own notice says more than a list.
        lead = session.get(Lead, items[0].lead_id)
        if lead is not None:
            context = mail.lead_context(lead, person, rules.company_name)
            pool = session.get(Pool, lead.pool_id) if lead.pool_id else None
            context["pool_name"] = pool.name if pool else ""
            mail.enqueue(
                session,
                template="assigned",
                to=[person.email],
                context=context,
                now=now,
                lead_id=lead.id,
            )
            return
    listed = items[-DIGEST_MAX_ITEMS:]  # the newest, if there are very many
    mail.enqueue(
        session,
        template="digest",
        to=[person.email],
        context={
            "rep_name": person.display_name,
            "rep_email": person.email,
            "company_name": rules.company_name,
            "count": len(items),
            "items": [{"time": _when(c.at, now), "text": c.text} for c in listed],
        },
        now=now,
    )


def _when(at: datetime, now: datetime) -> str:
    return floor_time(at, "%H:%M" if local_date(at) == local_date(now) else "%d %b %H:%M")


def _lead_name(first: str | None, last: str | None, company: str | None, lead_id: Any) -> str:
    full = f"{first or ''} {last or ''}".strip()
    if full:
        return full
    if company:
        return company
    return f"Lead #{lead_id}" if lead_id is not None else "A lead since removed"
