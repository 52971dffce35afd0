"""The new-lead toast: a manager's real service call reaches the rep's window as a toast."""

from __future__ import annotations

import gc
from dataclasses import dataclass

import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, Qt
from PySide6.QtGui import QEnterEvent
from PySide6.QtWidgets import QApplication, QMainWindow, QWidget

from salesdesk.services import allocation, leads
from salesdesk.ui import toast as toast_module
from salesdesk.ui.live import LiveWatcher
from salesdesk.ui.main_window import MainWindow
from salesdesk.ui.toast import LeadToast
from tests.ui.conftest import wait_idle

# The bell's list is a popup; offscreen Qt cannot raise it or grab the keyboard for it.
OFFSCREEN_POPUP = pytest.mark.qt_log_ignore(
    "This plugin does not support raise", "This plugin does not support grabbing"
)


@dataclass
class Rep:
    """Alice's signed-in window on a real SQLite floor, and her live watcher."""

    window: MainWindow
    watcher: LiveWatcher
    floor: object
    pool: object
    qtbot: object

    @property
    def toast(self) -> LeadToast:
        return self.window.toast

    @property
    def context(self):
        return self.window._context

    @property
    def actor(self):
        return self.context.actor

    def poll(self) -> None:
        """One live round, as the timer would run it, and its answer handled."""
        self.watcher.poll()
        wait_idle(self.qtbot, self.context.tasks)

    def new_leads(self, *names: str) -> list[int]:
        ids = []
        for name in names:
            first, last = name.split()
            ids += self.floor.leads(self.pool, 1, first_name=first, last_name=last)
        return ids


def _open_window(qtbot, context) -> MainWindow:
    window = MainWindow(context)
    qtbot.addWidget(window)
    window.resize(1000, 700)
    with qtbot.waitExposed(window):
        window.show()
    with qtbot.waitActive(window):
        window.activateWindow()
    wait_idle(qtbot, context.tasks)
    return window


def _start(qtbot, floor, context, poll_ms: int = 60_000) -> Rep:
    """The window, then the watcher (as app.py does); its first round only sets the start."""
    window = _open_window(qtbot, context)
    watcher = LiveWatcher(context, poll_ms=poll_ms, jobs_ms=0)
    watcher.start()
    wait_idle(qtbot, context.tasks)
    pool = floor.pool("Inbound", members=[context.actor])
    rep = Rep(window, watcher, floor, pool, qtbot)
    return rep


@pytest.fixture
def rep(qtbot, ui_floor, make_context):
    alice = make_context(ui_floor.rep("alice"))
    started = _start(qtbot, ui_floor, alice)
    yield started
    started.watcher.stop()


def _focus_the_note(rep: Rep):
    """A rep typing a note: the keyboard is in the note editor."""
    (lead_id,) = rep.new_leads("Noted Lead")
    assert allocation.claim_next_lead(rep.floor.db, rep.actor).lead.id == lead_id
    desk = rep.window.desk
    desk.show_lead(lead_id)
    wait_idle(rep.qtbot, rep.context.tasks)
    editor = desk.panel.note_edit
    editor.setFocus()
    rep.qtbot.keyClicks(editor, "Asked for a quote")
    assert QApplication.focusWidget() is editor
    return editor


def test_a_lead_a_manager_assigns_toasts_with_its_name_on_the_next_live_round(
    qtbot, ui_floor, make_context
):
    context = make_context(ui_floor.rep("alice"))
    rep = _start(qtbot, ui_floor, context, poll_ms=50)  # the real timer, as on a desk
    try:
        editor = _focus_the_note(rep)
        (lead_id,) = ui_floor.leads(rep.pool, 1, first_name="Jane", last_name="Doe", company="Acme")
        leads.assign_leads(ui_floor.db, ui_floor.manager, [lead_id], rep.actor.id)

        qtbot.waitUntil(rep.toast.isVisible, timeout=5000)
        assert rep.toast.title_label.text() == "New lead: Jane Doe — Acme"
        assert "Assigned to you" in rep.toast.detail_label.text()
        assert rep.toast.open_button.text() == "Open"
        # Inside the window, bottom right, just above the desk's action buttons (never
        # over them), and the keyboard never left the note.
        assert not rep.toast.isWindow() and rep.toast.window() is rep.window
        centre = rep.toast.parentWidget()
        corner = centre.rect().bottomRight()
        assert corner.x() - rep.toast.geometry().right() < 40
        assert corner.y() - rep.toast.geometry().bottom() < 120
        bar = rep.window.desk.action_bar
        assert not rep.toast.geometry().intersects(QRect(bar.mapTo(centre, QPoint()), bar.size()))
        assert QApplication.focusWidget() is editor
        assert editor.toPlainText() == "Asked for a quote"
    finally:
        rep.watcher.stop()


