"""Follow-up reminders per pool, the hourly digest, and call back reminders, on both engines."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from salesdesk.models import LeadEvent, MailDigest, OutboxMessage, Routing
from salesdesk.services import (
    actions,
    allocation,
    jobs,
    leads,
    notifications,
    reminders,
    rules,
    team,
)
from salesdesk.services.errors import ValidationError
from salesdesk.services.records import Actor


def outbox_rows(db) -> list[OutboxMessage]:
    with db.read() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def notices(db, actor, kind: str) -> list[str]:
    return [n.message for n in notifications.list_notifications(db, actor) if n.kind == kind]


def follow_up_events(db, lead_id: int) -> list[LeadEvent]:
    with db.read() as session:
        return list(
            session.scalars(
                select(LeadEvent)
                .where(LeadEvent.lead_id == lead_id, LeadEvent.kind == "follow_up_reminder")
                .order_by(LeadEvent.id)
            )
        )


# --- follow-up reminders --------------------------------------------------------------------


def quiet_floor(db, floor, days: int = 2):
    """Alice holds one lead in a pool whose follow-up is ``days``; nothing releases it."""
    rules.update_rules(db, floor.admin, {"idle_days": 0, "keep_days": 0})
    alice = floor.rep("alice")
    pool = floor.pool(members=[alice])
    team.update_pool(db, floor.admin, pool.id, follow_up_days=days)
    floor.leads(pool, 1, first_name="Jane", last_name="Doe")
    lead = allocation.claim_next_lead(db, alice).lead
    return alice, pool, lead


def test_a_quiet_lead_reminds_its_owner_once(db, floor, clock):
    alice, _, lead = quiet_floor(db, floor, days=2)

    clock.advance(days=1, hours=23)
    assert jobs.run_due_jobs(db).follow_ups == 0
    clock.advance(hours=1)
    assert jobs.run_due_jobs(db).follow_ups == 1
    clock.advance(hours=5)
    assert jobs.run_due_jobs(db).follow_ups == 0  # recorded, so not every round

    said = "Follow up: Jane Doe — no contact for 2 working days"
    assert notices(db, alice, "follow_up") == [said]
    (event,) = follow_up_events(db, lead.id)
    assert event.to_owner_id == alice.id and event.actor_id is None
    assert event.details == {"days": 2, "working": True, "by": "in_app"}
    assert outbox_rows(db) == []


def test_the_follow_up_days_skip_the_weekend(db, floor, clock):
    clock.now = datetime(2026, 3, 6, 15, 0)  # a Friday; a day's margin for any time zone
    quiet_floor(db, floor, days=1)
    clock.now = datetime(2026, 3, 8, 15, 0)  # Sunday: two calendar days, no working day
    assert jobs.run_due_jobs(db).follow_ups == 0
    clock.now = datetime(2026, 3, 10, 15, 0)  # Tuesday
    assert jobs.run_due_jobs(db).follow_ups == 1


def test_with_the_default_rules_the_longest_follow_up_allowed_fires_before_the_idle_return(
    db, floor, clock
):
    """Idle limit 3 days (the default): a follow-up of 3 days could never fire, so it is
    refused; 2 days is the longest allowed, and it reminds the owner a day before the
    lead goes back to the pool."""
    alice = floor.rep("alice")
    pool = floor.pool(members=[alice])
    with pytest.raises(ValidationError, match="after 3 days without action"):
        team.update_pool(db, floor.admin, pool.id, follow_up_days=3)
    team.update_pool(db, floor.admin, pool.id, follow_up_days=2)
    floor.leads(pool, 1, first_name="Jane", last_name="Doe")
    allocation.claim_next_lead(db, alice)

    clock.advance(days=2, minutes=1)
    assert jobs.run_due_jobs(db).follow_ups == 1
    clock.advance(days=1)
    summary = jobs.run_due_jobs(db)
    assert (summary.idle, summary.follow_ups) == (1, 0)
    said = "Follow up: Jane Doe — no contact for 2 working days"
    assert notices(db, alice, "follow_up") == [said]


def test_contact_restarts_the_follow_up_clock(db, floor, clock):
    alice, _, lead = quiet_floor(db, floor, days=2)
    clock.advance(days=2)
    assert jobs.run_due_jobs(db).follow_ups == 1

    actions.log_contact(db, alice, lead.id)
    clock.advance(days=1)
    assert jobs.run_due_jobs(db).follow_ups == 0
    clock.advance(days=1)
    assert jobs.run_due_jobs(db).follow_ups == 1
    assert len(follow_up_events(db, lead.id)) == 2


def test_a_new_owner_gets_their_own_follow_up_days(db, floor, clock):
    alice, pool, lead = quiet_floor(db, floor, days=2)
    bob = floor.rep("bob")
    clock.advance(days=1)
    leads.assign_leads(db, floor.manager, [lead.id], bob.id)
    clock.advance(days=1)
    assert jobs.run_due_jobs(db).follow_ups == 0  # two days for Alice, one for Bob
    clock.advance(days=1)
    assert jobs.run_due_jobs(db).follow_ups == 1
    assert notices(db, bob, "follow_up") and not notices(db, alice, "follow_up")


def test_follow_up_by_email_when_the_rule_says_so(db, floor, clock):
    alice, _, lead = quiet_floor(db, floor, days=2)
    rules.update_rules(db, floor.admin, {"follow_up_reminder": "email"})
    clock.advance(days=2)
    jobs.run_due_jobs(db)

    (row,) = outbox_rows(db)
    assert (row.template, row.to_address, row.lead_id) == (
        "follow_up_reminder",
        "alice@example.com",
        lead.id,
    )
    assert notices(db, alice, "follow_up") == []


def test_pools_without_follow_up_and_leads_not_current_are_left_alone(db, floor, clock):
    rules.update_rules(db, floor.admin, {"idle_days": 0, "keep_days": 0})
    alice = floor.rep("alice", cap=10)
    plain = floor.pool("Plain", members=[alice])
    watched = floor.pool("Watched", members=[alice])
    team.update_pool(db, floor.admin, watched.id, follow_up_days=1)
    floor.leads(plain, 1, priority=5)
    floor.leads(watched, 2)
    held = [allocation.claim_next_lead(db, alice).lead for _ in range(3)]
    by_pool = {lead.pool_name: lead for lead in held}
    on_call_back = next(lead for lead in held if lead.pool_name == "Watched")
    actions.schedule_call_back(db, alice, on_call_back.id, clock.now.replace(day=20))

    clock.advance(days=3)
    assert jobs.run_due_jobs(db).follow_ups == 1
    assert follow_up_events(db, by_pool["Plain"].id) == []
    assert follow_up_events(db, on_call_back.id) == []


# --- the hourly digest of assignments ---------------------------------------------------------


def test_digest_waits_for_a_burst_then_comes_at_most_hourly(db, floor, clock):
    alice = floor.rep("alice", cap=50)
    pool = floor.pool(members=[alice])
    ids = floor.leads(pool, 5)

    leads.assign_leads(db, floor.manager, ids[:2], alice.id)
    assert notices(db, alice, "assigned")  # in-app at once
    assert jobs.run_due_jobs(db).digests == 0  # the burst may still be going on
    clock.advance(minutes=3)
    leads.assign_leads(db, floor.manager, ids[2:3], alice.id)
    clock.advance(minutes=5)
    assert jobs.run_due_jobs(db).digests == 1  # 09:00 and 09:03 in one email
    clock.advance(minutes=10)
    leads.assign_leads(db, floor.manager, ids[3:], alice.id)
    clock.advance(minutes=10)
    assert jobs.run_due_jobs(db).digests == 0  # the last one went out 20 minutes ago
    clock.advance(minutes=40)
    assert jobs.run_due_jobs(db).digests == 1
    clock.advance(hours=3)
    assert jobs.run_due_jobs(db).digests == 0  # nothing new, nothing sent

    digests = [r for r in outbox_rows(db) if r.template == "digest"]
    assert [r.subject for r in digests] == [
        "SalesDesk: 3 lead changes for you",
        "SalesDesk: 2 lead changes for you",
    ]
    assert {r.to_address for r in digests} == {"alice@example.com"}
    with db.read() as session:
        mark = session.get(MailDigest, alice.id)
    assert mark is not None and mark.sent_at == clock.now.replace(hour=10, minute=8)


def test_routed_and_released_leads_are_in_the_digest(db, floor, clock):
    rules.update_rules(db, floor.admin, {"idle_days": 1, "keep_days": 0, "cooldown_hours": 0})
    alice = floor.rep("alice")
    pool = floor.pool("Push", routing=Routing.ROUND_ROBIN.value, members=[alice])
    floor.leads(pool, 1, first_name="Jane", last_name="Doe")  # pushed to Alice at once
    clock.advance(minutes=10)
    jobs.run_due_jobs(db)
    clock.advance(days=1, minutes=1)
    jobs.run_due_jobs(db)  # idle: back to the pool (and pushed to Alice again)
    clock.advance(hours=1)
    jobs.run_due_jobs(db)

    bodies = [r.body_text for r in outbox_rows(db) if r.to_address == "alice@example.com"]
    assert "Jane Doe is now yours in SalesDesk (pool: Push)." in bodies[0]
    assert "Jane Doe went back to the pool (no action for 1 working day)" in bodies[1]
    assert "Jane Doe came to you from the Push pool" in bodies[1]


def test_no_digest_when_off_or_without_an_email_address(db, floor, clock):
    alice = floor.rep("alice")
    row = team.add_user(db, None, "nomail", "No Mail", "password1", email=None)
    nomail = Actor(row.id, row.username, row.display_name, row.role)
    pool = floor.pool(members=[alice, nomail])
    ids = floor.leads(pool, 2)
    leads.assign_leads(db, floor.manager, ids[:1], nomail.id)
    rules.update_rules(db, floor.admin, {"assignment_digest": False})
    leads.assign_leads(db, floor.manager, ids[1:], alice.id)
    clock.advance(minutes=10)
    assert jobs.run_due_jobs(db).digests == 0

    rules.update_rules(db, floor.admin, {"assignment_digest": True})
    assert jobs.run_due_jobs(db).digests == 1  # Alice's news was kept for her
    assert [r.to_address for r in outbox_rows(db)] == ["alice@example.com"]


def test_a_claimed_lead_is_no_news(db, floor, clock):
    alice = floor.rep("alice")
    pool = floor.pool(members=[alice])
    floor.leads(pool, 1)
    allocation.claim_next_lead(db, alice)
    clock.advance(minutes=10)
    assert jobs.run_due_jobs(db).digests == 0


def test_very_old_changes_are_not_emailed(db, floor, clock):
    alice = floor.rep("alice")
    pool = floor.pool(members=[alice])
    ids = floor.leads(pool, 1)
    rules.update_rules(db, floor.admin, {"assignment_digest": False, "idle_days": 0})
    leads.assign_leads(db, floor.manager, ids, alice.id)
    clock.advance(hours=25)
    rules.update_rules(db, floor.admin, {"assignment_digest": True})
    assert jobs.run_due_jobs(db).digests == 0
    assert reminders.DIGEST_LOOKBACK.total_seconds() == 24 * 3600


# --- call back due (jobs.py): email or in-app, by rule ------------------------------------------


def test_call_back_reminder_is_in_app_or_email_by_rule(db, floor, clock):
    alice = floor.rep("alice", cap=10)
    pool = floor.pool(members=[alice])
    floor.leads(pool, 2)
    first = allocation.claim_next_lead(db, alice).lead
    second = allocation.claim_next_lead(db, alice).lead
    actions.schedule_call_back(db, alice, first.id, clock.now.replace(hour=11))
    actions.schedule_call_back(db, alice, second.id, clock.now.replace(hour=13))

    clock.advance(hours=2)
    assert jobs.run_due_jobs(db).callbacks_due == 1
    rules.update_rules(db, floor.admin, {"callback_reminder": "email"})
    clock.advance(hours=2)
    assert jobs.run_due_jobs(db).callbacks_due == 1

    assert len(notices(db, alice, "call_back_due")) == 1
    reminder_mail = [r for r in outbox_rows(db) if r.template == "call_back_reminder"]
    assert [(r.to_address, r.lead_id) for r in reminder_mail] == [("alice@example.com", second.id)]
