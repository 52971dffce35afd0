"""The pool table model: pages on demand, flat memory, stale answers dropped."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QModelIndex, Qt

from salesdesk.services import allocation, lead_table, leads
from salesdesk.services.lead_table import LeadFilter
from salesdesk.ui.manager.pool_model import COLUMNS, LEAD_ID_ROLE, LOADING, PoolModel
from tests.ui.conftest import wait_idle


@pytest.fixture
def floor_with_leads(ui_floor, clock):
    alice, bob = ui_floor.rep("alice"), ui_floor.rep("bob")
    inbound = ui_floor.pool("Inbound", members=[alice, bob])
    webinar = ui_floor.pool("Webinar", members=[alice, bob])
    for i in range(23):
        clock.advance(minutes=5)
        ui_floor.leads(inbound if i % 3 else webinar, 1, score=i, source=f"s{i % 2}")
    allocation.claim_next_lead(ui_floor.db, alice)
    return ui_floor


def _model(make_context, floor, qtbot, **kwargs) -> PoolModel:
    model = PoolModel(make_context(floor.manager), **kwargs)
    with qtbot.waitSignal(model.page_loaded, timeout=10_000):
        model.reload()
    return model


def _scroll_to_end(qtbot, model: PoolModel) -> None:
    qtbot.waitUntil(lambda: not model.is_loading, timeout=10_000)
    while model.canFetchMore(QModelIndex()):
        with qtbot.waitSignal(model.page_loaded, timeout=10_000):
            model.fetchMore(QModelIndex())


def test_model_passes_qt_model_tester_while_it_pages_sorts_and_filters(
    qtbot, qtmodeltester, make_context, floor_with_leads, tasks
):
    model = _model(make_context, floor_with_leads, qtbot, page_size=5, cached_pages=2)
    qtmodeltester.check(model)
    _scroll_to_end(qtbot, model)
    model.sort(9, Qt.SortOrder.DescendingOrder)
    wait_idle(qtbot, tasks)
    model.set_filters(LeadFilter(source="s1"))
    wait_idle(qtbot, tasks)
    _scroll_to_end(qtbot, model)
    qtmodeltester.check(model)
    assert model.rowCount() == 11


def test_pages_arrive_on_demand_in_the_database_order(qtbot, make_context, floor_with_leads, tasks):
    model = _model(make_context, floor_with_leads, qtbot, page_size=5)
    assert model.rowCount() == 5
    assert model.canFetchMore(QModelIndex())
    _scroll_to_end(qtbot, model)
    assert model.rowCount() == 23
    assert not model.canFetchMore(QModelIndex())
    wait_idle(qtbot, tasks)
    assert (model.count.value, model.count.exact) == (23, True)
    # Newest first by default: ids descend.
    ids = [model.lead_id(r) for r in range(23)]
    assert ids == sorted(ids, reverse=True)

    model.sort(9, Qt.SortOrder.AscendingOrder)  # score, lowest first
    _scroll_to_end(qtbot, model)
    scores = [model.index(r, 9).data() for r in range(model.rowCount())]
    assert scores == [str(s) for s in range(23)]


def test_a_first_page_holding_every_match_is_the_count(
    qtbot, make_context, floor_with_leads, tasks, monkeypatch
):
    counted: list[LeadFilter] = []
    count_leads = lead_table.count_leads

    def counting(db, actor, filters):
        counted.append(filters)
        return count_leads(db, actor, filters)

    monkeypatch.setattr(lead_table, "count_leads", counting)
    model = _model(make_context, floor_with_leads, qtbot, page_size=50)
    wait_idle(qtbot, tasks)
    assert (model.count.value, model.count.exact) == (23, True)
    assert counted == []  # 23 rows on a page of 50: nothing more to count

    model = _model(make_context, floor_with_leads, qtbot, page_size=5)
    wait_idle(qtbot, tasks)
    assert (model.count.value, model.count.exact) == (23, True)
    assert counted == [LeadFilter()]  # a page of 5 of them: counted in the database


def test_each_column_sorts_in_the_database(qtbot, make_context, floor_with_leads, tasks):
    model = _model(make_context, floor_with_leads, qtbot, page_size=50)
    for column, spec in enumerate(COLUMNS):
        for order in (Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder):
            model.sort(column, order)
            wait_idle(qtbot, tasks)
            shown = [model.lead_id(r) for r in range(model.rowCount())]
            expected = lead_table.list_leads(
                floor_with_leads.db,
                floor_with_leads.manager,
                sort=spec.sort,
                descending=order == Qt.SortOrder.DescendingOrder,
                limit=50,
            )
            assert shown == [r.id for r in expected.rows], spec.title


def test_memory_stays_flat_and_let_go_pages_come_back_by_id(
    qtbot, make_context, floor_with_leads, tasks
):
    model = _model(make_context, floor_with_leads, qtbot, page_size=5, cached_pages=2)
    _scroll_to_end(qtbot, model)
    assert model.rowCount() == 23
    assert model.cached_row_count <= 10  # two pages of full rows, whatever was scrolled
    first_id = model.lead_id(0)
    assert model.index(0, 0).data() == LOADING
    assert model.index(0, 0).data(LEAD_ID_ROLE) == first_id  # ids are always at hand
    with qtbot.waitSignal(model.page_loaded, timeout=10_000) as loaded:
        pass
    assert loaded.args == [0]
    assert model.lead_at(0).id == first_id
    assert model.index(0, 0).data() != LOADING
    assert model.cached_row_count <= 10


def test_a_changed_lead_is_repainted_in_place(qtbot, make_context, floor_with_leads, tasks):
    floor = floor_with_leads
    model = _model(make_context, floor, qtbot)
    row = 3
    lead_id = model.lead_id(row)
    manager = floor.manager
    target = floor.rep("carol")
    leads.assign_leads(floor.db, manager, [lead_id], target.id)
    with qtbot.waitSignal(model.dataChanged, timeout=10_000):
        model.refresh_leads([lead_id])
    assert model.lead_id(row) == lead_id
    assert model.index(row, 4).data() == "Carol"
    assert model.index(row, 3).data() == "Current"

    leads.remove_leads(floor.db, manager, [lead_id])
    with qtbot.waitSignal(model.dataChanged, timeout=10_000):
        model.refresh_leads([lead_id])
    assert model.index(row, 3).data() == "Dead"


def test_an_answer_for_an_old_filter_never_paints(qtbot, make_context, floor_with_leads, tasks):
    model = _model(make_context, floor_with_leads, qtbot, page_size=50)
    model.set_filters(LeadFilter(source="s0"))
    model.set_filters(LeadFilter(source="s1"))  # supersedes the first before it answers
    wait_idle(qtbot, tasks)
    shown = {model.lead_at(r).source for r in range(model.rowCount())}
    assert shown == {"s1"}
    assert model.count.value == model.rowCount() == 11


def test_a_refusal_is_reported_not_raised(qtbot, make_context, floor_with_leads, tasks):
    alice = floor_with_leads.rep("dora")
    model = PoolModel(make_context(alice))
    with qtbot.waitSignal(model.load_failed, timeout=10_000) as failed:
        model.reload()
    assert "Only a manager or an admin" in failed.args[0]
    wait_idle(qtbot, tasks)
    assert model.rowCount() == 0
