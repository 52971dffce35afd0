"""Next (claim_next_lead) and push routing, on both engines."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from salesdesk.models import Routing
from salesdesk.services import actions, allocation, leads, notifications, rules, team
from salesdesk.services.errors import CapReachedError, NotAllowedError, OneAtATimeError


def test_next_gives_the_best_lead_and_stamps_it(db, floor, clock):
    alice = floor.rep("alice")
    pool = floor.pool(members=[alice])
    floor.leads(pool, 1, score=10)
    best = floor.leads(pool, 1, score=90)[0]
    floor.leads(pool, 1, score=50)

    result = allocation.claim_next_lead(db, alice)

    assert result.lead is not None
    assert result.lead.id == best
    assert result.lead.status == "current"
    assert result.lead.owner_id == alice.id
    assert result.lead.owner_name == "Alice"
    assert result.lead.pool_name == "Inbound"
    assert result.lead.assigned_at == clock.now
    history = leads.get_lead(db, alice, best).history
    assert [e.kind for e in history] == ["created", "claimed"]
    assert history[-1].to_owner_name == "Alice"


def test_priority_beats_score_and_order_rule_picks_newest_or_oldest(db, floor, clock):
    alice = floor.rep("alice", cap=10)
    pool = floor.pool(members=[alice])
    old = floor.leads(pool, 1)[0]
    clock.advance(minutes=5)
    new = floor.leads(pool, 1)[0]
    clock.advance(minutes=5)
    urgent = floor.leads(pool, 1, priority=1, score=0)[0]

    assert allocation.claim_next_lead(db, alice).lead.id == urgent
    assert allocation.claim_next_lead(db, alice).lead.id == new  # newest first by default

    rules.update_rules(db, floor.admin, {"pool_order": "oldest_first"})
    floor.leads(pool, 1)
    assert allocation.claim_next_lead(db, alice).lead.id == old


def _oldest_first_floor(floor, clock, alice, pools, groups, deal=True):
    """Leads of (priority, score), a minute apart, dealt across ``pools`` pools
    (else all in the first: a rep in two pools takes the step-by-step path)."""
    rules.update_rules(floor.db, floor.admin, {"pool_order": "oldest_first"})
    dealt = [floor.pool(f"Pool {n}", members=[alice]) for n in range(pools)]
    ids = {}
    for n, (name, priority, score) in enumerate(groups):
        clock.advance(minutes=1)
        pool = dealt[n % pools if deal else 0]
        ids[name] = floor.leads(pool, 1, priority=priority, score=score)[0]
    return ids


@pytest.mark.parametrize("pools", [1, 2], ids=["one pool", "two pools"])
def test_oldest_first_takes_the_best_group_then_its_oldest_lead(db, floor, clock, pools):
    """One claim index serves both orders: oldest first finds the best (priority,
    score) among the leads this rep may take, then that group's oldest lead."""
    alice = floor.rep("alice", cap=20)
    groups = [("a", 0, 50), ("b", 1, 10), ("c", 0, 90), ("d", 1, 10), ("e", 0, 90), ("f", 1, 5)]
    ids = _oldest_first_floor(floor, clock, alice, pools, groups)

    def next_name():
        lead = allocation.claim_next_lead(db, alice).lead
        return next(name for name, lead_id in ids.items() if lead_id == lead.id)

    assert next_name() == "b"
    leads.return_to_pool(db, floor.manager, [ids["b"]])  # b now cools down for alice
    assert next_name() == "d"  # b's group, without b
    assert next_name() == "f"
    leads.return_to_pool(db, floor.manager, [ids["f"]])  # f's group: only f, cooling
    assert [next_name() for _ in range(3)] == ["c", "e", "a"]
    last = allocation.claim_next_lead(db, alice)  # b and f are cooling down
    assert last.lead is None and last.message == allocation.EMPTY_POOL


