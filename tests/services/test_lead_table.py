"""The manager's table: orders, the last page, counts and the SQLite planner hint — both engines."""

from __future__ import annotations

from datetime import timedelta

import pytest

from salesdesk.services import actions, allocation, lead_table
from salesdesk.services.errors import ValidationError
from salesdesk.services.lead_table import LeadFilter


@pytest.fixture
def table(db, floor, clock):
    """23 leads in two pools: some held by Bob or Alice, call backs, blanks."""
    alice, bob = floor.rep("alice", cap=50), floor.rep("bob", cap=50)
    zeta = floor.pool("Zeta", members=[alice, bob])
    alpha = floor.pool("alpha", members=[alice, bob])
    for i in range(23):
        clock.advance(minutes=7)
        floor.leads(
            zeta if i % 3 else alpha,
            1,
            score=i % 5,
            company="" if i % 4 == 0 else f"Co {i % 6}",
            source=f"s{i % 2}",
        )
    for rep, n in ((bob, 3), (alice, 4)):
        for _ in range(n):
            allocation.claim_next_lead(db, rep)
    held = lead_table.list_leads(db, floor.manager, LeadFilter(statuses=("current",))).rows
    for k, row in enumerate(held[:3]):
        owner = alice if row.owner_id == alice.id else bob
        actions.schedule_call_back(db, owner, row.id, clock.now + timedelta(days=3 - k))
    return floor


def _all(db, manager, **kwargs):
    rows, after = [], None
    while True:
        page = lead_table.list_leads(db, manager, after=after, limit=4, **kwargs)
        rows += page.rows
        after = page.next_cursor
        if after is None:
            return rows


def test_empty_values_come_last_in_both_directions(db, table):
    for descending in (False, True):
        rows = _all(db, table.manager, sort="call_back_at", descending=descending)
        dates = [r.call_back_at for r in rows if r.call_back_at is not None]
        assert [r.call_back_at for r in rows[:3]] == dates
        assert dates == sorted(dates, reverse=descending)
        assert all(r.call_back_at is None for r in rows[3:])

        rows = _all(db, table.manager, sort="company", descending=descending)
        named = [r.company for r in rows if r.company]
        assert [r.company for r in rows[: len(named)]] == sorted(named, reverse=descending)
        assert all(r.company == "" for r in rows[len(named) :])


def test_status_follows_the_life_of_a_lead_and_people_and_pools_sort_by_name(db, table):
    rows = _all(db, table.manager, sort="status", descending=False)
    order = ["pool", "current", "callback", "appointment", "dead"]
    assert [r.status for r in rows] == sorted((r.status for r in rows), key=order.index)

    rows = _all(db, table.manager, sort="owner", descending=False)
    owners = [r.owner_name for r in rows]
    assert owners == ["Alice"] * 4 + ["Bob"] * 3 + [None] * 16

    rows = _all(db, table.manager, sort="pool", descending=True)
    assert [r.pool_name for r in rows] == ["Zeta"] * 15 + ["alpha"] * 8  # case-blind by name


@pytest.mark.parametrize("sort", sorted(lead_table.SORT_KEYS))
def test_the_last_page_is_the_tail_of_the_whole_order(db, table, sort):
    for descending in (False, True):
        every = _all(db, table.manager, sort=sort, descending=descending)
        last = lead_table.list_leads(
            db, table.manager, sort=sort, descending=descending, limit=5, from_end=True
        )
        assert [r.id for r in last.rows] == [r.id for r in every[-5:]]
        assert last.next_cursor is None


def test_broad_filters_give_the_same_rows_with_the_planner_hint(db, table, monkeypatch):
    filters = [
        LeadFilter(unassigned=True),
        LeadFilter(pool_id=table.pool("Empty").id),
        LeadFilter(source="s1", statuses=("pool", "current")),
        LeadFilter(text="co 1", source="s1"),
    ]
    plain = [[r.id for r in _all(db, table.manager, filters=f, sort="score")] for f in filters]
    monkeypatch.setattr(lead_table, "_broad_from", lambda limit, span: 2)  # every filter is broad
    hinted = [[r.id for r in _all(db, table.manager, filters=f, sort="score")] for f in filters]
    assert hinted == plain
    every = _all(db, table.manager, sort="score")
    assert set(plain[0]) == {r.id for r in every if r.owner_id is None}
    assert plain[1] == []
    assert set(plain[2]) == {
        r.id for r in every if r.source == "s1" and r.status in ("pool", "current")
    }
    # Every word must match somewhere: "co" is in every address (example.com).
    assert set(plain[3]) == {
        r.id for r in every if r.source == "s1" and ("1" in r.company or "1" in (r.email or ""))
    }


@pytest.mark.parametrize("sort", sorted(lead_table.SORT_KEYS))
def test_a_search_with_few_matches_pages_the_same_read_by_id(db, table, monkeypatch, sort):
    """SQLite reads a rare word's matches by id; every order and page must be unchanged."""
    searches = [LeadFilter(text="co 1"), LeadFilter(text="co", source="s1"), LeadFilter(text="zz")]
    by_id = [
        [
            [r.id for r in _all(db, table.manager, filters=f, sort=sort, descending=d)]
            for f in searches
        ]
        for d in (False, True)
    ]
    monkeypatch.setattr(lead_table, "FEW_MATCHES", 0)  # never few: the sort order's own path
    walked = [
        [
            [r.id for r in _all(db, table.manager, filters=f, sort=sort, descending=d)]
            for f in searches
        ]
        for d in (False, True)
    ]
    assert by_id == walked
    assert by_id[0][1] and by_id[0][2] == []
    every = _all(db, table.manager, sort=sort)
    assert set(by_id[0][1]) == {r.id for r in every if r.source == "s1"}  # "co" is in every email


def test_call_back_date_range_filter(db, table, clock):
    f = LeadFilter(
        call_back_from=clock.now + timedelta(days=1, hours=12),
        call_back_to=clock.now + timedelta(days=4),
    )
    assert len(lead_table.list_leads(db, table.manager, f).rows) == 2


def test_counts_are_exact_when_small_and_about_when_large(db, table, monkeypatch):
    exact = lead_table.count_leads(db, table.manager, LeadFilter(unassigned=True))
    assert (exact.value, exact.exact) == (16, True)
    # Scale the thresholds down so 23 leads count as "large".
    monkeypatch.setattr(lead_table, "COUNT_EXACT_UP_TO", 5)
    monkeypatch.setattr(lead_table, "_SAMPLE_WINDOWS", 2)
    monkeypatch.setattr(lead_table, "_SAMPLE_WIDTH", 2)
    estimate = lead_table.count_leads(db, table.manager)
    assert not estimate.exact
    assert 6 <= estimate.value <= 60  # an estimate, never below the exact threshold
    assert lead_table.count_leads(
        db, table.manager, LeadFilter(owner_id=None, source="nothing")
    ) == (lead_table.LeadCount(0, True))
    assert lead_table.list_leads(db, table.manager).total == estimate.value


def test_a_cursor_from_another_order_is_refused_in_words(db, table):
    page = lead_table.list_leads(db, table.manager, sort="score", limit=3)
    with pytest.raises(ValidationError, match="out of date"):
        lead_table.list_leads(db, table.manager, sort="owner", after=page.next_cursor)
