"""The bell in the menu bar's corner: its count is shown whole, however late it arrives."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QToolButton

from salesdesk.ui.main_window import MainWindow
from tests.ui.conftest import wait_idle


@pytest.fixture
def window(qtbot, ui_floor, make_context) -> MainWindow:
    context = make_context(ui_floor.rep("alice"))
    window = MainWindow(context)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    with qtbot.waitExposed(window):
        window.show()
    wait_idle(qtbot, context.tasks)
    return window


@pytest.mark.parametrize(("unread", "shown"), [(7, "7"), (12, "12"), (140, "99+")])
def test_a_count_that_arrives_after_the_window_is_up_is_not_cut_short(qtbot, window, unread, shown):
    # The menu bar laid its corner out when the window appeared, with no count yet;
    # the first live round brings the count afterwards (bob's 12 became "…").
    bell = window.bell
    window._context.set_unread(unread)
    qtbot.wait(20)
    assert bell.text() == shown
    needs = QToolButton.sizeHint(bell).width()  # what Qt wants for this very text
    assert bell.width() >= needs
    assert bell.geometry().right() <= window.menuBar().width()
    assert bell.toolTip() == f"Notifications: {unread} unread"