def test_several_at_once_make_one_grouped_toast(rep):
    ids = rep.new_leads("Jane Doe", "Sam Lee", "Ana Ruiz")
    leads.assign_leads(rep.floor.db, rep.floor.manager, ids, rep.actor.id)
    rep.poll()
    assert rep.toast.isVisible()
    assert rep.toast.title_label.text() == "3 new leads"
    assert "and 1 more" in rep.toast.detail_label.text()
    assert rep.toast.open_button.text() == "Open list"
    toasts = [t for t in rep.window.findChildren(LeadToast) if t.isVisible()]
    assert toasts == [rep.toast]


def test_news_while_a_toast_is_up_joins_it(rep):
    first, second = rep.new_leads("Jane Doe", "Sam Lee")
    leads.assign_leads(rep.floor.db, rep.floor.manager, [first], rep.actor.id)
    rep.poll()
    assert rep.toast.title_label.text() == "New lead: Jane Doe"
    leads.assign_leads(rep.floor.db, rep.floor.manager, [second], rep.actor.id)
    rep.poll()
    assert rep.toast.title_label.text() == "2 new leads"
    assert rep.toast.detail_label.text().startswith("Sam Lee and Jane Doe")
    assert len(rep.window.findChildren(LeadToast)) == 1


def test_notices_that_were_there_at_start_do_not_toast(qtbot, ui_floor, make_context):
    alice = ui_floor.rep("alice")
    pool = ui_floor.pool("Old", members=[alice])
    old = ui_floor.leads(pool, 2)
    leads.assign_leads(ui_floor.db, ui_floor.manager, old, alice.id)  # before she starts
    rep = _start(qtbot, ui_floor, make_context(alice))
    try:
        assert rep.context.unread == 2  # the bell has them
        rep.poll()
        rep.poll()
        assert not rep.toast.isVisible()

        (new,) = rep.new_leads("Jane Doe")
        leads.assign_leads(ui_floor.db, ui_floor.manager, [new], alice.id)
        rep.poll()
        assert rep.toast.title_label.text() == "New lead: Jane Doe"  # one, not three
    finally:
        rep.watcher.stop()


def test_the_toast_hides_by_itself_and_never_comes_back_for_the_same_notice(
    qtbot, ui_floor, make_context, monkeypatch
):
    monkeypatch.setattr(toast_module, "TOAST_MS", 150)
    monkeypatch.setattr(toast_module, "FADE_MS", 50)
    rep = _start(qtbot, ui_floor, make_context(ui_floor.rep("alice")))
    try:
        (lead_id,) = rep.new_leads("Jane Doe")
        leads.assign_leads(ui_floor.db, ui_floor.manager, [lead_id], rep.actor.id)
        rep.poll()
        assert rep.toast.isVisible()
        qtbot.waitUntil(lambda: not rep.toast.isVisible(), timeout=3000)
        assert rep.toast.graphicsEffect() is None  # the fade is cleaned up
        for _ in range(3):
            rep.poll()
        assert not rep.toast.isVisible()
    finally:
        rep.watcher.stop()


def test_the_toast_stays_while_the_mouse_is_over_it(qtbot, ui_floor, make_context, monkeypatch):
    monkeypatch.setattr(toast_module, "TOAST_MS", 100)
    monkeypatch.setattr(toast_module, "FADE_MS", 30)
    rep = _start(qtbot, ui_floor, make_context(ui_floor.rep("alice")))
    try:
        (lead_id,) = rep.new_leads("Jane Doe")
        leads.assign_leads(ui_floor.db, ui_floor.manager, [lead_id], rep.actor.id)
        rep.poll()
        inside = QPointF(10, 10)
        QApplication.sendEvent(
            rep.toast, QEnterEvent(inside, rep.toast.mapTo(rep.window, inside), inside)
        )
        qtbot.wait(400)
        assert rep.toast.isVisible()
        QApplication.sendEvent(rep.toast, QEvent(QEvent.Type.Leave))
        qtbot.waitUntil(lambda: not rep.toast.isVisible(), timeout=3000)
    finally:
        rep.watcher.stop()