def test_oldest_first_still_refuses_and_says_why(db, floor, clock):
    rules.update_rules(db, floor.admin, {"pool_order": "oldest_first"})
    alice = floor.rep("alice", cap=1)
    assert allocation.claim_next_lead(db, alice).message == allocation.NO_POOLS
    pool = floor.pool(members=[alice])
    assert allocation.claim_next_lead(db, alice).message == allocation.EMPTY_POOL
    floor.leads(pool, 2)
    assert allocation.claim_next_lead(db, alice).lead is not None
    with pytest.raises(CapReachedError):
        allocation.claim_next_lead(db, alice)


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)  # SQLite has no row locks
@pytest.mark.parametrize("pools", [1, 2], ids=["one pool", "two pools"])
def test_oldest_first_moves_to_the_next_group_when_others_are_taking_the_best(
    db, floor, clock, pools
):
    """Every lead of the best group is being claimed by other reps (locked, so
    SKIP LOCKED passes them by): Next gives the next group's oldest lead, not
    "no leads are waiting"."""
    alice = floor.rep("alice")
    groups = [("top1", 3, 0), ("mid", 2, 5), ("low1", 2, 0), ("top2", 3, 0), ("low2", 2, 0)]
    ids = _oldest_first_floor(floor, clock, alice, pools, groups, deal=False)
    taken = [ids["top1"], ids["top2"], ids["mid"]]  # all of the two best groups
    with db.engine.connect() as other, other.begin():
        other.execute(text("SELECT id FROM leads WHERE id = ANY(:ids) FOR UPDATE"), {"ids": taken})
        assert allocation.claim_next_lead(db, alice).lead.id == ids["low1"]
    assert allocation.claim_next_lead(db, alice).lead.id == ids["top1"]


def test_empty_pool_says_so_without_an_error(db, floor):
    alice = floor.rep("alice")
    floor.pool(members=[alice])
    result = allocation.claim_next_lead(db, alice)
    assert result.lead is None
    assert result.message == allocation.EMPTY_POOL


def test_rep_without_pools_is_told_to_ask_a_manager(db, floor):
    alice = floor.rep("alice")
    result = allocation.claim_next_lead(db, alice)
    assert result.lead is None
    assert "not a member of any active pool" in result.message


def test_cap_refuses_with_a_plain_message(db, floor):
    alice = floor.rep("alice", cap=2)
    pool = floor.pool(members=[alice])
    floor.leads(pool, 5)
    allocation.claim_next_lead(db, alice)
    allocation.claim_next_lead(db, alice)
    with pytest.raises(CapReachedError, match="You hold 2 current leads — the most allowed is 2"):
        allocation.claim_next_lead(db, alice)


def test_floor_cap_applies_when_the_rep_has_none(db, floor):
    alice = floor.rep("alice")
    pool = floor.pool(members=[alice])
    floor.leads(pool, 3)
    rules.update_rules(db, floor.admin, {"cap": 1})
    allocation.claim_next_lead(db, alice)
    with pytest.raises(CapReachedError):
        allocation.claim_next_lead(db, alice)


def test_one_at_a_time_needs_the_current_lead_actioned(db, floor, clock):
    alice = floor.rep("alice")
    pool = floor.pool(members=[alice])
    floor.leads(pool, 3)
    rules.update_rules(db, floor.admin, {"one_at_a_time": True})
    first = allocation.claim_next_lead(db, alice).lead
    with pytest.raises(OneAtATimeError, match="Finish your current lead first"):
        allocation.claim_next_lead(db, alice)
    clock.advance(minutes=1)
    actions.confirm_email(db, alice, first.id)  # actioned, though it stays Current
    assert allocation.claim_next_lead(db, alice).lead is not None


def test_one_at_a_time_counts_a_due_call_back_as_waiting(db, floor, clock):
    alice = floor.rep("alice")
    pool = floor.pool(members=[alice])
    floor.leads(pool, 3)
    rules.update_rules(db, floor.admin, {"one_at_a_time": True})
    lead = allocation.claim_next_lead(db, alice).lead
    actions.schedule_call_back(db, alice, lead.id, clock.now + timedelta(hours=2))
    clock.advance(hours=3)

    back = allocation.claim_next_lead(db, alice)  # the due call back, back in Current
    assert back.from_callback and back.lead.id == lead.id
    with pytest.raises(OneAtATimeError, match="Finish your current lead first"):
        allocation.claim_next_lead(db, alice)
    clock.advance(minutes=1)
    actions.confirm_email(db, alice, lead.id)
    assert allocation.claim_next_lead(db, alice).lead.id != lead.id


