"""Clock jobs: call backs coming due, keep period, idle leads, waiting push leads."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from salesdesk.models import OutboxMessage, Routing
from salesdesk.services import actions, allocation, jobs, leads, notifications, rules
from salesdesk.services.errors import NotAllowedError, ValidationError


def test_a_due_call_back_returns_to_current_with_an_in_app_reminder(db, floor, clock):
    alice = floor.rep("alice")
    pool = floor.pool(members=[alice])
    floor.leads(pool, 1)
    lead = allocation.claim_next_lead(db, alice).lead
    actions.schedule_call_back(db, alice, lead.id, clock.now + timedelta(days=1))
    assert jobs.run_due_jobs(db).callbacks_due == 0

    clock.advance(days=1)
    assert jobs.run_due_jobs(db).callbacks_due == 1
    assert [r.id for r in leads.my_current_leads(db, alice)] == [lead.id]
    assert leads.my_call_backs(db, alice) == []
    assert "Call back due" in notifications.list_notifications(db, alice)[0].message
    assert jobs.run_due_jobs(db).callbacks_due == 0  # once only


def test_call_back_reminder_by_email_when_the_rule_says_so(db, floor, clock):
    alice = floor.rep("alice")
    pool = floor.pool(members=[alice])
    floor.leads(pool, 1)
    rules.update_rules(db, floor.admin, {"callback_reminder": "email"})
    lead = allocation.claim_next_lead(db, alice).lead
    actions.schedule_call_back(db, alice, lead.id, clock.now + timedelta(hours=2))
    clock.advance(hours=2)
    jobs.run_due_jobs(db)
    with db.read() as session:
        [message] = session.scalars(select(OutboxMessage)).all()
    assert message.to_address == "alice@example.com"
    assert message.template == "call_back_reminder"


def test_keep_period_returns_leads_to_the_pool_and_the_cooldown_holds(db, floor, clock):
    alice, bob = floor.rep("alice"), floor.rep("bob")
    pool = floor.pool(members=[alice, bob])
    floor.leads(pool, 1)
    rules.update_rules(db, floor.admin, {"keep_days": 2, "idle_days": 0})
    lead = allocation.claim_next_lead(db, alice).lead
    actions.log_contact(db, alice, lead.id)
    clock.advance(days=1)
    assert jobs.run_due_jobs(db).expired == 0
    clock.advance(days=1, seconds=1)
    assert jobs.run_due_jobs(db).expired == 1
    assert leads.my_current_leads(db, alice) == []
    assert allocation.claim_next_lead(db, alice).lead is None  # not straight back to alice
    assert allocation.claim_next_lead(db, bob).lead.id == lead.id
    history = leads.get_lead(db, floor.manager, lead.id).history
    assert [e.kind for e in history] == ["created", "claimed", "contacted", "expired", "claimed"]
    assert notifications.list_notifications(db, alice)[0].message.endswith(
        "went back to the pool (keep period of 2 working days ended)"
    )


def test_idle_leads_go_back_but_actioned_ones_stay(db, floor, clock):
    alice = floor.rep("alice")
    pool = floor.pool(members=[alice])
    floor.leads(pool, 2)
    rules.update_rules(db, floor.admin, {"idle_days": 3, "keep_days": 0})
    busy = allocation.claim_next_lead(db, alice).lead
    idle = allocation.claim_next_lead(db, alice).lead
    clock.advance(days=2)
    actions.log_contact(db, alice, busy.id)
    clock.advance(days=1, seconds=1)
    summary = jobs.run_due_jobs(db)
    assert (summary.idle, summary.expired) == (1, 0)
    assert [r.id for r in leads.my_current_leads(db, alice)] == [busy.id]
    assert leads.lead_rows_by_id(db, floor.manager, [idle.id])[0].status == "pool"


def test_the_owners_note_counts_as_an_action_a_managers_does_not(db, floor, clock):
    alice = floor.rep("alice")
    pool = floor.pool(members=[alice])
    floor.leads(pool, 2)
    rules.update_rules(db, floor.admin, {"idle_days": 2, "keep_days": 0})
    noted = allocation.claim_next_lead(db, alice).lead
    other = allocation.claim_next_lead(db, alice).lead
    clock.advance(days=1)
    actions.add_note(db, alice, noted.id, "Left a voicemail from the desk phone")
    actions.add_note(db, floor.manager, other.id, "Chase this one")
    clock.advance(days=1, seconds=1)
    assert jobs.run_due_jobs(db).idle == 1
    assert [r.id for r in leads.my_current_leads(db, alice)] == [noted.id]


def test_the_lead_says_when_it_goes_back_and_the_job_keeps_to_it(db, floor, clock):
    alice = floor.rep("alice")
    pool = floor.pool(members=[alice])
    floor.leads(pool, 1)
    rules.update_rules(db, floor.admin, {"idle_days": 3, "keep_days": 14})
    clock.now = datetime(2026, 3, 6, 15, 0)  # a Friday
    lead = allocation.claim_next_lead(db, alice).lead
    detail = leads.get_lead(db, alice, lead.id)
    assert detail.returns_because == "no action"
    assert detail.returns_at > datetime(2026, 3, 10, 14, 0)  # after Tuesday: not Monday
    clock.now = detail.returns_at - timedelta(seconds=1)
    assert jobs.run_due_jobs(db).idle == 0
    actions.add_note(db, alice, lead.id, "Rang, no answer")  # an action: the clock restarts
    moved = leads.get_lead(db, alice, lead.id).returns_at
    assert moved > detail.returns_at
    clock.now = moved + timedelta(seconds=1)
    assert jobs.run_due_jobs(db).idle == 1
    assert leads.get_lead(db, floor.manager, lead.id).returns_at is None  # in the pool now


def test_how_many_leads_changed_rules_would_send_back(db, floor, clock):
    alice = floor.rep("alice")
    pool = floor.pool(members=[alice])
    floor.leads(pool, 3)
    rules.update_rules(db, floor.admin, {"idle_days": 0, "keep_days": 0})
    quiet, busy = (allocation.claim_next_lead(db, alice).lead for _ in range(2))
    clock.advance(days=2)  # Monday -> Wednesday
    actions.add_note(db, alice, busy.id, "Called back, keen")
    assert jobs.leads_due_back(db, floor.admin, {"idle_days": 1}) == 1  # the quiet one
    assert jobs.leads_due_back(db, floor.admin, {"keep_days": 2}) == 2
    assert jobs.leads_due_back(db, floor.admin, {"idle_days": 3}) == 0
    assert rules.get_rules(db).idle_days == 0  # only counted, nothing saved
    with pytest.raises(NotAllowedError):
        jobs.leads_due_back(db, floor.manager, {"idle_days": 1})
    with pytest.raises(ValidationError):
        jobs.leads_due_back(db, floor.admin, {"idle_days": -1})


def test_a_weekend_does_not_use_up_the_days_without_action(db, floor, clock):
    """Taken Friday 15:00 UTC with 3 days: Monday and Tuesday pass, Thursday it goes back.

    The weekend is the local one of the machine running the jobs; the checks keep
    a day's margin either side, so they hold in any time zone.
    """
    alice = floor.rep("alice")
    pool = floor.pool(members=[alice])
    floor.leads(pool, 1, first_name="Jane", last_name="Doe")
    rules.update_rules(db, floor.admin, {"idle_days": 3, "keep_days": 0})
    clock.now = datetime(2026, 3, 6, 15, 0)  # a Friday
    lead = allocation.claim_next_lead(db, alice).lead
    clock.now = datetime(2026, 3, 10, 14, 0)  # Tuesday: 3 calendar days, 2 working days
    assert jobs.run_due_jobs(db).idle == 0
    clock.now = datetime(2026, 3, 12, 15, 0)  # Thursday
    assert jobs.run_due_jobs(db).idle == 1
    assert leads.my_current_leads(db, alice) == []
    assert notifications.list_notifications(db, alice)[0].message == (
        "Jane Doe went back to the pool (no action for 3 working days)"
    )
    released = leads.get_lead(db, floor.manager, lead.id).history[-1]
    assert released.kind == "idle"
    assert released.details == {"days": 3, "working": True}


def test_calendar_days_when_the_rule_counts_weekends(db, floor, clock):
    alice = floor.rep("alice")
    pool = floor.pool(members=[alice])
    floor.leads(pool, 2)
    rules.update_rules(
        db, floor.admin, {"idle_days": 0, "keep_days": 3, "working_days_only": False}
    )
    clock.now = datetime(2026, 3, 6, 15, 0)  # a Friday
    allocation.claim_next_lead(db, alice)
    clock.now = datetime(2026, 3, 9, 14, 59)  # Monday
    assert jobs.run_due_jobs(db).expired == 0
    clock.now = datetime(2026, 3, 9, 15, 1)
    assert jobs.run_due_jobs(db).expired == 1


def test_a_call_back_extends_the_keep_period(db, floor, clock):
    alice = floor.rep("alice")
    pool = floor.pool(members=[alice])
    floor.leads(pool, 1)
    rules.update_rules(db, floor.admin, {"keep_days": 3, "idle_days": 0})
    lead = allocation.claim_next_lead(db, alice).lead
    actions.schedule_call_back(db, alice, lead.id, clock.now + timedelta(days=5))
    clock.advance(days=5)
    assert jobs.run_due_jobs(db).callbacks_due == 1
    assert jobs.run_due_jobs(db).expired == 0  # the clock restarted at the call back
    assert [r.id for r in leads.my_current_leads(db, alice)] == [lead.id]


def test_waiting_push_leads_are_routed_when_a_member_has_room(db, floor):
    alice = floor.rep("alice", cap=1)
    pool = floor.pool("Webinar", Routing.ROUND_ROBIN.value, members=[alice])
    ids = floor.leads(pool, 2)
    first = leads.my_current_leads(db, alice)[0]
    actions.make_appointment(db, alice, first.id)
    assert jobs.run_due_jobs(db).routed == 1
    assert [r.id for r in leads.my_current_leads(db, alice)] == [i for i in ids if i != first.id]
