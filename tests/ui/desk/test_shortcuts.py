"""A shift without the mouse: every command has a key, and typing never fires one."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication

from salesdesk.services import leads
from salesdesk.ui.desk.appointment_dialog import AppointmentDialog
from salesdesk.ui.desk.call_back_dialog import CallBackDialog
from salesdesk.ui.desk.dead_dialog import DeadDialog


@pytest.fixture
def active(desk, qtbot):
    with qtbot.waitActive(desk.view):
        desk.view.activateWindow()
    desk.view.current_view.setFocus()
    return desk


def _key(desk, key, modifier=Qt.KeyboardModifier.NoModifier):
    target = QApplication.focusWidget() or desk.view
    desk.qtbot.keyClick(target, key, modifier)


def _status(desk, lead_id):
    return leads.lead_rows_by_id(desk.db, desk.floor.manager, [lead_id])[0]


def test_every_command_shows_its_key_in_its_tooltip(desk):
    expected = {
        "next_lead": "N",
        "dead": "D",
        "call_back": "C",
        "email_confirmed": "E",
        "appointment": "A",
        "call": "P",
        "find": "Ctrl+F",
        "refresh": "F5",
    }
    for name, keys in expected.items():
        action = getattr(desk.view.commands, name)
        assert action.shortcut() == QKeySequence(keys), name
        assert f"({keys})" in action.toolTip(), name
    for action, button in desk.view.action_bar.buttons.items():
        assert button.text().endswith(action.shortcut().toString()), button.text()


def test_n_takes_the_next_lead(active, qtbot):
    (lead_id,) = active.floor.leads(active.pool, 1)
    with qtbot.waitSignal(active.view.lead_shown, timeout=5000):
        _key(active, Qt.Key.Key_N)
    assert active.view.panel.lead_id == lead_id


def test_d_then_enter_marks_dead(active, qtbot):
    active.floor.leads(active.pool, 1)
    _key(active, Qt.Key.Key_N)
    active.wait()
    lead_id = active.view.panel.lead_id
    _key(active, Qt.Key.Key_D)
    qtbot.waitUntil(lambda: active.view.findChild(DeadDialog) is not None, timeout=5000)
    dialog = active.view.findChild(DeadDialog)
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog, timeout=5000)
    qtbot.keyClick(dialog.reason_edit, Qt.Key.Key_Return)
    active.wait()
    assert _status(active, lead_id).status == "dead"


def test_c_then_enter_sets_a_call_back_for_tomorrow(active, qtbot):
    active.floor.leads(active.pool, 1)
    _key(active, Qt.Key.Key_N)
    active.wait()
    lead_id = active.view.panel.lead_id
    _key(active, Qt.Key.Key_C)
    qtbot.waitUntil(lambda: active.view.findChild(CallBackDialog) is not None, timeout=5000)
    dialog = active.view.findChild(CallBackDialog)
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog, timeout=5000)
    qtbot.keyClick(QApplication.focusWidget() or dialog, Qt.Key.Key_Return)
    active.wait()
    row = _status(active, lead_id)
    assert row.status == "callback"
    assert row.call_back_at is not None and row.call_back_at > active.db.now()


def test_e_confirms_the_email(active, qtbot):
    active.floor.leads(active.pool, 1)
    _key(active, Qt.Key.Key_N)
    active.wait()
    lead_id = active.view.panel.lead_id
    _key(active, Qt.Key.Key_E)
    active.wait()
    assert _status(active, lead_id).email_confirmed_at == active.db.now()


def test_a_then_enter_makes_the_appointment_and_esc_does_not(active, qtbot):
    active.floor.leads(active.pool, 2)
    _key(active, Qt.Key.Key_N)
    active.wait()
    lead_id = active.view.panel.lead_id

    _key(active, Qt.Key.Key_A)
    dialog = _wait_for_dialog(active, qtbot, AppointmentDialog)
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    active.wait()
    assert _status(active, lead_id).status == "current"  # asked first: nothing happened

    _key(active, Qt.Key.Key_A)
    dialog = _wait_for_dialog(active, qtbot, AppointmentDialog, not_this=dialog)
    qtbot.keyClick(dialog, Qt.Key.Key_Return)
    active.wait()
    assert _status(active, lead_id).status == "appointment"


def _wait_for_dialog(active, qtbot, kind, not_this=None):
    def found():
        dialogs = [d for d in active.view.findChildren(kind) if d is not not_this]
        return dialogs[-1] if dialogs and dialogs[-1].isVisible() else None

    qtbot.waitUntil(lambda: found() is not None, timeout=5000)
    return found()


def test_p_calls_the_phone(active, qtbot, opened_urls):
    active.floor.leads(active.pool, 1, phone="+1 555 010 0003")
    _key(active, Qt.Key.Key_N)
    active.wait()
    _key(active, Qt.Key.Key_P)
    active.wait()
    assert [u.toString() for u in opened_urls] == ["tel:+15550100003"]
    assert _status(active, active.view.panel.lead_id).last_contacted_at == active.db.now()


def test_ctrl_f_goes_to_search_and_typing_there_fires_no_command(active, qtbot):
    active.floor.leads(active.pool, 2)
    _key(active, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert active.view.search_edit.hasFocus()
    with qtbot.assertNotEmitted(active.view.commands.next_lead.triggered, wait=100):
        qtbot.keyClicks(active.view.search_edit, "dance")  # d, a, n, c, e
    active.wait()
    assert active.view.search_edit.text() == "dance"
    assert active.view.current_model.rows == ()  # nothing was claimed


def test_typing_a_note_fires_no_command(active, qtbot):
    active.floor.leads(active.pool, 1)
    _key(active, Qt.Key.Key_N)
    active.wait()
    note = active.view.panel.note_edit
    note.setFocus()
    with qtbot.assertNotEmitted(active.view.commands.dead.triggered, wait=100):
        qtbot.keyClicks(note, "decent")
    assert note.toPlainText() == "decent"
    qtbot.keyClick(note, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    active.wait()
    detail = leads.get_lead(active.db, active.rep, active.view.panel.lead_id)
    assert [n.body for n in detail.notes] == ["decent"]


def test_arrows_move_through_the_list_and_open_each_lead(active, qtbot):
    active.floor.leads(active.pool, 3)
    first, second, third = sorted(active.claim(3))
    active.view.show_lead(first)
    active.wait()
    active.view.current_view.setFocus()
    with qtbot.waitSignal(active.view.lead_shown, timeout=5000) as shown:
        qtbot.keyClick(active.view.current_view, Qt.Key.Key_Down)
    assert shown.args == [second]
    with qtbot.waitSignal(active.view.lead_shown, timeout=5000) as shown:
        qtbot.keyClick(active.view.current_view, Qt.Key.Key_Down)
    assert shown.args == [third]
    with qtbot.waitSignal(active.view.lead_shown, timeout=5000) as shown:
        qtbot.keyClick(active.view.current_view, Qt.Key.Key_Up)
    assert shown.args == [second]


def test_ctrl_2_and_ctrl_1_switch_the_lists(active, qtbot):
    _key(active, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert active.view.tabs.currentIndex() == 1
    assert active.view.call_back_view.hasFocus()
    _key(active, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert active.view.tabs.currentIndex() == 0


def test_f5_reloads(active, qtbot):
    active.floor.leads(active.pool, 1)
    active.claim()  # taken elsewhere: the desk does not know yet
    assert active.view.current_model.rows == ()
    with qtbot.waitSignal(active.view.snapshot_applied, timeout=5000):
        _key(active, Qt.Key.Key_F5)
    assert len(active.view.current_model.rows) == 1


def test_down_from_the_search_box_goes_into_the_list_and_escape_clears_it(active, qtbot):
    active.floor.leads(active.pool, 1)
    active.claim()
    active.reload()
    _key(active, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(active.view.search_edit, "lead")
    qtbot.keyClick(active.view.search_edit, Qt.Key.Key_Down)
    assert active.view.current_view.hasFocus()
    active.view.search_edit.setFocus()
    qtbot.keyClick(active.view.search_edit, Qt.Key.Key_Escape)
    assert active.view.search_edit.text() == ""
    assert active.view.current_view.hasFocus()
