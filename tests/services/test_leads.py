"""Manager operations and the lists people see — on both engines."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from salesdesk.models import LeadEvent
from salesdesk.services import actions, allocation, lead_table, leads, notifications, rules
from salesdesk.services.errors import NotAllowedError, ValidationError
from salesdesk.services.lead_table import LeadFilter


def test_assign_from_pool_and_reassign_between_reps_are_events(db, floor, clock):
    alice, bob = floor.rep("alice"), floor.rep("bob")
    pool = floor.pool(members=[alice, bob])
    ids = floor.leads(pool, 3)

    result = leads.assign_leads(db, floor.manager, ids, alice.id)
    assert set(result.done) == set(ids)
    assert {r.id for r in leads.my_current_leads(db, alice)} == set(ids)

    clock.advance(hours=1)
    result = leads.assign_leads(db, floor.manager, ids[:2], bob.id)
    assert set(result.done) == set(ids[:2])
    assert {r.id for r in leads.my_current_leads(db, alice)} == {ids[2]}
    assert {r.id for r in leads.my_current_leads(db, bob)} == set(ids[:2])

    history = leads.get_lead(db, floor.manager, ids[0]).history
    assert [e.kind for e in history] == ["created", "assigned", "reassigned"]
    assert (history[-1].from_owner_name, history[-1].to_owner_name) == ("Alice", "Bob")
    assert history[-1].actor_name == "Manager"


def test_reassignment_notifies_both_reps(db, floor):
    alice, bob = floor.rep("alice"), floor.rep("bob")
    pool = floor.pool(members=[alice])
    floor.leads(pool, 1)
    lead = allocation.claim_next_lead(db, alice).lead
    leads.assign_leads(db, floor.manager, [lead.id], bob.id)
    assert "reassigned to Bob" in notifications.list_notifications(db, alice)[0].message
    assert "assigned to you" in notifications.list_notifications(db, bob)[0].message
    assert notifications.unread_count(db, bob) == 1
    notifications.mark_all_read(db, bob)
    assert notifications.unread_count(db, bob) == 0


def test_a_call_back_travels_with_the_lead(db, floor, clock):
    alice, bob = floor.rep("alice"), floor.rep("bob")
    pool = floor.pool(members=[alice])
    floor.leads(pool, 1)
    lead = allocation.claim_next_lead(db, alice).lead
    when = clock.now + timedelta(days=1)
    actions.schedule_call_back(db, alice, lead.id, when)
    leads.assign_leads(db, floor.manager, [lead.id], bob.id)
    [row] = leads.my_call_backs(db, bob)
    assert (row.id, row.call_back_at) == (lead.id, when)


def test_bulk_operations_skip_what_they_cannot_do_and_say_why(db, floor):
    alice = floor.rep("alice")
    pool = floor.pool(members=[alice])
    ids = floor.leads(pool, 3)
    leads.remove_leads(db, floor.manager, [ids[0]])
    result = leads.assign_leads(db, floor.manager, ids + [999_999], alice.id)
    assert set(result.done) == set(ids[1:])
    assert result.skipped == {ids[0]: "dead", 999_999: "no longer exists"}
    result = leads.return_to_pool(db, floor.manager, ids)
    assert set(result.done) == set(ids[1:])
    assert leads.my_current_leads(db, alice) == []


def test_return_to_pool_and_remove(db, floor):
    alice = floor.rep("alice")
    pool = floor.pool(members=[alice])
    ids = floor.leads(pool, 2)
    leads.assign_leads(db, floor.manager, ids, alice.id)
    leads.return_to_pool(db, floor.manager, [ids[0]])
    leads.remove_leads(db, floor.manager, [ids[1]])
    rows = {r.id: r for r in leads.lead_rows_by_id(db, floor.manager, ids)}
    assert (rows[ids[0]].status, rows[ids[0]].owner_id) == ("pool", None)
    assert rows[ids[1]].status == "dead" and "dead" in rows[ids[1]].tags

    rules.update_rules(db, floor.admin, {"dead_policy": "delete"})
    with db.read() as session:
        history = session.scalars(select(LeadEvent.kind).where(LeadEvent.lead_id == ids[0])).all()
    leads.remove_leads(db, floor.manager, [ids[0]])
    assert [r.id for r in leads.lead_rows_by_id(db, floor.manager, ids)] == [ids[1]]
    with db.read() as session:
        unnamed = session.scalars(select(LeadEvent.kind).where(LeadEvent.lead_id.is_(None))).all()
        naming = session.scalars(select(LeadEvent.id).where(LeadEvent.lead_id == ids[0])).all()
    assert naming == []  # the history stays, no longer naming the deleted lead
    assert sorted(unnamed) == sorted([*history, "deleted"])


def test_reps_cannot_use_manager_operations(db, floor):
    alice = floor.rep("alice")
    pool = floor.pool(members=[alice])
    ids = floor.leads(pool, 1)
    for call in (
        lambda: leads.assign_leads(db, alice, ids, alice.id),
        lambda: leads.return_to_pool(db, alice, ids),
        lambda: leads.remove_leads(db, alice, ids),
        lambda: lead_table.list_leads(db, alice),
    ):
        with pytest.raises(NotAllowedError, match="Only a manager or an admin"):
            call()


def test_list_leads_filters(db, floor, clock):
    alice, bob = floor.rep("alice"), floor.rep("bob")
    inbound = floor.pool("Inbound", members=[alice, bob])
    webinar = floor.pool("Webinar", members=[alice, bob])
    floor.leads(inbound, 4, source="Website")
    clock.advance(days=1)
    web = floor.leads(webinar, 3, source="Webinar", company="Contoso")
    leads.assign_leads(db, floor.manager, web[:2], bob.id)
    m = floor.manager

    def ids(**kw):
        page = lead_table.list_leads(db, m, LeadFilter(**kw), limit=100)
        assert page.total == len(page.rows)
        return {r.id for r in page.rows}

    assert ids(pool_id=webinar.id) == set(web)
    assert ids(owner_id=bob.id) == set(web[:2])
    assert len(ids(unassigned=True)) == 5
    assert ids(statuses=("current",)) == set(web[:2])
    assert ids(source="Webinar") == set(web)
    assert ids(created_from=clock.now - timedelta(hours=1)) == set(web)
    assert ids(assigned_from=clock.now - timedelta(hours=1)) == set(web[:2])
    assert ids(text="contoso") == set(web)
    assert ids(text="lead1 test") == {1}


def test_a_phone_number_is_found_however_it_is_typed(db, floor):
    alice = floor.rep("alice")
    pool = floor.pool("Inbound", members=[alice])
    (lead,) = floor.leads(pool, 1, phone="+1 555 938 8053")
    floor.leads(pool, 1, phone="+1 555 111 2222")

    def ids(text):
        return {r.id for r in lead_table.list_leads(db, floor.manager, LeadFilter(text=text)).rows}

    for typed in ("+1 555 938 8053", "5559388053", "555-938-8053", "(555) 938-8053", "9388053"):
        assert ids(typed) == {lead}, typed
    assert ids("555-938-0000") == set()
    allocation.claim_next_lead(db, alice)
    allocation.claim_next_lead(db, alice)  # a rep's own search works the same way
    assert [r.id for r in leads.my_current_leads(db, alice, search="555.938.8053")] == [lead]


def test_search_ignores_case_and_takes_wildcards_literally(db, floor):
    alice = floor.rep("alice")
    pool = floor.pool("Inbound", members=[alice])
    (smith,) = floor.leads(pool, 1, last_name="Smith", company="50% Off Ltd")
    (under,) = floor.leads(pool, 1, last_name="Doe", email="jane_doe@example.com")
    floor.leads(pool, 1, last_name="Other", company="500 Off", email="janeXdoe@example.com")

    def ids(text):
        return {r.id for r in lead_table.list_leads(db, floor.manager, LeadFilter(text=text)).rows}

    assert ids("SMITH") == ids("smith") == ids("mIt") == {smith}
    assert ids("50%") == {smith}  # not "50" followed by anything
    assert ids("jane_doe") == {under}  # the underscore is not "any one character"
    assert ids("JANE_DOE@EXAMPLE") == {under}


@pytest.mark.parametrize("sort", sorted(lead_table.SORT_KEYS))
def test_keyset_pages_cover_everything_once_in_order(db, floor, clock, sort):
    alice, bob = floor.rep("alice"), floor.rep("bob")
    pool_a = floor.pool("A", members=[alice, bob])
    pool_b = floor.pool("B", members=[alice, bob])
    for i in range(23):
        clock.advance(minutes=7)
        floor.leads(
            pool_a if i % 3 else pool_b, 1, score=i % 5, source=f"s{i % 4}", company=f"Co {i % 6}"
        )
    allocation.claim_next_lead(db, alice)
    allocation.claim_next_lead(db, bob)
    for descending in (True, False):
        seen, after = [], None
        while True:
            page = lead_table.list_leads(
                db, floor.manager, sort=sort, descending=descending, after=after, limit=5
            )
            assert page.total == 23
            seen += list(page.rows)
            after = page.next_cursor
            if after is None:
                break
        assert len(seen) == 23 and len({r.id for r in seen}) == 23


def test_unknown_sort_is_refused(db, floor):
    with pytest.raises(ValidationError, match="cannot be sorted by"):
        lead_table.list_leads(db, floor.manager, sort="password")


def test_add_lead_by_hand_validates(db, floor):
    pool = floor.pool()
    with pytest.raises(ValidationError, match="email address or a phone number"):
        leads.add_lead(db, floor.manager, pool.id, leads.NewLead(first_name="Nobody"))
    with pytest.raises(ValidationError, match='invalid email "not-an-email"'):
        leads.add_lead(db, floor.manager, pool.id, leads.NewLead(email="not-an-email"))
    row = leads.add_lead(
        db, floor.manager, pool.id, leads.NewLead(first_name="Ana", email=" Ana@Example.com ")
    )
    assert (row.status, row.email, row.pool_name) == ("pool", "Ana@Example.com", "Inbound")
