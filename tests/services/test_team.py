"""People and pools."""

from __future__ import annotations

import pytest

from salesdesk.models import Routing
from salesdesk.services import allocation, auth, leads, team
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
    assert leads.list_leads(db, floor.manager, leads.LeadFilter(unassigned=True)).total == 2
    assert team.deactivate_user(db, floor.admin, bob.id, leads_to=carol.id) == 2
    assert len(leads.my_current_leads(db, carol)) == 2
    with pytest.raises(ValidationError, match="yourself"):
        team.deactivate_user(db, floor.admin, floor.admin.id)


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
    assert leads.list_leads(db, floor.manager, leads.LeadFilter(pool_id=other.id)).total == 3
    assert [p.name for p in team.list_pools(db, floor.admin)] == ["Other"]


def test_shares_are_validated(db, floor):
    alice = floor.rep("alice")
    pool = floor.pool("Partners", Routing.WEIGHTED.value)
    with pytest.raises(ValidationError, match="share above zero"):
        team.set_members(db, floor.admin, pool.id, {alice.id: 0})
    with pytest.raises(ValidationError, match="whole number from 0 to 1000"):
        team.set_members(db, floor.admin, pool.id, {alice.id: -2})
    row = team.set_members(db, floor.admin, pool.id, {alice.id: 3})
    assert [(m.display_name, m.weight) for m in row.members] == [("Alice", 3)]


def test_a_demoted_manager_loses_manager_powers_on_the_next_click(db, floor):
    manager = floor.manager
    assert leads.list_leads(db, manager).total == 0
    team.update_user(db, floor.admin, manager.id, role="rep")
    with pytest.raises(NotAllowedError):
        leads.list_leads(db, manager)  # the Actor the client holds still says "manager"
