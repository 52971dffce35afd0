"""The lead table's layout: columns fitted to the window, a narrow pane, choices kept."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt

from salesdesk.models import Routing
from salesdesk.services import allocation
from salesdesk.ui.manager.leads_tab import HEADER_KEY, SPLITTER_KEY
from salesdesk.ui.manager.manager_view import ManagerView
from tests.ui.conftest import wait_idle


@pytest.fixture
def floor_with_long_words(ui_floor):
    carol = ui_floor.rep("carol")
    partners = ui_floor.pool("Partner referrals", Routing.NEXT.value, members=[carol])
    ui_floor.leads(partners, 30, company="Alpine Ski House", source="Trade show")
    for _ in range(3):
        allocation.claim_next_lead(ui_floor.db, carol)
    return ui_floor


def _view(qtbot, make_context, floor, tasks, size=(1280, 800)):
    view = ManagerView(make_context(floor.admin))
    qtbot.addWidget(view)
    view.resize(*size)
    view.show()
    qtbot.waitUntil(lambda: view.leads.model.rowCount() > 0, timeout=10_000)
    wait_idle(qtbot, tasks)
    qtbot.wait(50)
    return view


def _shown_whole(view, column: int, text: str) -> bool:
    table = view.leads.table
    return (
        table.horizontalHeader().sectionSize(column)
        >= table.fontMetrics().horizontalAdvance(text) + 8
    )


def test_at_1280_the_columns_fill_the_table_and_show_names_whole(
    qtbot, make_context, floor_with_long_words, tasks
):
    view = _view(qtbot, make_context, floor_with_long_words, tasks)
    tab = view.leads
    header = tab.table.horizontalHeader()
    # Company, Pool, Owner, Source: whole, not "Alpine Ski Ho…" as they were.
    for column, text in ((1, "Alpine Ski House"), (2, "Partner referrals"), (4, "Carol")):
        assert _shown_whole(view, column, text), text
    assert header.length() == tab.table.viewport().width()  # no gap, no sideways scrolling
    pane, table = tab.history.width(), tab.table.width()
    assert 220 <= pane <= 260 and table > 3 * pane


def test_a_wider_window_widens_the_table_not_the_pane(
    qtbot, make_context, floor_with_long_words, tasks
):
    view = _view(qtbot, make_context, floor_with_long_words, tasks)
    tab = view.leads
    pane, name = tab.history.width(), tab.table.horizontalHeader().sectionSize(0)
    view.resize(1800, 900)
    qtbot.waitUntil(lambda: tab.table.horizontalHeader().sectionSize(0) > name, timeout=5000)
    assert tab.history.width() == pane
    assert tab.table.horizontalHeader().length() == tab.table.viewport().width()
    view.resize(1024, 700)
    qtbot.waitUntil(lambda: tab.table.horizontalHeader().sectionSize(0) < name, timeout=5000)
    assert _shown_whole(view, 5, "22 Nov 16:22")  # dates are never cut


def test_a_column_the_manager_widens_and_the_pane_they_drag_are_remembered(
    qtbot, make_context, floor_with_long_words, tasks, settings
):
    view = _view(qtbot, make_context, floor_with_long_words, tasks)
    tab = view.leads
    header = tab.table.horizontalHeader()
    edge = header.sectionViewportPosition(0) + header.sectionSize(0) - 1
    y = header.height() // 2
    area = header.viewport()
    qtbot.mousePress(area, Qt.MouseButton.LeftButton, pos=QPoint(edge, y))
    qtbot.mouseMove(area, QPoint(edge + 30, y))
    qtbot.mouseRelease(area, Qt.MouseButton.LeftButton, pos=QPoint(edge + 30, y))
    widened = header.sectionSize(0)
    assert tab.columns.customised and settings.value(f"{HEADER_KEY}/state") is not None
    view.resize(1400, 800)  # no longer fitted: the manager's width stays
    qtbot.wait(50)
    assert header.sectionSize(0) == widened

    handle = tab.splitter.handle(1)
    middle = QPoint(handle.width() // 2, handle.height() // 2)
    qtbot.mousePress(handle, Qt.MouseButton.LeftButton, pos=middle)
    qtbot.mouseMove(handle, middle - QPoint(80, 0))
    qtbot.mouseRelease(handle, Qt.MouseButton.LeftButton, pos=middle - QPoint(80, 0))
    dragged = tab.splitter.sizes()[1]
    assert settings.value(SPLITTER_KEY) is not None

    again = _view(qtbot, make_context, floor_with_long_words, tasks, size=(1400, 800))
    assert again.leads.table.horizontalHeader().sectionSize(0) == widened
    assert again.leads.splitter.sizes()[1] == dragged
    again.leads.columns.fit_again()
    assert not again.leads.columns.customised
    assert settings.value(f"{HEADER_KEY}/state") is None
