"""The Call Back dialog: no past dates, quick picks, local time handed over as UTC."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
from PySide6.QtCore import QDate

from salesdesk.ui.desk.call_back_dialog import MAX_DAYS_AHEAD, CallBackDialog

NOW_UTC = datetime(2026, 3, 2, 15, 30)  # Monday 16:30 in Berlin, 10:30 in New York


@pytest.fixture
def berlin(monkeypatch):
    """Run the test in a zone that is not UTC, so a missed conversion shows."""
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def dialog(qtbot, berlin):
    d = CallBackDialog("Ada Lovelace", lambda: NOW_UTC)
    qtbot.addWidget(d)
    d.show()
    return d


def test_past_days_cannot_be_picked(dialog):
    today = QDate(2026, 3, 2)
    assert dialog.calendar.minimumDate() == today
    assert dialog.calendar.maximumDate() == today.addDays(MAX_DAYS_AHEAD)
    dialog.calendar.setSelectedDate(today.addDays(-1))
    assert dialog.calendar.selectedDate() >= today


def test_a_time_that_has_passed_today_is_refused_in_words(dialog, qtbot):
    dialog.set_choice(datetime(2026, 3, 2, 16, 0))  # local; now is 16:30 local
    assert not dialog.ok_button.isEnabled()
    assert "already passed" in dialog.summary.text()
    dialog.accept()
    assert dialog.isVisible()  # refused: still open
    dialog.set_choice(datetime(2026, 3, 2, 17, 0))
    assert dialog.ok_button.isEnabled()
    assert "in 30 minutes" in dialog.summary.text()


def test_today_without_a_time_is_refused(dialog):
    dialog.set_choice(datetime(2026, 3, 2, 0, 0), with_time=False)
    assert dialog.refusal() is not None
    assert not dialog.ok_button.isEnabled()
    dialog.set_choice(datetime(2026, 3, 4, 0, 0), with_time=False)
    assert dialog.refusal() is None
    assert dialog.chosen_utc() == datetime(2026, 3, 3, 23, 0)  # midnight in Berlin


def test_quick_pick_tomorrow_ten_is_local_ten_handed_over_as_utc(dialog, qtbot):
    dialog.quick_buttons["Tomorrow 10:00"].click()
    assert dialog.chosen_local() == datetime(2026, 3, 3, 10, 0)
    assert dialog.chosen_utc() == datetime(2026, 3, 3, 9, 0)  # Berlin is UTC+1 in March
    assert dialog.ok_button.isEnabled()


def test_every_quick_pick_is_in_the_future(dialog):
    now_local = datetime(2026, 3, 2, 16, 30)
    for label, button in dialog.quick_buttons.items():
        button.click()
        assert dialog.refusal() is None, label
        assert dialog.chosen_local() > now_local, label
    dialog.quick_buttons["Next Monday 10:00"].click()
    assert dialog.chosen_local() == datetime(2026, 3, 9, 10, 0)
    dialog.quick_buttons["In 1 hour"].click()
    assert dialog.chosen_local() == datetime(2026, 3, 2, 17, 30)


def test_quick_picks_skip_the_weekend(qtbot, berlin):
    friday = datetime(2026, 3, 6, 15, 30)  # 16:30 in Berlin
    d = CallBackDialog("Ada Lovelace", lambda: friday)
    qtbot.addWidget(d)
    assert list(d.quick_buttons) == [
        "In 1 hour",
        "Monday 10:00",
        "Monday 14:00",
        "In 3 working days 10:00",
    ]  # no "Next Monday": it is the same Monday
    d.quick_buttons["Monday 10:00"].click()
    assert d.chosen_local() == datetime(2026, 3, 9, 10, 0)
    d.quick_buttons["In 3 working days 10:00"].click()
    assert d.chosen_local() == datetime(2026, 3, 11, 10, 0)  # Wednesday


def test_accepting_a_valid_choice_closes_the_dialog(dialog, qtbot):
    dialog.set_choice(datetime(2026, 3, 5, 9, 15))
    with qtbot.waitSignal(dialog.accepted, timeout=1000):
        dialog.ok_button.click()
    assert dialog.chosen_utc() == datetime(2026, 3, 5, 8, 15)
    assert dialog.chosen_utc() - NOW_UTC < timedelta(days=MAX_DAYS_AHEAD)
