"""People and pools."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from salesdesk.models import Routing, Rule
from salesdesk.services import actions, allocation, auth, lead_table, leads, rules, team
from salesdesk.services.errors import AuthenticationError, NotAllowedError, ValidationError
from tests.conftest import PASSWORD


def test_login_checks_the_password_and_the_account(db, floor):
    alice = floor.rep("alice")
    assert auth.login(db, "alice", PASSWORD) == alice
    with pytest.raises(AuthenticationError, match="Wrong user name or password"):
        auth.login(db, "alice", "wrong-password")
    with pytest.raises(AuthenticationError, match="Wrong user name or password"):
        auth.login(db, "nobody", PASSWORD)
    team.deactivate_user(db, floor.admin, alice.id)
    with pytest.raises(AuthenticationError, match="deactivated"):
        auth.login(db, "alice", PASSWORD)


def test_passwords_are_stored_hashed_with_scrypt():
    from tests.conftest import _real_hash

    stored = _real_hash("correct horse")
    assert stored.startswith("scrypt$") and "correct horse" not in stored
    assert auth.verify_password("correct horse", stored)
    assert not auth.verify_password("correct horsE", stored)
    assert _real_hash("correct horse") != stored  # salted


def test_new_users_are_validated(db, floor):
    with pytest.raises(ValidationError, match="user name"):
        team.add_user(db, floor.admin, "Bad Name!", "X", "password1")
    with pytest.raises(ValidationError, match="at least 8 characters"):
        team.add_user(db, floor.admin, "zed", "Zed", "short")
    with pytest.raises(ValidationError, match="rep, manager or admin"):
        team.add_user(db, floor.admin, "zed", "Zed", "password1", role="boss")
    floor.rep("zed")
    with pytest.raises(ValidationError, match="is taken"):
        team.add_user(db, floor.admin, "zed", "Zed", "password1")
    with pytest.raises(NotAllowedError):
        team.add_user(db, floor.manager, "yan", "Yan", "password1")


def test_deactivating_a_rep_returns_their_leads_or_hands_them_on(db, floor):
    alice, bob, carol = floor.rep("alice"), floor.rep("bob"), floor.rep("carol")
    pool = floor.pool(members=[alice, bob])
    floor.leads(pool, 4)
    for _ in range(2):
        allocation.claim_next_lead(db, alice)
        allocation.claim_next_lead(db, bob)
    assert team.deactivate_user(db, floor.admin, alice.id) == 2
    assert (
        lead_table.list_leads(db, floor.manager, lead_table.LeadFilter(unassigned=True)).total == 2
    )
    assert team.deactivate_user(db, floor.admin, bob.id, leads_to=carol.id) == 2
    assert len(leads.my_current_leads(db, carol)) == 2
    with pytest.raises(ValidationError, match="yourself"):
        team.deactivate_user(db, floor.admin, floor.admin.id)


def test_a_call_back_handed_on_with_a_deactivated_rep_keeps_its_date(db, floor, clock):
    bob, carol = floor.rep("bob"), floor.rep("carol")
    pool = floor.pool(members=[bob])
    floor.leads(pool, 2)
    booked, held = (allocation.claim_next_lead(db, bob).lead for _ in range(2))
    when = clock.now + timedelta(days=2, hours=2)
    actions.schedule_call_back(db, bob, booked.id, when)
    assert team.deactivate_user(db, floor.admin, bob.id, leads_to=carol.id) == 2
    (call_back,) = leads.my_call_backs(db, carol)
    assert (call_back.id, call_back.call_back_at) == (booked.id, when)  # the customer's time
    assert [r.id for r in leads.my_current_leads(db, carol)] == [held.id]


def test_pools_are_validated_and_deleting_says_where_leads_go(db, floor):
    pool = floor.pool("Inbound")
    with pytest.raises(ValidationError, match="already a pool called"):
        team.add_pool(db, floor.admin, "inbound")
    with pytest.raises(ValidationError, match="Routing must be"):
        team.add_pool(db, floor.admin, "Other", routing="telepathy")
    floor.leads(pool, 3)
    other = floor.pool("Other")
    with pytest.raises(ValidationError, match="still has 3 leads"):
        team.delete_pool(db, floor.admin, pool.id)
    assert team.delete_pool(db, floor.admin, pool.id, move_to=other.id) == 3
    assert (
        lead_table.list_leads(db, floor.manager, lead_table.LeadFilter(pool_id=other.id)).total == 3
    )
    assert [p.name for p in team.list_pools(db, floor.admin)] == ["Other"]


def test_a_follow_up_the_idle_limit_would_always_beat_is_refused_naming_both(db, floor):
    """With the default idle limit of 3 days a lead is back in the pool before a
    follow-up of 3 or more days could remind anyone: such a follow-up is refused."""
    pool = floor.pool("Inbound")
    with pytest.raises(ValidationError) as refused:
        team.update_pool(db, floor.admin, pool.id, follow_up_days=4)
    assert refused.value.message == (
        "Follow-up after 4 days can never happen: leads go back to the pool after 3 days "
        "without action. Choose fewer than 3 days, or allow more days without action in Rules."
    )
    assert refused.value.field == "follow_up_days"
    with pytest.raises(ValidationError, match="after 3 days can never happen"):
        team.update_pool(db, floor.admin, pool.id, follow_up_days=3)
    with pytest.raises(ValidationError, match="can never happen") as on_add:
        team.add_pool(db, floor.admin, "Webinar", follow_up_days=5)
    assert on_add.value.field == "follow_up_days"
    with pytest.raises(ValidationError, match="1 to 365 days, or off") as out_of_range:
        team.add_pool(db, floor.admin, "Webinar", follow_up_days=0)
    assert out_of_range.value.field == "follow_up_days"
    assert [p.name for p in team.list_pools(db, floor.admin)] == ["Inbound"]
    assert team.find_pool(db, "Inbound").follow_up_days is None

    assert team.update_pool(db, floor.admin, pool.id, follow_up_days=2).follow_up_days == 2
    assert team.add_pool(db, floor.admin, "Webinar", follow_up_days=2).follow_up_days == 2


def test_a_follow_up_is_checked_against_the_sooner_of_idle_limit_and_keep_period(db, floor):
    pool = floor.pool("Inbound")
    rules.update_rules(db, floor.admin, {"idle_days": 0, "keep_days": 5})
    with pytest.raises(ValidationError) as refused:
        team.update_pool(db, floor.admin, pool.id, follow_up_days=5)
    assert refused.value.message == (
        "Follow-up after 5 days can never happen: a rep keeps a lead for at most 5 days "
        "(the keep period). Choose fewer than 5 days, or lengthen the keep period in Rules."
    )
    rules.update_rules(db, floor.admin, {"idle_days": 1})
    with pytest.raises(ValidationError, match="after 1 day without action. Turn it off"):
        team.update_pool(db, floor.admin, pool.id, follow_up_days=1)
    rules.update_rules(db, floor.admin, {"idle_days": 0, "keep_days": 0})  # both off
    assert team.update_pool(db, floor.admin, pool.id, follow_up_days=365).follow_up_days == 365
    assert team.update_pool(db, floor.admin, pool.id, follow_up_days=None).follow_up_days is None


def test_shares_are_validated(db, floor):
    alice = floor.rep("alice")
    pool = floor.pool("Partners", Routing.WEIGHTED.value)
    with pytest.raises(ValidationError, match="share above zero"):
        team.set_members(db, floor.admin, pool.id, {alice.id: 0})
    with pytest.raises(ValidationError, match="whole number from 0 to 1000"):
        team.set_members(db, floor.admin, pool.id, {alice.id: -2})
    row = team.set_members(db, floor.admin, pool.id, {alice.id: 3})
    assert [(m.display_name, m.weight) for m in row.members] == [("Alice", 3)]


def test_a_follow_up_saved_during_a_rules_save_waits_and_is_checked_against_it(db, floor):
    """Two admins at once: one lowering the idle limit, one lengthening a follow-up.
    Each alone is fine; together the follow-up could never fire. The follow-up save
    waits for the rules save and is then refused against the new idle limit (on
    PostgreSQL it would otherwise read the old limit and both would be saved)."""
    pool = floor.pool("Inbound")
    rules.update_rules(db, floor.admin, {"idle_days": 5})
    outcome: list[object] = []

    def save_follow_up() -> None:
        try:
            outcome.append(team.update_pool(db, floor.admin, pool.id, follow_up_days=3))
        except ValidationError as exc:
            outcome.append(exc)

    with db.write() as session:  # the other admin's rules save, half done
        rules.lock_settings(session)
        session.get(Rule, "idle_days").value = 2
        session.flush()
        other = threading.Thread(target=save_follow_up)
        other.start()
        other.join(0.5)
        assert other.is_alive() and not outcome  # waiting, not saved on the old limit
    other.join(10)
    assert len(outcome) == 1 and isinstance(outcome[0], ValidationError)
    assert "after 3 days can never happen" in outcome[0].message
    assert team.find_pool(db, "Inbound").follow_up_days is None


def test_a_demoted_manager_loses_manager_powers_on_the_next_click(db, floor):
    manager = floor.manager
    assert lead_table.list_leads(db, manager).total == 0
    team.update_user(db, floor.admin, manager.id, role="rep")
    with pytest.raises(NotAllowedError):
        lead_table.list_leads(db, manager)  # the Actor the client holds still says "manager"