def test_open_shows_the_lead_on_the_desk_and_keeps_the_keyboard_on_it(rep, qtbot):
    editor = _focus_the_note(rep)
    (lead_id,) = rep.new_leads("Jane Doe")
    leads.assign_leads(rep.floor.db, rep.floor.manager, [lead_id], rep.actor.id)
    rep.poll()
    desk = rep.window.desk
    with qtbot.waitSignal(desk.lead_shown, timeout=5000) as shown:
        qtbot.mouseClick(rep.toast.open_button, Qt.MouseButton.LeftButton)
    assert shown.args == [lead_id]
    assert desk.panel.lead_id == lead_id
    assert not rep.toast.isVisible()
    assert QApplication.focusWidget() is editor  # the click did not take the keyboard


def test_the_close_button_dismisses_without_taking_focus(rep, qtbot):
    editor = _focus_the_note(rep)
    (lead_id,) = rep.new_leads("Jane Doe")
    leads.assign_leads(rep.floor.db, rep.floor.manager, [lead_id], rep.actor.id)
    rep.poll()
    assert QApplication.focusWidget() is editor
    qtbot.mouseClick(rep.toast.close_button, Qt.MouseButton.LeftButton)
    assert not rep.toast.isVisible()
    assert QApplication.focusWidget() is editor
    rep.poll()
    assert not rep.toast.isVisible()  # dismissed is not forgotten-and-repeated


