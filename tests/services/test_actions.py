"""The four action buttons, logging a call and notes — on both engines."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from salesdesk.models import LeadEvent, OutboxMessage
from salesdesk.services import actions, allocation, leads, rules
from salesdesk.services.errors import LeadChangedError, NotAllowedError, ValidationError


@pytest.fixture
def working(db, floor):
    """Alice holds one current lead."""
    alice = floor.rep("alice")
    pool = floor.pool(members=[alice])
    floor.leads(pool, 3, company="Fabrikam")
    lead = allocation.claim_next_lead(db, alice).lead
    return alice, lead


def outbox(db):
    with db.read() as session:
        return session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()


def test_dead_hides_and_tags_by_default(db, floor, clock, working):
    alice, lead = working
    clock.advance(minutes=3)
    row = actions.mark_dead(db, alice, lead.id, reason="Wrong number")
    assert row.status == "dead"
    assert row.dead_at == clock.now
    assert row.owner_id is None
    assert "dead" in row.tags
    assert leads.my_current_leads(db, alice) == []
    detail = leads.get_lead(db, floor.manager, lead.id)  # managers still find it
    assert detail.history[-1].kind == "dead"
    assert detail.history[-1].details == {"reason": "Wrong number"}


def test_dead_deletes_by_rule_and_leaves_an_event_without_personal_data(db, floor, working):
    alice, lead = working
    rules.update_rules(db, floor.admin, {"dead_policy": "delete"})
    with db.read() as session:
        before = session.scalars(select(LeadEvent.kind).where(LeadEvent.lead_id == lead.id)).all()
    assert before  # it was created and claimed
    assert actions.mark_dead(db, alice, lead.id) is None
    with db.read() as session:
        events = session.scalars(select(LeadEvent).where(LeadEvent.kind == "deleted")).all()
        unnamed = session.scalars(select(LeadEvent.kind).where(LeadEvent.lead_id.is_(None))).all()
        naming = session.scalars(select(LeadEvent.id).where(LeadEvent.lead_id == lead.id)).all()
    assert len(events) == 1
    assert events[0].lead_id is None
    # Its history stays, for the counts, without naming it.
    assert naming == []
    assert sorted(unnamed) == sorted([*before, "deleted"])
    assert "Lead" not in str(events[0].details) and "@" not in str(events[0].details)
    assert leads.lead_rows_by_id(db, floor.manager, [lead.id]) == []


def test_call_back_leaves_current_and_shows_in_call_backs(db, clock, working):
    alice, lead = working
    when = clock.now + timedelta(days=2, hours=1)
    row = actions.schedule_call_back(db, alice, lead.id, when)
    assert row.status == "callback"
    assert row.call_back_at == when
    assert leads.my_current_leads(db, alice) == []
    assert [r.id for r in leads.my_call_backs(db, alice)] == [lead.id]


def test_call_back_must_be_in_the_future(db, clock, working):
    alice, lead = working
    with pytest.raises(ValidationError, match="in the future"):
        actions.schedule_call_back(db, alice, lead.id, clock.now - timedelta(minutes=1))
    with pytest.raises(ValidationError, match="in the future"):
        actions.schedule_call_back(db, alice, lead.id, clock.now)
    assert leads.my_current_leads(db, alice)[0].call_back_at is None


def test_email_confirmed_stamps_and_writes_the_confirmation(db, floor, clock, working):
    alice, lead = working
    rules.update_rules(db, floor.admin, {"company_name": "Northstar Solar"})
    row = actions.confirm_email(db, alice, lead.id)
    assert row.status == "current"
    assert row.email_confirmed_at == clock.now
    [message] = outbox(db)
    assert message.to_address == lead.email
    assert message.template == "confirmation"
    assert message.status == "pending"
    assert "Northstar Solar" in message.subject
    assert f"Dear {lead.first_name}," in message.body_text
    assert "Alice" in message.body_text
    assert "<p>" in message.body_html


def test_email_confirmed_without_an_address_is_refused_and_changes_nothing(db, floor):
    alice = floor.rep("alice")
    pool = floor.pool(members=[alice])
    floor.leads(pool, 1, email=None, phone="+44 20 7946 0018")
    lead = allocation.claim_next_lead(db, alice).lead
    with pytest.raises(ValidationError, match="no email address"):
        actions.confirm_email(db, alice, lead.id)
    assert outbox(db) == []
    assert leads.my_current_leads(db, alice)[0].email_confirmed_at is None


def test_appointment_goes_to_the_admin_team(db, floor, clock, working):
    alice, lead = working
    rules.update_rules(db, floor.admin, {"admin_emails": ["desk@example.com", "ops@example.com"]})
    row = actions.make_appointment(db, alice, lead.id)
    assert row.status == "appointment"
    assert row.appointment_at == clock.now
    assert row.owner_id is None
    assert leads.my_current_leads(db, alice) == [] and leads.my_call_backs(db, alice) == []
    [message] = outbox(db)
    assert message.to_address == "desk@example.com, ops@example.com"
    assert lead.last_name in message.subject
    assert [r.id for r in leads.appointments_queue(db, floor.admin)] == [lead.id]
    leads.mark_booked(db, floor.admin, lead.id)
    assert leads.appointments_queue(db, floor.admin) == []


def test_the_tel_link_stamps_last_contacted(db, clock, working):
    alice, lead = working
    clock.advance(minutes=10)
    row = actions.log_contact(db, alice, lead.id)
    assert row.last_contacted_at == clock.now
    assert row.last_action_at == clock.now


def test_notes_stay_with_the_lead_for_the_next_owner(db, floor, working):
    alice, lead = working
    bob = floor.rep("bob")
    actions.add_note(db, alice, lead.id, "  Prefers mornings.  ")
    leads.assign_leads(db, floor.manager, [lead.id], bob.id)
    detail = leads.get_lead(db, bob, lead.id)
    assert [(n.author_name, n.body) for n in detail.notes] == [("Alice", "Prefers mornings.")]
    with pytest.raises(ValidationError, match="cannot be empty"):
        actions.add_note(db, bob, lead.id, "   ")


def test_an_action_on_a_lead_reassigned_meanwhile_is_refused(db, floor, working):
    alice, lead = working
    bob = floor.rep("bob")
    leads.assign_leads(db, floor.manager, [lead.id], bob.id)
    for act in (
        actions.confirm_email,
        actions.make_appointment,
        actions.mark_dead,
        actions.log_contact,
    ):
        with pytest.raises(LeadChangedError, match="no longer yours"):
            act(db, alice, lead.id)
    assert outbox(db) == []


def test_an_action_twice_is_refused_the_second_time(db, working):
    alice, lead = working
    actions.make_appointment(db, alice, lead.id)
    with pytest.raises(LeadChangedError, match="already"):
        actions.make_appointment(db, alice, lead.id)
    with db.read() as session:
        count = session.scalar(select(func.count()).where(LeadEvent.kind == "appointment"))
    assert count == 1


def test_a_rep_cannot_open_another_reps_lead(db, floor, working):
    _alice, lead = working
    bob = floor.rep("bob")
    with pytest.raises(NotAllowedError, match="not yours"):
        leads.get_lead(db, bob, lead.id)
    with pytest.raises(NotAllowedError):
        actions.add_note(db, bob, lead.id, "sneaky")


def test_search_covers_only_my_own_leads(db, floor):
    alice, bob = floor.rep("alice"), floor.rep("bob")
    pool = floor.pool(members=[alice, bob])
    floor.leads(pool, 1, company="Contoso")
    floor.leads(pool, 1, company="Fabrikam")
    allocation.claim_next_lead(db, alice)  # newest first: Fabrikam
    allocation.claim_next_lead(db, bob)
    assert [r.company for r in leads.my_current_leads(db, alice, "fabri")] == ["Fabrikam"]
    assert leads.my_current_leads(db, alice, "contoso") == []


def test_a_click_retried_after_a_lost_connection_is_not_done_twice(db, floor, clock, working):
    alice, lead = working
    first = actions.confirm_email(db, alice, lead.id, request_id="click-1")
    clock.advance(minutes=1)
    again = actions.confirm_email(db, alice, lead.id, request_id="click-1")  # the retry
    assert again.email_confirmed_at == first.email_confirmed_at
    assert len(outbox(db)) == 1
    actions.confirm_email(db, alice, lead.id, request_id="click-2")  # a new, deliberate click
    assert len(outbox(db)) == 2


def test_a_retried_dead_or_call_back_answers_with_the_first_outcome(db, floor, clock, working):
    alice, lead = working
    when = clock.now + timedelta(days=1)
    actions.schedule_call_back(db, alice, lead.id, when, request_id="cb-1")
    row = actions.schedule_call_back(db, alice, lead.id, when, request_id="cb-1")
    assert (row.status, row.call_back_at) == ("callback", when)
    actions.mark_dead(db, alice, lead.id, request_id="dead-1")
    assert actions.mark_dead(db, alice, lead.id, request_id="dead-1").status == "dead"
    kinds = [e.kind for e in leads.get_lead(db, floor.manager, lead.id).history]
    assert kinds.count("call_back") == 1 and kinds.count("dead") == 1


def test_a_note_retried_after_a_lost_connection_is_saved_once(db, floor, clock, working):
    """Add note commits but its answer is lost; the retry carries the same request id
    and is answered with the note saved the first time, not a copy."""
    alice, lead = working
    first = actions.add_note(db, alice, lead.id, "Prefers mornings.", request_id="note-1")
    clock.advance(minutes=1)
    again = actions.add_note(db, alice, lead.id, "Prefers mornings.", request_id="note-1")
    assert again == first
    second = actions.add_note(db, alice, lead.id, "Prefers mornings.", request_id="note-2")

    detail = leads.get_lead(db, alice, lead.id)
    assert [(n.id, n.body) for n in detail.notes] == [
        (first.id, "Prefers mornings."),
        (second.id, "Prefers mornings."),
    ]
    assert second.at == clock.now and first.at == clock.now - timedelta(minutes=1)
    # The receipts stay out of the history: the notes are shown beside it.
    assert [e.kind for e in detail.history] == ["created", "claimed"]
    with db.read() as session:
        receipts = session.execute(
            select(LeadEvent.request_id, LeadEvent.details, LeadEvent.actor_id)
            .where(LeadEvent.kind == "note_added")
            .order_by(LeadEvent.id)
        ).all()
    assert [tuple(r) for r in receipts] == [
        ("note-1", {"note_id": first.id}, alice.id),
        ("note-2", {"note_id": second.id}, alice.id),
    ]


def test_a_retried_note_on_a_lead_deleted_meanwhile_is_refused(db, floor, working):
    alice, lead = working
    actions.add_note(db, alice, lead.id, "Wrong number.", request_id="note-1")
    rules.update_rules(db, floor.admin, {"dead_policy": "delete"})
    actions.mark_dead(db, alice, lead.id)
    with pytest.raises(LeadChangedError, match="no longer exists"):
        actions.add_note(db, alice, lead.id, "Wrong number.", request_id="note-1")
