"""Push routing's history: what the pool's rule did is not credited to a person.

A manager who imports leads into a round-robin or weighted pool does not
choose the reps; the history must not say they did (on both engines).
"""

from __future__ import annotations

from salesdesk.models import Routing
from salesdesk.services import importing, jobs, leads, team
from salesdesk.services.records import EventRow


def _events(db, actor, lead_id: int, kind: str) -> list[EventRow]:
    return [e for e in leads.get_lead(db, actor, lead_id).history if e.kind == kind]


def test_leads_imported_into_a_round_robin_pool_are_routed_by_the_pool_not_the_importer(db, floor):
    alice, bob = floor.rep("alice"), floor.rep("bob")
    floor.pool("Webinar", routing=Routing.ROUND_ROBIN.value, members=[alice, bob])
    data = b"Email\r\na@example.com\r\nb@example.com\r\n"
    assert importing.import_rows(db, floor.manager, data, "Webinar").imported == 2

    owners = set()
    for row in leads.my_current_leads(db, alice) + leads.my_current_leads(db, bob):
        (created,) = _events(db, floor.manager, row.id, "created")
        assert created.actor_name == floor.manager.display_name  # the manager added it
        (routed,) = _events(db, floor.manager, row.id, "routed")
        assert routed.actor_name is None  # ...but the pool's rule chose the rep
        assert routed.details["routing"] == Routing.ROUND_ROBIN.value
        assert routed.details["triggered_by"] == floor.manager.id
        owners.add(routed.to_owner_name)
    assert owners == {"Alice", "Bob"}


def test_the_import_says_how_many_leads_went_straight_to_the_members(db, floor):
    alice, bob = floor.rep("alice", cap=1), floor.rep("bob", cap=1)
    floor.pool("Webinar", routing=Routing.ROUND_ROBIN.value, members=[alice, bob])
    floor.pool("Inbound")
    data = b"Email\r\na@example.com\r\nb@example.com\r\nc@example.com\r\n"
    summary = importing.import_rows(db, floor.manager, data, "Webinar")
    assert (summary.imported, summary.routed) == (3, 2)  # each rep's cap is 1: one waits
    again = importing.import_rows(db, floor.manager, b"Email\r\nd@example.com\r\n", "Inbound")
    assert (again.imported, again.routed) == (1, 0)  # a Next pool hands out nothing itself


def test_a_lead_added_to_a_weighted_pool_names_its_routing(db, floor):
    alice = floor.rep("alice")
    pool = floor.pool("Partners", routing=Routing.WEIGHTED.value, members={alice: 3})
    new = leads.NewLead(first_name="Ann", last_name="Lee", email="ann@example.com")
    row = leads.add_lead(db, floor.manager, pool.id, new)

    (routed,) = _events(db, floor.manager, row.id, "routed")
    assert routed.actor_name is None
    assert routed.to_owner_name == "Alice"
    assert routed.details["routing"] == Routing.WEIGHTED.value


def test_routing_by_the_clock_job_has_no_trigger(db, floor):
    alice = floor.rep("alice", cap=1)
    pool = floor.pool("Webinar", routing=Routing.ROUND_ROBIN.value, members=[alice])
    first, second = floor.leads(pool, 2)  # alice is full after the first
    team.update_user(db, floor.admin, alice.id, cap=2)

    assert jobs.run_due_jobs(db).routed == 1
    (routed,) = _events(db, floor.manager, second, "routed")
    assert routed.actor_name is None and "triggered_by" not in routed.details
    assert routed.to_owner_name == "Alice"
