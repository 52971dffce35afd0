"""Lead notices for the toast: only new ones, each once, named — on both engines."""

from __future__ import annotations

from datetime import timedelta

import pytest

from salesdesk.services import actions, allocation, jobs, leads, notifications, rules, team
from salesdesk.services.errors import NotAllowedError
from salesdesk.services.notifications import lead_notices_since


def test_notices_already_there_at_start_are_not_reported(db, floor):
    alice = floor.rep("alice")
    pool = floor.pool(members=[alice])
    ids = floor.leads(pool, 2)
    leads.assign_leads(db, floor.manager, ids, alice.id)

    first = lead_notices_since(db, alice, None)
    assert first.notices == () and (first.gained, first.lost) == (0, 0)
    assert first.marker == max(n.id for n in notifications.list_notifications(db, alice))
    again = lead_notices_since(db, alice, first.marker)
    assert again.notices == () and again.marker == first.marker and again.after == first.marker


def test_a_first_question_with_no_notices_at_all_starts_from_zero(db, floor):
    alice = floor.rep("alice")
    assert lead_notices_since(db, alice, None).marker == 0


def test_a_lead_assigned_by_a_manager_is_reported_once_with_its_name(db, floor):
    alice = floor.rep("alice")
    pool = floor.pool(members=[alice])
    start = lead_notices_since(db, alice, None).marker
    (lead_id,) = floor.leads(pool, 1, first_name="Jane", last_name="Doe", company="Acme Ltd")
    leads.assign_leads(db, floor.manager, [lead_id], alice.id)

    news = lead_notices_since(db, alice, start)
    assert (news.gained, news.lost) == (1, 0)
    [notice] = news.notices
    assert (notice.lead_id, notice.lead_name, notice.company) == (lead_id, "Jane Doe", "Acme Ltd")
    assert notice.gained and notice.kind == "assigned"
    assert "assigned to you" in notice.message
    assert news.marker == notice.id > start
    assert lead_notices_since(db, alice, news.marker).notices == ()  # never twice


def test_a_reassignment_is_news_for_both_reps(db, floor):
    alice, bob = floor.rep("alice"), floor.rep("bob")
    pool = floor.pool(members=[alice])
    (lead_id,) = floor.leads(pool, 1, first_name="Jane", last_name="Doe")
    allocation.claim_next_lead(db, alice)
    marks = {a: lead_notices_since(db, a, None).marker for a in (alice, bob)}
    leads.assign_leads(db, floor.manager, [lead_id], bob.id)

    for_bob = lead_notices_since(db, bob, marks[bob])
    assert (for_bob.gained, for_bob.lost) == (1, 0)
    assert for_bob.notices[0].lead_name == "Jane Doe"
    for_alice = lead_notices_since(db, alice, marks[alice])
    assert (for_alice.gained, for_alice.lost) == (0, 1)
    [away] = for_alice.notices
    assert not away.gained and away.kind == "reassigned_away"
    assert "reassigned to Bob" in away.message and away.lead_id == lead_id


def test_a_lead_returned_to_the_pool_is_reported_as_taken_away(db, floor):
    alice = floor.rep("alice")
    pool = floor.pool(members=[alice])
    floor.leads(pool, 1)
    lead = allocation.claim_next_lead(db, alice).lead
    start = lead_notices_since(db, alice, None).marker
    leads.return_to_pool(db, floor.manager, [lead.id])
    news = lead_notices_since(db, alice, start)
    assert (news.gained, news.lost) == (0, 1)
    assert "went back to the pool" in news.notices[0].message


def test_a_call_back_coming_due_is_news_other_notices_only_move_the_marker(db, floor, clock):
    alice = floor.rep("alice")
    pool = floor.pool(members=[alice])
    floor.leads(pool, 1)
    lead = allocation.claim_next_lead(db, alice).lead
    actions.schedule_call_back(db, alice, lead.id, clock.now + timedelta(hours=1))
    start = lead_notices_since(db, alice, None).marker
    clock.advance(hours=2)
    assert jobs.run_due_jobs(db).callbacks_due == 1  # a "call back due" notice

    news = lead_notices_since(db, alice, start)
    assert (news.gained, news.lost, news.due) == (0, 0, 1)
    (due,) = news.notices
    assert due.due and not due.gained and due.lead_id == lead.id

    with db.write() as session:  # a notice of another kind (a follow-up reminder)
        notifications.notify(session, alice.id, "follow_up", "Follow up: …", clock.now, lead.id)
    later = lead_notices_since(db, alice, news.marker)
    assert later.notices == () and (later.gained, later.lost, later.due) == (0, 0, 0)
    assert later.marker > news.marker  # so the next question starts after it


def test_many_at_once_are_counted_beyond_the_rows_returned(db, floor):
    alice = floor.rep("alice")
    pool = floor.pool(members=[alice])
    start = lead_notices_since(db, alice, None).marker
    ids = floor.leads(pool, 5)
    leads.assign_leads(db, floor.manager, ids, alice.id)

    news = lead_notices_since(db, alice, start, limit=2)
    assert news.gained == 5 and len(news.notices) == 2
    assert [n.id for n in news.notices] == sorted((n.id for n in news.notices), reverse=True)
    assert news.marker == news.notices[0].id  # the newest


def test_another_persons_notices_are_not_reported(db, floor):
    alice, bob = floor.rep("alice"), floor.rep("bob")
    pool = floor.pool(members=[alice, bob])
    start = lead_notices_since(db, alice, None).marker
    leads.assign_leads(db, floor.manager, floor.leads(pool, 2), bob.id)
    news = lead_notices_since(db, alice, start)
    assert news.notices == () and news.marker == start


def test_a_notice_whose_lead_was_deleted_still_reads(db, floor):
    alice = floor.rep("alice")
    pool = floor.pool(members=[alice])
    start = lead_notices_since(db, alice, None).marker
    (lead_id,) = floor.leads(pool, 1, first_name="Jane", last_name="Doe")
    leads.assign_leads(db, floor.manager, [lead_id], alice.id)
    rules.update_rules(db, floor.admin, {"dead_policy": "delete"})
    leads.remove_leads(db, floor.manager, [lead_id])

    [notice] = lead_notices_since(db, alice, start).notices
    assert (notice.lead_id, notice.lead_name, notice.company) == (None, "", "")
    assert "Jane Doe was assigned to you" in notice.message


def test_a_deactivated_person_is_refused(db, floor):
    alice = floor.rep("alice")
    team.deactivate_user(db, floor.admin, alice.id)
    with pytest.raises(NotAllowedError):
        lead_notices_since(db, alice, 0)