@pytest.mark.parametrize("pools", [1, 2], ids=["one pool", "two pools"])
def test_a_retried_next_gives_the_first_lead_again_not_a_second(db, floor, pools):
    alice = floor.rep("alice")
    for n in range(pools):
        floor.leads(floor.pool(f"Pool {n}", members=[alice]), 3)

    first = allocation.claim_next_lead(db, alice, request_id="click-1")
    again = allocation.claim_next_lead(db, alice, request_id="click-1")

    assert again.lead is not None and again.lead.id == first.lead.id
    assert [r.id for r in leads.my_current_leads(db, alice)] == [first.lead.id]
    history = leads.get_lead(db, alice, first.lead.id).history
    assert [e.kind for e in history] == ["created", "claimed"]
    assert allocation.claim_next_lead(db, alice, request_id="click-2").lead.id != first.lead.id


def test_a_retried_next_after_the_lead_moved_on_gives_nothing_new(db, floor):
    alice = floor.rep("alice")
    pool = floor.pool(members=[alice])
    floor.leads(pool, 3)
    first = allocation.claim_next_lead(db, alice, request_id="click-1").lead
    leads.return_to_pool(db, floor.manager, [first.id])

    again = allocation.claim_next_lead(db, alice, request_id="click-1")

    assert again.lead is None
    assert again.message == allocation.ALREADY_DONE
    assert leads.my_current_leads(db, alice) == []


def test_a_retried_next_that_reopened_a_call_back_says_so_again(db, floor, clock):
    alice = floor.rep("alice")
    pool = floor.pool(members=[alice])
    floor.leads(pool, 3)
    lead = allocation.claim_next_lead(db, alice).lead
    actions.schedule_call_back(db, alice, lead.id, clock.now + timedelta(hours=1))
    clock.advance(hours=2)

    first = allocation.claim_next_lead(db, alice, request_id="click-9")
    again = allocation.claim_next_lead(db, alice, request_id="click-9")

    assert first.from_callback and again.from_callback
    assert again.lead.id == lead.id
    assert len(leads.my_current_leads(db, alice)) == 1


def test_inactive_pool_and_manual_pool_give_nothing(db, floor):
    alice = floor.rep("alice")
    paused = floor.pool("Paused", members=[alice])
    manual = floor.pool("Hand-picked", routing=Routing.MANUAL.value, members=[alice])
    floor.leads(paused, 2)
    floor.leads(manual, 2)
    team.update_pool(db, floor.admin, paused.id, active=False)
    result = allocation.claim_next_lead(db, alice)
    assert result.lead is None


def test_deactivated_rep_is_refused(db, floor):
    alice = floor.rep("alice")
    pool = floor.pool(members=[alice])
    floor.leads(pool, 2)
    team.deactivate_user(db, floor.admin, alice.id)
    with pytest.raises(NotAllowedError, match="deactivated"):
        allocation.claim_next_lead(db, alice)


def test_due_call_back_comes_before_pool_leads(db, floor, clock):
    alice = floor.rep("alice")
    pool = floor.pool(members=[alice])
    floor.leads(pool, 3)
    lead = allocation.claim_next_lead(db, alice).lead
    actions.schedule_call_back(db, alice, lead.id, clock.now.replace(hour=15))
    assert allocation.claim_next_lead(db, alice).lead.id != lead.id  # not due yet

    clock.advance(hours=7)
    result = allocation.claim_next_lead(db, alice)
    assert result.from_callback
    assert result.lead.id == lead.id
    assert result.lead.status == "current"


