"""Live views: other clients' changes reach the desk without a refresh."""

from __future__ import annotations

from datetime import timedelta

import pytest

from salesdesk.services import actions, leads
from salesdesk.ui.live import LiveWatcher
from salesdesk.ui.notification_bell import NotificationBell

# The bell's list is a popup; the offscreen platform of the tests cannot raise it
# or grab the keyboard for it (a real desktop can), and says so.
OFFSCREEN_POPUP = pytest.mark.qt_log_ignore(
    "This plugin does not support raise", "This plugin does not support grabbing"
)


@pytest.fixture
def watcher(desk):
    live = LiveWatcher(desk.context, poll_ms=50, jobs_ms=0)
    live.start()
    yield live
    live.stop()


def _ids(model):
    return [r.id for r in model.rows]


def test_a_lead_reassigned_away_disappears_without_a_refresh(desk, watcher, qtbot):
    bob = desk.floor.rep("bob")
    desk.floor.leads(desk.pool, 2)
    first, second = sorted(desk.claim(2))
    desk.view.show_lead(first)
    desk.wait()
    assert _ids(desk.view.current_model) == [first, second]
    leads.assign_leads(desk.db, desk.floor.manager, [first], bob.id)  # a manager, elsewhere
    qtbot.waitUntil(lambda: _ids(desk.view.current_model) == [second], timeout=5000)
    assert "no longer in your lists" in desk.view.message_bar.text
    qtbot.waitUntil(lambda: desk.view.panel.lead_id == second, timeout=5000)


def test_a_call_back_that_comes_due_moves_into_current(desk, qtbot, clock):
    desk.floor.leads(desk.pool, 1)
    (lead_id,) = desk.claim()
    actions.schedule_call_back(desk.db, desk.rep, lead_id, desk.db.now() + timedelta(hours=1))
    desk.reload()
    assert _ids(desk.view.call_back_model) == [lead_id]
    live = LiveWatcher(desk.context, poll_ms=50, jobs_ms=50)  # the embedded floor runs jobs
    live.start()
    try:
        clock.advance(hours=1, minutes=1)
        qtbot.waitUntil(lambda: _ids(desk.view.current_model) == [lead_id], timeout=5000)
        assert desk.view.call_back_model.rows == ()
    finally:
        live.stop()


def test_a_team_client_does_not_run_the_clock_jobs(desk, qtbot, clock, make_context):
    desk.floor.leads(desk.pool, 1)
    (lead_id,) = desk.claim()
    actions.schedule_call_back(desk.db, desk.rep, lead_id, desk.db.now() + timedelta(hours=1))
    team_context = make_context(desk.rep, embedded=False)
    live = LiveWatcher(team_context, poll_ms=50)
    live.start()
    try:
        clock.advance(hours=2)
        qtbot.wait(400)
        desk.wait()
        assert leads.get_lead(desk.db, desk.rep, lead_id).lead.status == "callback"
    finally:
        live.stop()


@OFFSCREEN_POPUP
def test_the_bell_counts_new_notifications_as_they_arrive(desk, watcher, qtbot):
    bell = NotificationBell(desk.context)
    qtbot.addWidget(bell)
    (lead_id,) = desk.floor.leads(desk.pool, 1)
    leads.assign_leads(desk.db, desk.floor.manager, [lead_id], desk.rep.id)
    qtbot.waitUntil(lambda: bell.text() == "1", timeout=5000)
    assert "1 unread" in bell.toolTip()
    qtbot.waitUntil(lambda: _ids(desk.view.current_model) == [lead_id], timeout=5000)

    bell.show()
    bell.click()
    qtbot.waitUntil(bell.popup.isVisible, timeout=5000)
    assert bell.model.rows[0].lead_id == lead_id
    assert "assigned to you" in bell.model.rows[0].message
    qtbot.waitUntil(lambda: desk.context.unread == 0, timeout=5000)
    assert bell.text() == ""


@OFFSCREEN_POPUP
def test_clicking_a_notification_opens_its_lead(desk, qtbot):
    bell = NotificationBell(desk.context)
    qtbot.addWidget(bell)
    bell.lead_requested.connect(desk.view.show_lead)
    (lead_id,) = desk.floor.leads(desk.pool, 1)
    leads.assign_leads(desk.db, desk.floor.manager, [lead_id], desk.rep.id)
    bell.show()
    bell.click()
    qtbot.waitUntil(bell.popup.isVisible, timeout=5000)
    with qtbot.waitSignal(desk.view.lead_shown, timeout=5000) as shown:
        bell.popup.list_view.clicked.emit(bell.model.index(0, 0))
    assert shown.args == [lead_id]
    assert not bell.popup.isVisible()


@pytest.fixture
def smtp():
    from tests.services._smtp import running_server

    yield from running_server()


def test_the_embedded_floor_delivers_mail_itself(desk, qtbot, smtp):
    """Email Confirmed on the desk reaches a real SMTP server, with no `salesdesk worker`."""
    from tests.services._smtp import use_mail_server

    use_mail_server(desk.db, desk.floor.admin, smtp.port)
    (lead_id,) = desk.floor.leads(desk.pool, 1, email="grace@example.com")
    desk.claim()
    desk.view.show_lead(lead_id)
    desk.wait()
    live = LiveWatcher(desk.context, poll_ms=50, jobs_ms=100)
    live.start()
    try:
        desk.view.commands.email_confirmed.trigger()
        qtbot.waitUntil(lambda: len(smtp.inbox.received) == 1, timeout=10_000)
        assert smtp.inbox.received[0].rcpt_tos == ["grace@example.com"]
        qtbot.wait(300)  # more rounds: still exactly one message
        assert len(smtp.inbox.received) == 1
    finally:
        live.stop()


@OFFSCREEN_POPUP
def test_a_notice_about_a_lead_that_went_away_says_so_without_naming_another(desk, qtbot):
    bob = desk.floor.rep("bob")
    desk.floor.leads(desk.pool, 2)
    first, second = sorted(desk.claim(2))
    desk.view.show_lead(second)
    desk.wait()
    leads.assign_leads(desk.db, desk.floor.manager, [first], bob.id)
    bell = NotificationBell(desk.context)
    qtbot.addWidget(bell)
    bell.lead_requested.connect(desk.view.show_lead)
    bell.show()
    bell.click()
    qtbot.waitUntil(bell.popup.isVisible, timeout=5000)
    assert "reassigned to Bob" in bell.model.rows[0].message
    with qtbot.waitSignal(desk.view.message_shown, timeout=5000) as shown:
        bell.popup.list_view.clicked.emit(bell.model.index(0, 0))
    assert shown.args[0].startswith("That lead is no longer in your lists")
    desk.wait()
    assert desk.view.panel.lead_id == second  # back on the work that is left
