"""The desk's snapshot and the live-view probe, on both engines."""

from __future__ import annotations

from datetime import timedelta

from salesdesk.services import actions, allocation, leads
from salesdesk.services.desk import changes_since, load_desk, ping


def test_load_desk_gives_both_lists_and_the_lead_in_one_snapshot(floor, db):
    alice = floor.rep("alice")
    pool = floor.pool(members=[alice])
    floor.leads(pool, 3, company="Fabrikam")
    a, b, c = sorted(allocation.claim_next_lead(db, alice).lead.id for _ in range(3))
    actions.schedule_call_back(db, alice, c, db.now() + timedelta(days=1))
    snap = load_desk(db, alice, lead_id=a)
    assert [r.id for r in snap.current] == [a, b]
    assert [r.id for r in snap.call_backs] == [c]
    assert snap.detail is not None and snap.detail.lead.id == a
    assert snap.marker > 0
    assert load_desk(db, alice, search="no such words").current == ()


def test_load_desk_never_shows_someone_elses_lead(floor, db):
    alice, bob = floor.rep("alice"), floor.rep("bob")
    pool = floor.pool(members=[alice, bob])
    floor.leads(pool, 1)
    lead = allocation.claim_next_lead(db, bob).lead
    assert load_desk(db, alice, lead_id=lead.id).detail is None


def test_changes_since_sees_only_what_touches_me(floor, db):
    alice, bob = floor.rep("alice"), floor.rep("bob")
    pool = floor.pool(members=[alice, bob])
    floor.leads(pool, 3)
    start = changes_since(db, alice, None)
    assert not start.mine_changed and not start.floor_changed

    allocation.claim_next_lead(db, bob)  # bob's business
    after_bob = changes_since(db, alice, start.marker, start.latest_note)
    assert after_bob.floor_changed and not after_bob.mine_changed

    lead = allocation.claim_next_lead(db, alice).lead
    quiet = changes_since(db, alice, after_bob.marker, after_bob.latest_note)
    assert quiet.mine_changed  # alice's own claim
    assert not changes_since(db, alice, quiet.marker, quiet.latest_note).floor_changed

    leads.assign_leads(db, floor.manager, [lead.id], bob.id)  # taken away from alice
    away = changes_since(db, alice, quiet.marker, quiet.latest_note)
    assert away.mine_changed and away.unread == 1  # "… was reassigned to Bob"
    assert changes_since(db, bob, quiet.marker, quiet.latest_note).unread == 1


def test_a_managers_note_on_my_lead_counts_as_mine(floor, db):
    alice = floor.rep("alice")
    pool = floor.pool(members=[alice])
    floor.leads(pool, 1)
    lead = allocation.claim_next_lead(db, alice).lead
    before = changes_since(db, alice, None)
    actions.add_note(db, floor.manager, lead.id, "Customer called the office.")
    after = changes_since(db, alice, before.marker, before.latest_note)
    # A note writes an event (its click's receipt, and a rep's latest activity for
    # the team view), and every new event counts as a floor change.
    assert after.mine_changed and after.floor_changed


def test_ping(db):
    ping(db)