@OFFSCREEN_POPUP
def test_open_on_a_group_opens_the_bells_list(rep, qtbot):
    ids = rep.new_leads("Jane Doe", "Sam Lee")
    leads.assign_leads(rep.floor.db, rep.floor.manager, ids, rep.actor.id)
    rep.poll()
    qtbot.mouseClick(rep.toast.open_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(rep.window.bell.popup.isVisible, timeout=5000)
    assert {r.lead_id for r in rep.window.bell.model.rows} >= set(ids)
    assert not rep.toast.isVisible()
    rep.window.bell.popup.hide()


def test_a_lead_taken_away_says_where_it_went(rep):
    bob = rep.floor.rep("bob")
    (lead_id,) = rep.new_leads("Jane Doe")
    allocation.claim_next_lead(rep.floor.db, rep.actor)
    rep.poll()
    assert not rep.toast.isVisible()  # her own Next is not news
    leads.assign_leads(rep.floor.db, rep.floor.manager, [lead_id], bob.id)
    rep.poll()
    assert rep.toast.title_label.text() == "Lead taken away: Jane Doe"
    assert rep.toast.detail_label.text() == "Jane Doe was reassigned to Bob."
    assert rep.toast.open_button.text() == "Open list"


def test_a_call_back_coming_due_toasts_and_opens_the_lead(rep, clock):
    from datetime import timedelta

    from salesdesk.services import actions, jobs

    (lead_id,) = rep.new_leads("Chloe Tanaka")
    allocation.claim_next_lead(rep.floor.db, rep.actor)
    actions.schedule_call_back(rep.floor.db, rep.actor, lead_id, clock.now + timedelta(hours=1))
    rep.poll()
    assert not rep.toast.isVisible()
    clock.advance(hours=1, minutes=1)
    assert jobs.run_due_jobs(rep.floor.db).callbacks_due == 1
    rep.poll()
    assert rep.toast.isVisible()
    assert rep.toast.title_label.text() == "Call back due: Chloe Tanaka"
    assert rep.toast.detail_label.text() == "Back in your Current list: call now."
    assert rep.toast.open_button.text() == "Open"
    with rep.qtbot.waitSignal(rep.window.desk.lead_shown, timeout=5000) as shown:
        rep.toast.open_button.click()
    assert shown.args == [lead_id]


def test_given_and_taken_in_one_round_share_the_toast(rep):
    bob = rep.floor.rep("bob")
    (mine,) = rep.new_leads("Jane Doe")
    allocation.claim_next_lead(rep.floor.db, rep.actor)
    (new,) = rep.new_leads("Sam Lee")
    rep.poll()
    leads.assign_leads(rep.floor.db, rep.floor.manager, [mine], bob.id)
    leads.assign_leads(rep.floor.db, rep.floor.manager, [new], rep.actor.id)
    rep.poll()
    assert rep.toast.title_label.text() == "New lead: Sam Lee"
    assert rep.toast.detail_label.text().endswith("Also 1 lead taken away.")
    assert rep.toast.open_button.text() == "Open"


def test_the_toast_waits_for_the_rep_to_come_back_to_the_window(
    qtbot, ui_floor, make_context, monkeypatch
):
    monkeypatch.setattr(toast_module, "TOAST_MS", 100)
    monkeypatch.setattr(toast_module, "FADE_MS", 30)
    rep = _start(qtbot, ui_floor, make_context(ui_floor.rep("alice")))
    try:
        elsewhere = QWidget()  # another application's window has the focus
        qtbot.addWidget(elsewhere)
        with qtbot.waitExposed(elsewhere):
            elsewhere.show()
        with qtbot.waitActive(elsewhere):
            elsewhere.activateWindow()
        (lead_id,) = rep.new_leads("Jane Doe")
        leads.assign_leads(ui_floor.db, ui_floor.manager, [lead_id], rep.actor.id)
        rep.poll()
        toast = rep.toast
        assert toast.isVisible()
        qtbot.wait(400)
        assert toast.isVisible()  # nobody was looking
        elsewhere.close()
        with qtbot.waitActive(rep.window):
            rep.window.activateWindow()
        qtbot.waitUntil(lambda: not toast.isVisible(), timeout=3000)
    finally:
        rep.watcher.stop()


def test_a_deactivated_rep_still_hears_why_from_the_desk(rep, qtbot):
    """The toast's question is refused for a deactivated account; the live round is not."""
    from salesdesk.services import team

    rep.new_leads("Jane Doe")
    allocation.claim_next_lead(rep.floor.db, rep.actor)
    rep.poll()
    team.deactivate_user(rep.floor.db, rep.floor.admin, rep.actor.id)  # her leads move
    try:
        rep.watcher.poll()
        qtbot.waitUntil(lambda: "deactivated" in rep.window.desk.message_bar.text, timeout=5000)
        assert not rep.toast.isVisible()
    finally:
        # The desk retries a refused reload until it is allowed again (desk_view's
        # _on_failed); let it settle before the runner is shut down.
        team.reactivate_user(rep.floor.db, rep.floor.admin, rep.actor.id)
        wait_idle(qtbot, rep.context.tasks)


# --- teardown -------------------------------------------------------------------------------


def _toast_in_a_window() -> tuple[QMainWindow, LeadToast]:
    window = QMainWindow()
    centre = QWidget()
    window.setCentralWidget(centre)
    toast = LeadToast(centre)
    # Reference cycles through the window, as a view's lambdas and attributes make.
    window.cycle = window
    window.toast_ref = toast
    toast.window_ref = window
    return window, toast


def test_a_window_freed_by_the_cycle_collector_with_its_toast_up_raises_nothing(qtbot):
    # The collector empties each wrapper's attributes, then the window's C++ teardown
    # sends events to the toast's filter: it must not look for attributes then.
    window, toast = _toast_in_a_window()
    window.show()
    toast.show()
    qtbot.wait(10)
    del window, toast
    gc.collect()  # pytest-qt fails the test on an exception raised inside a Qt override


def test_the_toast_filters_its_window_only_while_it_is_up(qtbot):
    window, toast = _toast_in_a_window()
    qtbot.addWidget(window)
    window.show()
    centre = window.centralWidget()
    seen: list[QEvent.Type] = []
    real_filter = toast.eventFilter

    def spy(watched, event):
        seen.append(event.type())
        return real_filter(watched, event)

    toast.eventFilter = spy  # type: ignore[method-assign]
    centre.resize(500, 300)  # hidden: nothing to place, nothing watched
    QApplication.sendEvent(centre, QEvent(QEvent.Type.Resize))
    assert seen == []
    toast.show()
    QApplication.sendEvent(centre, QEvent(QEvent.Type.Resize))
    assert QEvent.Type.Resize in seen
    toast.dismiss()
    seen.clear()
    QApplication.sendEvent(centre, QEvent(QEvent.Type.Resize))
    QApplication.sendEvent(window, QEvent(QEvent.Type.WindowActivate))
    assert seen == []
    window.cycle = window.toast_ref = toast.window_ref = None
