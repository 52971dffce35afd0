"""Team figures for the manager's view — on both engines."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from salesdesk.models import Lead, Routing
from salesdesk.services import actions, allocation, leads, stats, team
from salesdesk.services.errors import NotAllowedError, ValidationError

NEW_YORK = ZoneInfo("America/New_York")


def test_team_panel_counts_what_each_rep_holds_and_did_today(db, floor, clock):
    alice, bob, carol = floor.rep("alice"), floor.rep("bob"), floor.rep("carol")
    pool = floor.pool(members=[alice, bob, carol])
    floor.leads(pool, 6)
    first = allocation.claim_next_lead(db, alice).lead
    clock.advance(days=1)  # yesterday's work does not count as today's
    second = allocation.claim_next_lead(db, alice).lead
    third = allocation.claim_next_lead(db, alice).lead
    actions.log_contact(db, alice, second.id)
    actions.schedule_call_back(db, alice, third.id, clock.now + timedelta(days=2))
    actions.mark_dead(db, alice, first.id)
    given = floor.leads(pool, 1)
    leads.assign_leads(db, floor.manager, given, bob.id)
    clock.advance(minutes=30)

    panel = {r.display_name: r for r in stats.team_activity(db, floor.manager, tz=UTC)}

    assert list(panel) == ["Alice", "Bob", "Carol"]
    a, b, c = panel["Alice"], panel["Bob"], panel["Carol"]
    assert (a.current, a.call_backs, a.claimed_today, a.actions_today) == (1, 1, 2, 3)
    assert a.last_activity_at == clock.now - timedelta(minutes=30)
    assert not a.idle
    # Bob was given a lead by the manager but has done nothing himself.
    assert (b.current, b.claimed_today, b.actions_today, b.last_activity_at) == (1, 1, 0, None)
    assert b.idle and c.idle  # the floor is at work (Alice is), and they are not

    # An hour on with nobody doing anything (the shift is over): nobody is called idle.
    clock.advance(hours=1)
    assert not any(r.idle for r in stats.team_activity(db, floor.manager, tz=UTC))
    # Bob starts work: Alice, quiet for an hour and a half, and Carol are idle again.
    actions.log_contact(db, bob, given[0])
    panel = {r.display_name: r for r in stats.team_activity(db, floor.manager, tz=UTC)}
    assert panel["Alice"].idle and panel["Carol"].idle and not panel["Bob"].idle


def test_today_is_the_managers_local_day(db, floor, clock):
    alice = floor.rep("alice")
    pool = floor.pool(members=[alice])
    floor.leads(pool, 2)
    # 2026-03-02 04:30 UTC is 23:30 on 1 March in New York: yesterday there.
    clock.now = datetime(2026, 3, 2, 4, 30)
    allocation.claim_next_lead(db, alice)
    clock.now = datetime(2026, 3, 2, 9, 0)
    allocation.claim_next_lead(db, alice)

    [utc] = stats.team_activity(db, floor.manager, tz=UTC)
    [new_york] = stats.team_activity(db, floor.manager, tz=NEW_YORK)
    assert (utc.claimed_today, new_york.claimed_today) == (2, 1)


def test_local_days_follow_daylight_saving(clock):
    # New York moved its clocks forward on Sunday 8 March 2026: that day had 23 hours.
    days = stats.local_days(datetime(2026, 3, 9, 12, 0), 3, NEW_YORK)
    assert [d for d, _ in days] == [
        date(2026, 3, 7),
        date(2026, 3, 8),
        date(2026, 3, 9),
        date(2026, 3, 10),
    ]
    assert [s for _, s in days] == [
        datetime(2026, 3, 7, 5, 0),
        datetime(2026, 3, 8, 5, 0),
        datetime(2026, 3, 9, 4, 0),
        datetime(2026, 3, 10, 4, 0),
    ]
    with pytest.raises(ValidationError, match="from 1 to"):
        stats.local_days(datetime(2026, 3, 9), 0)


def test_leads_by_status_per_pool_and_a_pool_running_dry(db, floor):
    alice, bob = floor.rep("alice"), floor.rep("bob")
    busy = floor.pool("Inbound", members=[alice, bob])
    dry = floor.pool("Webinar", members=[alice, bob])
    floor.pool("Empty and unstaffed")
    floor.leads(busy, 6)
    floor.leads(dry, 3)
    for _ in range(2):
        allocation.claim_next_lead(db, alice)  # newest first: both from Webinar
    lead = allocation.claim_next_lead(db, alice).lead
    actions.mark_dead(db, alice, lead.id)

    rows = stats.pool_status_counts(db, floor.manager)

    assert [r.name for r in rows] == ["Empty and unstaffed", "Inbound", "Webinar"]
    unstaffed, inbound, webinar = rows
    assert inbound.counts == {"pool": 6, "current": 0, "callback": 0, "appointment": 0, "dead": 0}
    assert webinar.counts["current"] + webinar.counts["dead"] == 3
    assert (webinar.waiting, webinar.total, webinar.members) == (0, 3, 2)
    # Fewer than two waiting leads per member: dry. No members: nobody waits, not dry.
    assert (inbound.running_dry, webinar.running_dry, unstaffed.running_dry) == (
        False,
        True,
        False,
    )
    team.update_pool(db, floor.admin, dry.id, active=False)
    assert not stats.pool_status_counts(db, floor.manager)[2].running_dry


@pytest.mark.parametrize("routing", [Routing.ROUND_ROBIN.value, Routing.WEIGHTED.value])
def test_a_pushed_pool_never_runs_dry_for_lack_of_waiting_leads(db, floor, routing):
    # Routing hands each lead to a member as it arrives, so none ever waits in
    # the pool: that is the pool working, not a pool running out.
    alice, bob = floor.rep("alice"), floor.rep("bob")
    pushed = floor.pool("Partners", routing=routing, members={alice: 2, bob: 1})
    pulled = floor.pool("Webinar", members=[alice, bob])
    floor.leads(pushed, 3)
    floor.leads(pulled, 1)

    partners, webinar = stats.pool_status_counts(db, floor.manager)

    assert (partners.waiting, partners.counts["current"], partners.members) == (0, 3, 2)
    assert not partners.running_dry
    assert webinar.running_dry  # reps pull from it, and one lead is all that is left


def test_a_manual_pool_waits_for_the_manager_and_does_not_run_dry(db, floor):
    alice = floor.rep("alice")
    manual = floor.pool("Key accounts", routing=Routing.MANUAL.value, members=[alice])
    floor.leads(manual, 1)
    (row,) = stats.pool_status_counts(db, floor.manager)
    assert (row.waiting, row.running_dry) == (1, False)


def test_leads_without_a_pool_are_listed_last(db, floor):
    pool = floor.pool("Inbound")
    ids = floor.leads(pool, 2)
    with db.write() as session:  # what ON DELETE SET NULL leaves behind
        session.execute(update(Lead).where(Lead.id == ids[0]).values(pool_id=None))
    rows = stats.pool_status_counts(db, floor.manager)
    assert [(r.name, r.pool_id, r.waiting) for r in rows] == [
        ("Inbound", pool.id, 1),
        ("No pool", None, 1),
    ]


def test_claims_and_outcomes_per_rep_per_day(db, floor, clock):
    alice, bob = floor.rep("alice", cap=10), floor.rep("bob")
    pushed = floor.pool("Pushed", routing=Routing.ROUND_ROBIN.value, members=[bob])
    pool = floor.pool("Inbound", members=[alice])
    floor.leads(pool, 5)
    clock.now = datetime(2026, 3, 2, 10, 0)  # three days before "today"
    day1 = [allocation.claim_next_lead(db, alice).lead for _ in range(3)]
    actions.mark_dead(db, alice, day1[0].id)
    actions.schedule_call_back(db, alice, day1[1].id, clock.now + timedelta(days=10))
    clock.now = datetime(2026, 3, 4, 15, 0)
    actions.make_appointment(db, alice, day1[2].id)
    floor.leads(pushed, 2)  # routed to Bob the moment they arrive
    clock.now = datetime(2026, 3, 5, 9, 0)

    rows = stats.rep_activity_by_day(db, floor.manager, days=4, tz=UTC)

    assert [(r.day, r.display_name) for r in rows] == [
        (date(2026, 3, d), name) for d in (2, 3, 4, 5) for name in ("Alice", "Bob")
    ]
    by = {(r.day.day, r.display_name): r for r in rows}
    assert by[2, "Alice"].claims == 3
    assert by[2, "Alice"].outcomes == {
        "dead": 1,
        "call_back": 1,
        "email_confirmed": 0,
        "appointment": 0,
    }
    assert by[3, "Alice"].claims == 0 and not any(by[3, "Alice"].outcomes.values())
    assert by[4, "Alice"].outcomes["appointment"] == 1
    # Routed leads count for the rep who received them, not for whoever imported them.
    assert by[4, "Bob"].claims == 2
    assert sum(r.claims for r in rows if r.display_name == "Bob") == 2


def test_reps_cannot_read_team_figures(db, floor):
    alice = floor.rep("alice")
    for call in (stats.team_activity, stats.pool_status_counts, stats.rep_activity_by_day):
        with pytest.raises(NotAllowedError, match="Only a manager or an admin"):
            call(db, alice)


def test_lead_sources_are_listed_once_each_in_order(db, floor):
    pool = floor.pool("Inbound")
    for source in ("Webinar", "", "Referral", "Webinar", "Ads"):
        floor.leads(pool, 2, source=source)
    assert stats.lead_sources(db, floor.manager) == ["Ads", "Referral", "Webinar"]
    with pytest.raises(NotAllowedError):
        stats.lead_sources(db, floor.rep("alice"))
