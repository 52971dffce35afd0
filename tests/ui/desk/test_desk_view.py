"""The desk's flows against a real database: Next, the four actions, refusals, notes, phone."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from salesdesk.services import actions, leads, rules
from salesdesk.services.allocation import EMPTY_POOL
from salesdesk.ui.desk.appointment_dialog import AppointmentDialog
from salesdesk.ui.desk.call_back_dialog import CallBackDialog
from salesdesk.ui.desk.dead_dialog import DeadDialog
from salesdesk.ui.desk.lead_list_model import OVERDUE_ROLE
from salesdesk.ui.message_bar import INFO, WARNING
from salesdesk.ui.timefmt import format_datetime, local_to_utc


def _ids(model) -> list[int]:
    return [r.id for r in model.rows]


def _detail(desk, lead_id):
    return leads.get_lead(desk.db, desk.rep, lead_id).lead


def _dialog(desk, kind):
    desk.qtbot.waitUntil(lambda: desk.view.findChild(kind) is not None, timeout=5000)
    dialog = desk.view.findChild(kind)
    desk.qtbot.waitUntil(dialog.isVisible, timeout=5000)
    return dialog


def test_next_fills_the_panel_with_the_claimed_lead(desk, qtbot):
    (lead_id,) = desk.floor.leads(desk.pool, 1, phone="+1 555 010 0001", company="Contoso")
    with qtbot.waitSignal(desk.view.lead_shown, timeout=5000) as shown:
        qtbot.mouseClick(desk.view.next_button, Qt.MouseButton.LeftButton)
    assert shown.args == [lead_id]
    desk.wait()
    panel = desk.view.panel
    assert panel.lead_id == lead_id
    assert panel.field_text("Company") == "Contoso"
    assert panel.field_text("Phone") == "+1 555 010 0001"
    assert panel.field_text("Assigned") == format_datetime(desk.db.now())
    assert _ids(desk.view.current_model) == [lead_id]
    assert desk.view.tabs.tabText(0) == "Current (1)"
    assert _detail(desk, lead_id).owner_id == desk.rep.id
    assert [e.kind for e in panel.history_model.events] == ["created", "claimed"]


def test_next_disables_its_button_until_the_answer_is_back(desk, qtbot):
    desk.floor.leads(desk.pool, 1)
    desk.view.take_next()
    assert not desk.view.next_button.isEnabled()
    desk.wait()
    assert desk.view.next_button.isEnabled()


def test_next_clears_a_search_so_the_new_lead_is_visible(desk, qtbot):
    desk.floor.leads(desk.pool, 2)
    desk.claim()
    desk.view.search_edit.setText("nothing matches this")
    qtbot.wait(400)
    desk.wait()
    assert desk.view.current_model.rows == ()
    desk.view.take_next()
    desk.wait()
    assert desk.view.search_edit.text() == ""
    assert len(desk.view.current_model.rows) == 2
    assert desk.view.selected_lead_id in _ids(desk.view.current_model)


def test_search_filters_both_lists(desk, qtbot, clock):
    desk.floor.leads(desk.pool, 1, first_name="Grace", company="Fabrikam")
    desk.floor.leads(desk.pool, 1, first_name="Felix", company="Litware")
    a, b = sorted(desk.claim(2))
    desk.reload()
    assert len(desk.view.current_model.rows) == 2
    with qtbot.waitSignal(desk.view.snapshot_applied, timeout=5000):
        desk.view.search_edit.setText("fabri")
    assert [r.first_name for r in desk.view.current_model.rows] == ["Grace"]


def test_a_search_that_matches_nothing_says_so(desk, qtbot):
    desk.floor.leads(desk.pool, 1, first_name="Grace", company="Fabrikam")
    desk.claim(1)
    desk.reload()
    with qtbot.waitSignal(desk.view.message_shown, timeout=5000) as shown:
        desk.view.search_edit.setText("zzzz")
    assert desk.view.current_model.rows == ()
    assert shown.args == ["No leads in your lists match “zzzz”. Esc clears the search.", INFO]


def test_dead_asks_first_then_stamps_and_moves_on_to_the_next_lead(desk, qtbot):
    desk.floor.leads(desk.pool, 3)
    first, second, third = sorted(desk.claim(3))
    desk.view.show_lead(first)
    desk.wait()
    qtbot.mouseClick(
        desk.view.action_bar.buttons[desk.view.commands.dead], Qt.MouseButton.LeftButton
    )
    dialog = _dialog(desk, DeadDialog)
    dialog.reason_edit.setText("wrong number")
    qtbot.mouseClick(dialog.confirm_button, Qt.MouseButton.LeftButton)
    desk.wait()
    row = leads.lead_rows_by_id(desk.db, desk.floor.manager, [first])[0]
    assert row.status == "dead"
    assert row.dead_at == desk.db.now()
    assert first not in _ids(desk.view.current_model)
    assert first not in _ids(desk.view.call_back_model)
    assert desk.view.selected_lead_id == second
    assert desk.view.panel.lead_id == second
    assert "marked dead" in desk.view.message_bar.text


def test_cancelling_dead_changes_nothing(desk, qtbot):
    desk.floor.leads(desk.pool, 1)
    (lead_id,) = desk.claim()
    desk.view.show_lead(lead_id)
    desk.wait()
    desk.view.commands.dead.trigger()
    dialog = _dialog(desk, DeadDialog)
    dialog.reject()
    desk.wait()
    assert _detail(desk, lead_id).status == "current"
    assert _ids(desk.view.current_model) == [lead_id]


def test_call_back_moves_the_lead_to_call_backs_with_its_date(desk, qtbot):
    desk.floor.leads(desk.pool, 2)
    first, second = sorted(desk.claim(2))
    desk.view.show_lead(first)
    desk.wait()
    desk.view.commands.call_back.trigger()
    dialog = _dialog(desk, CallBackDialog)
    qtbot.mouseClick(dialog.quick_buttons["Tomorrow 10:00"], Qt.MouseButton.LeftButton)
    expected = local_to_utc(dialog.chosen_local())
    assert dialog.chosen_local().hour == 10
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    desk.wait()
    row = _detail(desk, first)
    assert row.status == "callback"
    assert row.call_back_at == expected
    assert _ids(desk.view.call_back_model) == [first]
    assert _ids(desk.view.current_model) == [second]
    assert desk.view.tabs.currentIndex() == 0
    assert desk.view.panel.lead_id == second
    assert desk.view.tabs.tabText(1) == "Call backs (1)"


def test_email_confirmed_stamps_the_date_and_keeps_the_lead_current(desk, qtbot):
    desk.floor.leads(desk.pool, 2)
    first, second = sorted(desk.claim(2))
    desk.view.show_lead(first)
    desk.wait()
    desk.view.commands.email_confirmed.trigger()
    desk.wait()
    row = _detail(desk, first)
    assert row.status == "current"
    assert row.email_confirmed_at == desk.db.now()
    assert _ids(desk.view.current_model) == [first, second]
    # The lead stays on screen, as the message says: a note typed next is for it.
    assert desk.view.panel.lead_id == first
    assert desk.view.panel.field_text("Date Email Confirmed") == format_datetime(desk.db.now())


def test_appointment_stamps_the_date_and_hands_the_lead_over(desk, qtbot):
    desk.floor.leads(desk.pool, 2)
    first, second = sorted(desk.claim(2))
    desk.view.show_lead(second)
    desk.wait()
    desk.view.commands.appointment.trigger()
    dialog = _dialog(desk, AppointmentDialog)
    assert "admin team is emailed" in dialog.findChild(QLabel).text()
    qtbot.mouseClick(dialog.confirm_button, Qt.MouseButton.LeftButton)
    desk.wait()
    row = leads.lead_rows_by_id(desk.db, desk.floor.manager, [second])[0]
    assert row.status == "appointment"
    assert row.appointment_at == desk.db.now()
    assert _ids(desk.view.current_model) == [first]
    assert desk.view.panel.lead_id == first  # wraps round to the remaining lead


def test_the_last_lead_actioned_leaves_an_empty_desk_that_says_press_next(desk, qtbot):
    desk.floor.leads(desk.pool, 1)
    (lead_id,) = desk.claim()
    desk.view.show_lead(lead_id)
    desk.wait()
    desk.view.commands.appointment.trigger()
    _dialog(desk, AppointmentDialog).accept()
    desk.wait()
    assert desk.view.panel.detail is None
    assert "press Next (N)" in desk.view.message_bar.text
    assert not desk.view.commands.dead.isEnabled()


def test_action_buttons_are_disabled_while_an_action_runs(desk, qtbot):
    desk.floor.leads(desk.pool, 2)
    first, _ = sorted(desk.claim(2))
    desk.view.show_lead(first)
    desk.wait()
    desk.view.commands.email_confirmed.trigger()
    buttons = desk.view.action_bar.buttons.values()
    assert not any(b.isEnabled() for b in buttons)
    desk.view.commands.appointment.trigger()  # a second click while busy does nothing
    desk.wait()
    assert all(b.isEnabled() for b in buttons)
    assert _detail(desk, first).status == "current"  # only Email Confirmed happened


# --- refusals in plain words ----------------------------------------------------------------


def test_an_empty_pool_is_said_in_words(desk, qtbot):
    with qtbot.waitSignal(desk.view.message_shown, timeout=5000) as shown:
        desk.view.take_next()
    assert shown.args == [EMPTY_POOL, WARNING]
    assert desk.view.message_bar.isVisible()
    assert desk.view.message_bar.text == EMPTY_POOL


def test_the_cap_is_said_in_words(desk, qtbot):
    admin = desk.floor.admin
    rules.update_rules(desk.db, admin, {"cap": 2})
    desk.floor.leads(desk.pool, 3)
    desk.claim(2)
    with qtbot.waitSignal(desk.view.message_shown, timeout=5000) as shown:
        desk.view.take_next()
    assert shown.args[0].startswith("You hold 2 current leads — the most allowed is 2.")
    assert shown.args[1] == WARNING


def test_one_at_a_time_is_said_in_words(desk, qtbot):
    rules.update_rules(desk.db, desk.floor.admin, {"one_at_a_time": True})
    desk.floor.leads(desk.pool, 2)
    desk.view.take_next()
    desk.wait()
    name = desk.view.panel.detail.lead.name
    with qtbot.waitSignal(desk.view.message_shown, timeout=5000) as shown:
        desk.view.take_next()
    assert shown.args[0].startswith(f"Finish your current lead first ({name})")


def test_a_lead_reassigned_meanwhile_is_refused_in_words_and_leaves_the_list(desk, qtbot):
    bob = desk.floor.rep("bob")
    desk.floor.leads(desk.pool, 2)
    first, second = sorted(desk.claim(2))
    desk.view.show_lead(first)
    desk.wait()
    leads.assign_leads(desk.db, desk.floor.manager, [first], bob.id)  # another client
    with qtbot.waitSignal(desk.view.message_shown, timeout=5000) as shown:
        desk.view.commands.email_confirmed.trigger()
    assert shown.args == [
        "This lead is no longer yours: it was reassigned or returned to the pool.",
        WARNING,
    ]
    desk.wait()
    assert _ids(desk.view.current_model) == [second]
    assert leads.lead_rows_by_id(desk.db, desk.floor.manager, [first])[0].owner_id == bob.id


def test_email_confirmed_without_an_address_is_refused_in_words(desk, qtbot):
    desk.floor.leads(desk.pool, 1, email=None, phone="+44 20 7946 0018")
    (lead_id,) = desk.claim()
    desk.view.show_lead(lead_id)
    desk.wait()
    with qtbot.waitSignal(desk.view.message_shown, timeout=5000) as shown:
        desk.view.commands.email_confirmed.trigger()
    assert shown.args[0] == "This lead has no email address, so no confirmation can be sent."
    assert _detail(desk, lead_id).email_confirmed_at is None


# --- notes, history, phone ---------------------------------------------------------------------


def test_a_note_is_added_and_earlier_owners_notes_are_shown(desk, qtbot):
    bob = desk.floor.rep("bob")
    desk.floor.leads(desk.pool, 1)
    (lead_id,) = desk.claim()
    leads.assign_leads(desk.db, desk.floor.manager, [lead_id], bob.id)
    actions.add_note(desk.db, bob, lead_id, "Prefers mornings; ask for Sam.")
    leads.assign_leads(desk.db, desk.floor.manager, [lead_id], desk.rep.id)
    desk.view.show_lead(lead_id)
    desk.wait()
    panel = desk.view.panel
    assert "Prefers mornings; ask for Sam." in panel.notes_view.toPlainText()
    assert "Bob" in panel.notes_view.toPlainText()
    kinds = [e.kind for e in panel.history_model.events]
    assert kinds[-2:] == ["reassigned", "reassigned"]

    panel.note_edit.setPlainText("Called, left a voicemail <b>twice</b>")
    qtbot.mouseClick(panel.add_note_button, Qt.MouseButton.LeftButton)
    desk.wait()
    text = panel.notes_view.toPlainText()
    assert "Called, left a voicemail <b>twice</b>" in text  # shown as typed, not as markup
    assert panel.note_edit.toPlainText() == ""
    notes = leads.get_lead(desk.db, desk.rep, lead_id).notes
    assert [n.body for n in notes][-1] == "Called, left a voicemail <b>twice</b>"


def test_the_phone_link_calls_and_stamps_last_contacted(desk, qtbot, opened_urls):
    desk.floor.leads(desk.pool, 1, phone="+1 (555) 010-0002")
    (lead_id,) = desk.claim()
    desk.view.show_lead(lead_id)
    desk.wait()
    assert desk.view.panel.field_text("Last contacted") == "—"
    desk.view.panel._values["Phone"].linkActivated.emit("tel:+15550100002")
    desk.wait()
    assert [u.toString() for u in opened_urls] == ["tel:+15550100002"]
    assert _detail(desk, lead_id).last_contacted_at == desk.db.now()
    assert desk.view.panel.field_text("Last contacted") == format_datetime(desk.db.now())


def test_overdue_call_backs_are_marked_and_listed_soonest_first(desk, qtbot, clock):
    desk.floor.leads(desk.pool, 3)
    a, b, c = sorted(desk.claim(3))
    now = desk.db.now()
    actions.schedule_call_back(desk.db, desk.rep, a, now + timedelta(days=2))
    actions.schedule_call_back(desk.db, desk.rep, b, now + timedelta(hours=1))
    actions.schedule_call_back(desk.db, desk.rep, c, now + timedelta(days=1))
    clock.advance(hours=2)  # b is now overdue (the clock job has not run yet)
    desk.reload()
    model = desk.view.call_back_model
    assert _ids(model) == [b, c, a]
    due = model.index(0, 0)
    assert model.data(due).startswith("⚠ ")
    assert model.data(due, OVERDUE_ROLE) is True
    assert "was due" in model.data(due, Qt.ItemDataRole.ToolTipRole)
    assert not model.data(model.index(1, 0)).startswith("⚠")
    assert desk.view.tabs.tabText(1) == "Call backs (3, 1 overdue)"


def test_a_slow_database_does_not_block_the_event_loop(desk, qtbot):
    """A real slow database: another connection holds SQLite's write lock for a while."""
    import itertools
    import sqlite3
    import time

    from PySide6.QtCore import QTimer

    desk.floor.leads(desk.pool, 1)
    blocker = sqlite3.connect(desk.db.url.database, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(20)
    try:
        ticks.append(time.perf_counter())
        desk.view.take_next()
        qtbot.wait(700)  # Next is waiting for the lock on the worker thread ...
        ticks.append(time.perf_counter())
        assert desk.view.is_busy("next")
        assert not desk.view.next_button.isEnabled()
        # ... while the event loop keeps running. A blocked loop shows as one gap
        # of the whole 700 ms; the longest gap is what tells, not the tick count,
        # which a loaded machine lowers without anything being blocked.
        assert len(ticks) > 4
        assert max(b - a for a, b in itertools.pairwise(ticks)) < 0.35
        qtbot.keyClicks(desk.view.search_edit, "abc")  # and the window keeps taking input
        assert desk.view.search_edit.text() == "abc"
    finally:
        blocker.execute("COMMIT")
        blocker.close()
        timer.stop()
    desk.wait()
    assert desk.view.panel.detail is not None


def test_clock_time_is_what_the_panel_shows(desk, qtbot, clock):
    desk.floor.leads(desk.pool, 1)
    clock.now = datetime(2026, 3, 2, 14, 30)
    desk.view.take_next()
    desk.wait()
    assert desk.view.panel.field_text("Assigned") == format_datetime(datetime(2026, 3, 2, 14, 30))
    # The default rules: back to the pool after 3 working days without action.
    thursday = format_datetime(datetime(2026, 3, 5, 14, 30))
    assert desk.view.panel.field_text("Back to pool") == f"{thursday} (no action)"


def test_switching_to_call_backs_opens_and_highlights_a_call_back(desk, qtbot):
    desk.floor.leads(desk.pool, 2)
    first, second = sorted(desk.claim(2))
    actions.schedule_call_back(desk.db, desk.rep, second, desk.db.now() + timedelta(days=1))
    desk.view.show_lead(first)
    desk.wait()
    desk.view.commands.show_call_backs.trigger()
    desk.wait()
    view = desk.view.call_back_view
    assert [i.row() for i in view.selectionModel().selectedRows()] == [0]
    assert desk.view.panel.lead_id == second
    assert desk.view.panel.field_text("Call Back Date") == format_datetime(
        desk.db.now() + timedelta(days=1)
    )


def _lose_first_answer(monkeypatch, module, name) -> list:
    """Make the first call of ``module.name`` commit for real, then lose its answer
    the way a dropped connection does. Returns the request ids of lost calls."""
    import functools

    from salesdesk.services.errors import DatabaseUnavailableError

    real = getattr(module, name)
    lost = []

    @functools.wraps(real)
    def answer_lost_once(*args, **kwargs):
        result = real(*args, **kwargs)  # committed for real
        if not lost:
            lost.append(kwargs.get("request_id"))
            raise DatabaseUnavailableError("server closed the connection unexpectedly")
        return result

    monkeypatch.setattr(module, name, answer_lost_once)
    return lost


def test_a_click_whose_answer_was_lost_is_not_done_twice_when_repeated(desk, qtbot, monkeypatch):
    """The connection drops right after Email Confirmed commits: the rep is told it
    failed and presses E again. The repeat carries the first click's id, so the
    service answers with the first outcome — one email, not two."""
    from sqlalchemy import func, select

    from salesdesk.models import OutboxMessage

    lost = _lose_first_answer(monkeypatch, actions, "confirm_email")
    desk.floor.leads(desk.pool, 1)
    (lead_id,) = desk.claim(1)
    desk.view.show_lead(lead_id)
    desk.wait()
    desk.view.commands.email_confirmed.trigger()
    desk.wait()
    desk.view.show_lead(lead_id)
    desk.wait()
    desk.view.commands.email_confirmed.trigger()  # the rep tries again
    desk.wait()

    with desk.db.read() as session:
        emails = session.scalar(select(func.count()).select_from(OutboxMessage))
    assert lost and lost[0]
    assert emails == 1
    assert _detail(desk, lead_id).email_confirmed_at == desk.db.now()


def test_a_next_whose_answer_was_lost_gives_the_same_lead_when_repeated(desk, monkeypatch):
    """Next commits but its answer is lost; the rep presses Next again and gets
    that same lead on screen, not a second one beside it."""
    from salesdesk.services import allocation

    lost = _lose_first_answer(monkeypatch, allocation, "claim_next_lead")
    desk.floor.leads(desk.pool, 3)
    desk.view.take_next()
    desk.wait()
    desk.view.take_next()  # the rep tries again
    desk.wait()

    current = leads.my_current_leads(desk.db, desk.rep)
    assert lost and lost[0]
    assert len(current) == 1
    assert desk.view.panel.lead_id == current[0].id
    desk.view.take_next()  # a new click is a new Next
    desk.wait()
    assert len(leads.my_current_leads(desk.db, desk.rep)) == 2


def test_a_leads_extra_imported_fields_are_shown_as_they_came(desk):
    custom = {"Website": "https://acme.example", "Job title": "<b>CFO</b>", "Empty": " "}
    (lead_id,) = desk.floor.leads(desk.pool, 1, custom=custom)
    desk.claim()
    desk.view.show_lead(lead_id)
    desk.wait()
    panel = desk.view.panel
    assert panel.custom_fields() == [
        ("Website", "https://acme.example"),
        ("Job title", "<b>CFO</b>"),  # as typed, never markup
    ]
    (plain,) = desk.floor.leads(desk.pool, 1)  # the next lead has none: the rows go
    desk.claim()
    desk.view.show_lead(plain)
    desk.wait()
    assert panel.custom_fields() == []


def test_a_long_history_opens_at_its_newest_line(desk):
    desk.floor.leads(desk.pool, 1)
    (lead_id,) = desk.claim()
    for _ in range(25):
        actions.log_contact(desk.db, desk.rep, lead_id)
    actions.confirm_email(desk.db, desk.rep, lead_id)
    desk.view.show_lead(lead_id)
    desk.wait()
    view = desk.view.panel.history_view
    assert view.verticalScrollBar().maximum() > 0  # longer than the box
    assert view.verticalScrollBar().value() == 0
    assert view.model().index(0, 2).data().startswith("Email confirmed")


def _notes(desk, lead_id) -> list[str]:
    return [n.body for n in leads.get_lead(desk.db, desk.floor.manager, lead_id).notes]


def test_a_note_typed_and_left_is_saved_when_another_lead_is_opened(desk, qtbot):
    desk.floor.leads(desk.pool, 2, first_name="Mia", last_name="Muller")
    first, second = sorted(desk.claim(2))
    desk.view.show_lead(first)
    desk.wait()
    desk.view.panel.note_edit.setPlainText("Spoke to the CFO, send pricing Tuesday")
    desk.view.show_lead(second)  # the rep clicks another lead without pressing Add note
    desk.wait()
    assert desk.view.panel.lead_id == second
    assert desk.view.panel.note_edit.toPlainText() == ""
    assert _notes(desk, first) == ["Spoke to the CFO, send pricing Tuesday"]
    assert _notes(desk, second) == []
    assert desk.view.message_bar.text == "Your note on Mia Muller was saved."


@pytest.mark.parametrize("action", ["dead", "appointment"])
def test_a_note_typed_before_an_action_is_saved_before_the_lead_leaves(desk, action):
    """Dead and Appointment take the lead out of the rep's hands; the note goes in first."""
    desk.floor.leads(desk.pool, 2)
    first, second = sorted(desk.claim(2))
    desk.view.show_lead(second)
    desk.wait()
    desk.view.panel.note_edit.setPlainText("Not interested until next year")
    getattr(desk.view.commands, action).trigger()
    _dialog(desk, DeadDialog if action == "dead" else AppointmentDialog).accept()
    desk.wait()
    assert _notes(desk, second) == ["Not interested until next year"]
    assert desk.view.panel.lead_id == first and desk.view.panel.note_edit.toPlainText() == ""


def test_a_note_refused_comes_back_into_the_box(desk, qtbot):
    from salesdesk.services.actions import MAX_NOTE_LENGTH

    desk.floor.leads(desk.pool, 1)
    (lead_id,) = desk.claim()
    desk.view.show_lead(lead_id)
    desk.wait()
    panel = desk.view.panel
    too_long = "x" * (MAX_NOTE_LENGTH + 1)
    panel.note_edit.setPlainText(too_long)
    qtbot.mouseClick(panel.add_note_button, Qt.MouseButton.LeftButton)
    desk.wait()
    assert "at most" in desk.view.message_bar.text
    assert panel.note_edit.toPlainText() == too_long
    assert _notes(desk, lead_id) == []


def test_a_note_whose_answer_was_lost_is_saved_once_when_added_again(desk, qtbot, monkeypatch):
    """Add note commits but the connection drops before the answer: the rep is told
    it failed, the note stays in the box, and pressing Add note again answers with
    the note already saved — one note, not two. A new note after that is new."""
    lost = _lose_first_answer(monkeypatch, actions, "add_note")
    desk.floor.leads(desk.pool, 1)
    (lead_id,) = desk.claim()
    desk.view.show_lead(lead_id)
    desk.wait()
    panel = desk.view.panel

    panel.note_edit.setPlainText("Asked for the brochure.")
    qtbot.mouseClick(panel.add_note_button, Qt.MouseButton.LeftButton)
    desk.wait()
    assert lost and lost[0]
    assert "server closed the connection" in desk.view.message_bar.text
    assert panel.note_edit.toPlainText() == "Asked for the brochure."  # not lost either
    qtbot.mouseClick(panel.add_note_button, Qt.MouseButton.LeftButton)  # the rep tries again
    desk.wait()

    notes = leads.get_lead(desk.db, desk.rep, lead_id).notes
    assert [n.body for n in notes] == ["Asked for the brochure."]
    assert panel.note_edit.toPlainText() == ""
    assert panel.notes_view.toPlainText().count("Asked for the brochure.") == 1

    panel.note_edit.setPlainText("Asked for the brochure.")  # a deliberate second note
    qtbot.mouseClick(panel.add_note_button, Qt.MouseButton.LeftButton)
    desk.wait()
    assert len(leads.get_lead(desk.db, desk.rep, lead_id).notes) == 2


def test_an_edited_note_after_a_lost_answer_is_a_new_note(desk, qtbot, monkeypatch):
    """The rep rewrites the note before pressing Add note again: the rewritten note
    is saved too, rather than being answered with (and replaced by) the first one."""
    _lose_first_answer(monkeypatch, actions, "add_note")
    desk.floor.leads(desk.pool, 1)
    (lead_id,) = desk.claim()
    desk.view.show_lead(lead_id)
    desk.wait()
    panel = desk.view.panel
    panel.note_edit.setPlainText("Call on Fri")
    qtbot.mouseClick(panel.add_note_button, Qt.MouseButton.LeftButton)
    desk.wait()
    panel.note_edit.setPlainText("Call on Friday at 10")
    qtbot.mouseClick(panel.add_note_button, Qt.MouseButton.LeftButton)
    desk.wait()

    notes = leads.get_lead(desk.db, desk.rep, lead_id).notes
    assert [n.body for n in notes] == ["Call on Fri", "Call on Friday at 10"]
    assert panel.note_edit.toPlainText() == ""


def test_a_refused_reload_is_said_once_not_retried_in_a_loop(desk, qtbot, monkeypatch):
    """A deactivated rep's desk is refused on reload: the refusal is shown and
    the desk does not reload again and again."""
    from salesdesk.services import team
    from salesdesk.ui.desk import desk_view

    loads = []
    real = desk_view.load_desk

    def counted(*args, **kwargs):
        loads.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(desk_view, "load_desk", counted)
    team.deactivate_user(desk.db, desk.floor.admin, desk.rep.id)
    with qtbot.waitSignal(desk.view.message_shown, timeout=5000) as shown:
        desk.view.refresh()
    qtbot.wait(300)

    assert "deactivated" in shown.args[0]
    assert len(loads) == 1


def test_names_with_apostrophes_and_ampersands_show_as_typed(desk):
    """No HTML entities on screen: "O'Brien" and "Smith & Sons <UK>" read as typed."""
    (lead_id,) = desk.floor.leads(
        desk.pool, 1, first_name="Isla", last_name="O'Brien", company="Smith & Sons <UK>"
    )
    desk.claim(1)
    desk.view.show_lead(lead_id)
    desk.wait()

    assert desk.view.panel.title_text() == "Isla O'Brien"
    assert desk.view.panel.field_text("Company") == "Smith & Sons <UK>"


def test_email_confirmed_says_the_mail_waits_when_no_mail_server_is_set_up(desk, qtbot):
    desk.floor.leads(desk.pool, 2)
    first, second = sorted(desk.claim(2))
    desk.view.show_lead(first)
    desk.wait()
    with qtbot.waitSignal(desk.view.message_shown, timeout=5000) as shown:
        desk.view.commands.email_confirmed.trigger()
        desk.wait()
    assert "is queued: no mail server is set up yet" in shown.args[0]

    rules.update_rules(
        desk.db,
        desk.floor.admin,
        {"mail_host": "smtp.example.com", "mail_from_address": "desk@example.com"},
    )
    desk.reload()
    desk.view.show_lead(second)
    desk.wait()
    with qtbot.waitSignal(desk.view.message_shown, timeout=5000) as shown:
        desk.view.commands.email_confirmed.trigger()
        desk.wait()
    assert "is on its way" in shown.args[0]


def test_a_narrow_window_keeps_the_lead_names_readable(desk, qtbot):
    """At 1024 px and below the list is narrow; names must not shrink to "…"."""
    from salesdesk.ui.desk.desk_view import NAME_SAMPLE

    desk.floor.leads(desk.pool, 1)
    desk.view.take_next()
    desk.wait()
    for width in (1280, 1024):  # a window made narrower, as a rep on a small screen would
        desk.view.resize(width, 700)
        qtbot.wait(50)
    view = desk.view.current_view
    name_width = view.fontMetrics().horizontalAdvance(NAME_SAMPLE)
    assert view.columnWidth(0) >= name_width