def test_a_due_call_back_waits_while_the_rep_is_at_the_cap(db, floor, clock):
    """The cap counts Current leads; a due call back would be one more, so it waits
    (and is not swapped for a pool lead either) until the rep is under the cap."""
    alice = floor.rep("alice", cap=2)
    pool = floor.pool(members=[alice])
    floor.leads(pool, 5)
    later = allocation.claim_next_lead(db, alice).lead
    actions.schedule_call_back(db, alice, later.id, clock.now + timedelta(hours=1))
    allocation.claim_next_lead(db, alice)
    held = allocation.claim_next_lead(db, alice).lead
    clock.advance(hours=2)

    with pytest.raises(CapReachedError, match="You hold 2 current leads"):
        allocation.claim_next_lead(db, alice)
    actions.mark_dead(db, alice, held.id)
    result = allocation.claim_next_lead(db, alice)
    assert result.from_callback and result.lead.id == later.id


def test_a_lead_that_left_a_rep_is_not_handed_straight_back(db, floor, clock):
    alice = floor.rep("alice")
    bob = floor.rep("bob")
    pool = floor.pool(members=[alice, bob])
    only = floor.leads(pool, 1)[0]
    assert allocation.claim_next_lead(db, alice).lead.id == only
    leads.return_to_pool(db, floor.manager, [only])

    assert allocation.claim_next_lead(db, alice).lead is None  # cooling down for alice
    clock.advance(hours=25)
    assert allocation.claim_next_lead(db, alice).lead.id == only


def test_a_rep_in_two_pools_gets_the_best_head_of_either(db, floor):
    alice = floor.rep("alice")
    a = floor.pool("A", members=[alice])
    b = floor.pool("B", members=[alice])
    floor.leads(a, 2, score=10)
    best = floor.leads(b, 1, score=99)[0]
    assert allocation.claim_next_lead(db, alice).lead.id == best
    ids = {allocation.claim_next_lead(db, alice).lead.id for _ in range(2)}
    assert len(ids) == 2
    assert allocation.claim_next_lead(db, alice).lead is None


def test_round_robin_pushes_in_turn_and_skips_full_members(db, floor):
    alice, bob, carol = floor.rep("alice"), floor.rep("bob", cap=1), floor.rep("carol")
    pool = floor.pool("Webinar", Routing.ROUND_ROBIN.value, members=[alice, bob, carol])
    ids = floor.leads(pool, 5)
    owners = [r.owner_name for r in leads.lead_rows_by_id(db, floor.manager, ids)]
    assert owners == ["Alice", "Bob", "Carol", "Alice", "Carol"]
    # Each rep is told, in-app, of each lead pushed to them.
    told = [n for n in notifications.list_notifications(db, bob) if n.kind == "routed"]
    assert [(n.lead_id, n.read) for n in told] == [(ids[1], False)]
    assert told[0].message.endswith("was routed to you from Webinar")
    assert notifications.unread_count(db, alice) == 2


def test_weighted_shares_are_exact_over_time(db, floor):
    reps = [floor.rep(n, cap=1000) for n in ("alice", "bob", "carol")]
    pool = floor.pool(
        "Partners", Routing.WEIGHTED.value, members=dict(zip(reps, [5, 3, 2], strict=True))
    )
    ids = []
    for _ in range(10):  # arrivals in separate batches keep the sequence going
        ids += floor.leads(pool, 10)
    owners = [r.owner_id for r in leads.lead_rows_by_id(db, floor.manager, ids)]
    assert [owners.count(r.id) for r in reps] == [50, 30, 20]
    # Exact in every window of 10, not only on average.
    for start in range(0, 100, 10):
        window = owners[start : start + 10]
        assert [window.count(r.id) for r in reps] == [5, 3, 2]


def test_zero_share_member_gets_nothing_pushed(db, floor):
    alice, bob = floor.rep("alice"), floor.rep("bob")
    pool = floor.pool("Partners", Routing.WEIGHTED.value, members={alice: 1, bob: 0})
    ids = floor.leads(pool, 4)
    assert {r.owner_id for r in leads.lead_rows_by_id(db, floor.manager, ids)} == {alice.id}


def test_leads_wait_when_every_member_is_full(db, floor):
    alice = floor.rep("alice", cap=1)
    pool = floor.pool("Webinar", Routing.ROUND_ROBIN.value, members=[alice])
    ids = floor.leads(pool, 3)
    statuses = [r.status for r in leads.lead_rows_by_id(db, floor.manager, ids)]
    assert statuses.count("current") == 1
    assert statuses.count("pool") == 2
