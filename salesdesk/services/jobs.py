"""Work that runs on a clock rather than on a click.

:func:`run_due_jobs` is one transaction that

* brings call backs that have come due back into their owner's Current list,
  with the reminder the rules ask for (in-app, or an email to the rep);
* returns leads to the pool when the keep period is over or nothing has been
  done with them for the idle limit (the former owner is remembered, so the
  cooldown keeps Next from handing the lead straight back); both count working
  days only unless the rules say otherwise (``services/workdays.py``);
* pushes waiting leads in round-robin and weighted pools to members who have
  room again;
* reminds owners of leads quiet for their pool's follow-up days, and emails
  the hourly digest of assignments (``services/reminders.py``).

Then, in short transactions of their own, it deletes sent mail past its
keeping time (``outbox_admin.purge_sent_mail``), so the outbox does not grow forever.

``salesdesk worker`` calls it for a team on PostgreSQL; the desktop client
calls it itself on the embedded SQLite default. On PostgreSQL only one runner
acts at a time (a transaction-scoped advisory lock; a second runner skips the
round rather than doing the work twice). On SQLite ``BEGIN IMMEDIATE`` already
lets one writer in at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from salesdesk.db import Database
from salesdesk.models import Lead, LeadStatus, User
from salesdesk.services import mail, outbox_admin, reminders
from salesdesk.services.auth import ADMINS, require
from salesdesk.services.lifecycle import (
    hold_limits,
    limit_starts,
    record_event,
    release_to_pool,
    status_is,
)
from salesdesk.services.notifications import notify
from salesdesk.services.records import Actor, JobsSummary
from salesdesk.services.routing import push_pool_ids, route_waiting_leads
from salesdesk.services.rules import Rules, load_rules, with_changes
from salesdesk.services.workdays import days_before, days_text, floor_time

log = logging.getLogger(__name__)

# Any fixed 64-bit number; names the "jobs runner" advisory lock on PostgreSQL.
JOBS_LOCK_KEY = 0x5A1E5DE5C0B5
BATCH = 500


def run_due_jobs(db: Database) -> JobsSummary:
    with db.write() as session:
        if db.dialect == "postgresql" and not session.scalar(
            select(func.pg_try_advisory_xact_lock(JOBS_LOCK_KEY))
        ):
            return JobsSummary()  # another runner holds the lock this round
        now = db.now()
        rules = load_rules(session)
        summary = JobsSummary(
            callbacks_due=_call_backs_due(session, now, rules),
            expired=_release_held(session, now, rules, kind="expired"),
            idle=_release_held(session, now, rules, kind="idle"),
            routed=sum(
                route_waiting_leads(session, pid, now, rules) for pid in push_pool_ids(session)
            ),
            follow_ups=reminders.send_follow_ups(session, now, rules),
            digests=reminders.send_digests(session, now, rules),
        )
    # Outside the round's transaction: a long purge must not hold its write lock.
    purged = outbox_admin.purge_sent_mail(db)
    if purged:
        log.info("deleted %d sent emails older than %s", purged, outbox_admin.SENT_MAIL_KEPT)
    return summary


# The rules that decide when a held lead goes back to the pool.
RELEASE_RULES = frozenset({"keep_days", "idle_days", "working_days_only"})


def leads_due_back(db: Database, actor: Actor, changes: Mapping[str, Any]) -> int:
    """How many current leads the next round would return to the pool under changed rules.

    For the settings dialog to say so before a shorter keep period or idle
    limit takes a floor's worth of leads off the reps at once. Nothing is saved.
    """
    with db.read() as session:
        require(session, actor, ADMINS)
        proposed, now = with_changes(load_rules(session), changes), db.now()
        # Per limit that is on: the moment it must have started by to be over now.
        cutoffs = {
            kind: days_before(now, days, working_days_only=proposed.working_days_only)
            for kind, days in hold_limits(proposed).items()
        }
        if not cutoffs:
            return 0
        held = session.execute(
            select(Lead.assigned_at, Lead.call_back_at, Lead.last_action_at).where(
                status_is(LeadStatus.CURRENT), Lead.assigned_at <= max(cutoffs.values())
            )
        )
        return sum(
            1
            for row in held
            # "<=": a limit ending right now is over by the next round.
            if any(limit_starts(*row)[kind] <= cutoff for kind, cutoff in cutoffs.items())
        )


def _call_backs_due(session: Session, now: datetime, rules: Rules) -> int:
    due = session.scalars(
        select(Lead)
        .where(status_is(LeadStatus.CALLBACK), Lead.call_back_at <= now)
        .order_by(Lead.call_back_at, Lead.id)
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    ).all()
    for lead in due:
        lead.status = LeadStatus.CURRENT.value
        record_event(
            session,
            lead_id=lead.id,
            actor_id=None,
            kind="call_back_due",
            at=now,
            from_status=LeadStatus.CALLBACK.value,
            to_status=LeadStatus.CURRENT.value,
            from_owner_id=lead.owner_id,
            to_owner_id=lead.owner_id,
        )
        _remind(session, lead, now, rules)
    return len(due)


def _remind(session: Session, lead: Lead, now: datetime, rules: Rules) -> None:
    rep = session.get(User, lead.owner_id) if lead.owner_id else None
    if rep is None:
        return
    name = f"{lead.first_name} {lead.last_name}".strip() or lead.company
    if rules.callback_reminder == "email" and rep.email:
        context = mail.lead_context(lead, rep, rules.company_name)
        context["call_back_at"] = floor_time(lead.call_back_at or now)
        mail.enqueue(
            session,
            template="call_back_reminder",
            to=[rep.email],
            context=context,
            now=now,
            lead_id=lead.id,
        )
    else:
        # No time in the words: the bell shows when the notice came, in the rep's own zone.
        notify(session, rep.id, "call_back_due", f"Call back due: {name}", now, lead.id)


def _release_held(session: Session, now: datetime, rules: Rules, kind: str) -> int:
    """Return current leads whose keep period (``expired``) or idle limit (``idle``) is over.

    Each limit counts from its own start (:func:`lifecycle.limit_starts`).
    """
    days = hold_limits(rules).get(kind)
    if days is None:
        return 0
    working = rules.working_days_only
    cutoff = days_before(now, days, working_days_only=working)
    candidates = session.scalars(
        select(Lead)
        .where(status_is(LeadStatus.CURRENT), Lead.assigned_at < cutoff)
        .order_by(Lead.assigned_at, Lead.id)
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    ).all()
    released = 0
    for lead in candidates:
        if limit_starts(lead.assigned_at, lead.call_back_at, lead.last_action_at)[kind] >= cutoff:
            continue
        former = lead.owner_id
        details = {"days": days, "working": working}
        release_to_pool(session, lead, kind=kind, actor_id=None, at=now, details=details)
        if former is not None:
            name = f"{lead.first_name} {lead.last_name}".strip() or lead.company
            period = days_text(days, working)
            if kind == "expired":
                why = f"keep period of {period} ended"
            else:
                why = f"no action for {period}"
            notify(
                session,
                former,
                "reassigned_away",
                f"{name} went back to the pool ({why})",
                now,
                lead.id,
            )
        released += 1
    return released
