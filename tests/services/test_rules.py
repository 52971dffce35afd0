"""Rules: safe defaults, plain refusals, and effect without a restart."""

from __future__ import annotations

import dataclasses

import pytest

from salesdesk.services import rules
from salesdesk.services.errors import NotAllowedError, ValidationError


def test_defaults_are_safe(db):
    r = rules.get_rules(db)
    assert (r.cap, r.keep_days, r.idle_days, r.dead_policy) == (25, 14, 3, "hide")
    assert r.one_at_a_time is False and r.admin_emails == ()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"cap": 0}, "Cap on current leads must be from 1 to 1000 (you entered 0)."),
        ({"cap": "lots"}, "Cap on current leads must be a whole number (you entered 'lots')."),
        ({"keep_days": -1}, "Keep period (days) must be from 0 to 365"),
        ({"dead_policy": "burn"}, "Dead-lead policy must be one of 'hide', 'delete'"),
        ({"admin_emails": "ops@example.com, nope"}, "Not an email address: nope"),
        ({"one_at_a_time": "yes"}, "One lead at a time must be on or off."),
        ({"pool_order": "random"}, "Order of the pool must be one of"),
        ({"warp_speed": 9}, "There is no rule called 'warp_speed'."),
    ],
)
def test_bad_values_are_refused_with_a_plain_message(db, floor, changes, message):
    with pytest.raises(ValidationError) as refused:
        rules.update_rules(db, floor.admin, changes)
    assert message in refused.value.message
    assert refused.value.field == next(iter(changes))
    assert rules.get_rules(db) == rules.Rules()  # nothing saved


def test_one_bad_value_saves_none_of_the_batch(db, floor):
    with pytest.raises(ValidationError):
        rules.update_rules(db, floor.admin, {"cap": 10, "idle_days": 1000})
    assert rules.get_rules(db).cap == 25


def test_saved_rules_are_read_fresh_by_every_client(db, floor):
    from salesdesk.db import Database

    other_client = Database(db.url.render_as_string(hide_password=False))
    try:
        saved = rules.update_rules(db, floor.admin, {"cap": 7, "admin_emails": "a@b.example"})
        assert saved.cap == 7
        assert rules.get_rules(other_client).cap == 7
        assert rules.get_rules(other_client).admin_emails == ("a@b.example",)
    finally:
        other_client.dispose()


def test_only_admins_change_rules(db, floor):
    with pytest.raises(NotAllowedError, match="Only an admin"):
        rules.update_rules(db, floor.manager, {"cap": 5})


def test_lowering_the_idle_limit_below_a_pools_follow_up_is_refused_naming_both(db, floor):
    """A pool reminds after 2 days; an idle limit of 2 would return its leads first."""
    from salesdesk.services import team

    rules.update_rules(db, floor.admin, {"idle_days": 10})
    inbound, webinar = floor.pool("Inbound"), floor.pool("Webinar")
    team.update_pool(db, floor.admin, inbound.id, follow_up_days=2)
    team.update_pool(db, floor.admin, webinar.id, follow_up_days=5)
    with pytest.raises(ValidationError) as refused:
        rules.update_rules(db, floor.admin, {"cap": 9, "idle_days": 4})
    assert refused.value.message == (
        "Leads would go back to the pool after 4 days without action, so the Webinar pool's "
        "follow-up after 5 days could never happen. Choose more than 5 days (or Never), or "
        "shorten that pool's follow-up in Pools first."
    )
    assert refused.value.field == "idle_days"
    assert (rules.get_rules(db).idle_days, rules.get_rules(db).cap) == (10, 25)  # none saved

    with pytest.raises(ValidationError, match="at most 5 days, so the Webinar") as keep:
        rules.update_rules(db, floor.admin, {"keep_days": 5})
    assert keep.value.field == "keep_days"
    assert rules.update_rules(db, floor.admin, {"idle_days": 6, "keep_days": 6}).idle_days == 6
    assert rules.update_rules(db, floor.admin, {"idle_days": 0}).idle_days == 0  # Never


def test_a_pool_set_before_the_check_does_not_block_other_rules(db, floor):
    """An old floor may hold a follow-up the idle limit beats: other rules still save,
    and only a change of the idle limit or keep period is held to it."""
    from salesdesk.models import Pool

    pool = floor.pool("Inbound")
    with db.write() as session:
        session.get(Pool, pool.id).follow_up_days = 7
    assert rules.update_rules(db, floor.admin, {"cap": 9, "company_name": "Acme"}).cap == 9
    with pytest.raises(ValidationError, match="after 7 days could never happen"):
        rules.update_rules(db, floor.admin, {"idle_days": 4})


def test_rule_help_is_data_so_a_packaged_build_without_source_shows_it(monkeypatch):
    import inspect

    def no_source(obj):
        raise OSError("a packaged build ships no source")

    monkeypatch.setattr(inspect, "getsource", no_source)
    shown = rules.rule_help()
    assert shown["idle_days"] == (
        "Days without any action (a call, a note, Call Back, Email Confirmed) before a lead "
        "returns to the pool (0 = never)."
    )
    assert "follow-up days: 'in_app' or 'email'" in shown["follow_up_reminder"]
    assert "dead_tag" not in shown  # a rule without help is left out, not shown empty
    assert set(shown) < {f.name for f in dataclasses.fields(rules.Rules)}
