"""The main window wires the parts each role gets, and keeps its geometry."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from salesdesk.ui import main_window
from salesdesk.ui.desk.desk_view import DeskView
from salesdesk.ui.main_window import GEOMETRY_KEY, MainWindow, optional_part
from tests.ui import _fake_parts
from tests.ui.conftest import wait_idle

FAKE = "tests.ui._fake_parts"


@pytest.fixture
def with_manager_parts(monkeypatch):
    monkeypatch.setattr(main_window, "MANAGER_VIEW", (FAKE, "ManagerView"))
    monkeypatch.setattr(main_window, "SETTINGS_DIALOG", (FAKE, "SettingsDialog"))


def _window(qtbot, context) -> MainWindow:
    window = MainWindow(context)
    qtbot.addWidget(window)
    with qtbot.waitExposed(window):
        window.show()
    wait_idle(qtbot, context.tasks)
    return window


def test_optional_part_is_none_when_the_module_is_missing():
    assert optional_part("salesdesk.ui.no_such_part", "Thing") is None
    assert optional_part(FAKE, "NoSuchName") is None
    assert optional_part(FAKE, "ManagerView") is _fake_parts.ManagerView


def test_optional_part_reports_a_broken_part_instead_of_hiding_it(tmp_path, monkeypatch):
    package = tmp_path / "brokenpart"
    package.mkdir()
    (package / "__init__.py").write_text("import no_such_dependency_anywhere\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError):
        optional_part("brokenpart", "Thing")


def test_a_rep_gets_the_desk_with_its_commands_in_the_menu(qtbot, ui_floor, make_context):
    alice = ui_floor.rep("alice")
    window = _window(qtbot, make_context(alice))
    assert isinstance(window.centralWidget().layout().itemAt(1).widget(), DeskView)
    assert window.tabs is None
    assert window.windowTitle() == "SalesDesk — Alice"
    lead_menu = window.menuBar().actions()[1].menu()
    texts = {a.text(): a.shortcut().toString() for a in lead_menu.actions() if a.text()}
    assert texts["&Next lead"] == "N"
    assert texts["&Dead"] == "D"
    assert texts["&Call Back…"] == "C"
    assert texts["&Email Confirmed"] == "E"
    assert texts["&Appointment"] == "A"
    assert texts["&Find…"] == "Ctrl+F"
    file_texts = [a.text() for a in window.menuBar().actions()[0].menu().actions()]
    assert "Settings…" not in file_texts


def test_a_manager_gets_the_floor_and_can_open_a_desk(
    qtbot, ui_floor, make_context, with_manager_parts
):
    manager = ui_floor.manager
    pool = ui_floor.pool(members=[manager])
    ui_floor.leads(pool, 1)
    window = _window(qtbot, make_context(manager))
    assert isinstance(window.manager_view, _fake_parts.ManagerView)
    assert window.tabs.tabText(0) == "Floor" and window.tabs.tabText(1) == "My desk"
    assert window.desk is None  # built on first visit
    window.tabs.setCurrentIndex(1)
    assert isinstance(window.desk, DeskView)
    wait_idle(qtbot, window.desk._context.tasks)
    with qtbot.waitActive(window):
        window.activateWindow()
    window.desk.current_view.setFocus()
    with qtbot.waitSignal(window.desk.lead_shown, timeout=5000):
        qtbot.keyClick(window.desk.current_view, Qt.Key.Key_N)
    window.tabs.setCurrentIndex(0)  # back to the floor: desk keys are off
    assert not window.desk.commands.next_lead.isEnabled()
    assert not window.desk.commands.dead.isEnabled()


def test_an_admin_gets_settings(qtbot, ui_floor, make_context, with_manager_parts):
    window = _window(qtbot, make_context(ui_floor.admin))
    settings = [
        a for a in window.menuBar().actions()[0].menu().actions() if a.text() == "Settings…"
    ]
    assert len(settings) == 1
    _fake_parts.SettingsDialog.opened.clear()
    settings[0].trigger()
    assert len(_fake_parts.SettingsDialog.opened) == 1
    assert _fake_parts.SettingsDialog.opened[0].context.actor.role == "admin"
    _fake_parts.SettingsDialog.opened[0].close()


def test_a_manager_without_the_manager_view_still_gets_a_desk(
    qtbot, ui_floor, make_context, monkeypatch
):
    monkeypatch.setattr(main_window, "MANAGER_VIEW", ("salesdesk.ui.no_such_part", "ManagerView"))
    window = _window(qtbot, make_context(ui_floor.manager))
    assert isinstance(window.desk, DeskView)
    assert window.tabs is None


def test_geometry_is_kept(qtbot, ui_floor, make_context, settings):
    alice = ui_floor.rep("alice")
    context = make_context(alice)
    window = _window(qtbot, context)
    window.resize(780, 590)  # inside the offscreen screen (800×600)
    QApplication.processEvents()
    window.close()
    assert settings.value(GEOMETRY_KEY) is not None
    again = _window(qtbot, context)
    assert (again.width(), again.height()) == (780, 590)


def test_an_unhandled_failure_is_shown_in_the_status_bar(qtbot, ui_floor, make_context):
    context = make_context(ui_floor.rep("alice"))
    window = _window(qtbot, context)
    context.tasks.submit(lambda: 1 / 0)
    wait_idle(qtbot, context.tasks)
    assert "bug" in window.statusBar().currentMessage()


def test_closing_with_a_note_typed_saves_it_first(qtbot, ui_floor, make_context):
    from salesdesk.services import allocation, leads

    alice = ui_floor.rep("alice")
    pool = ui_floor.pool("Inbound", members=[alice])
    ui_floor.leads(pool, 1)
    lead = allocation.claim_next_lead(ui_floor.db, alice).lead
    context = make_context(alice)
    window = _window(qtbot, context)
    window.desk.show_lead(lead.id)
    wait_idle(qtbot, context.tasks)
    window.desk.panel.note_edit.setPlainText("Wants a quote by Friday")
    window.close()  # sign out or quit: the window waits for the note
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=5000)
    notes = leads.get_lead(ui_floor.db, alice, lead.id).notes
    assert [n.body for n in notes] == ["Wants a quote by Friday"]
