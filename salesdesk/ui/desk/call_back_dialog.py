"""Call Back: pick the day (and, if it matters, the time) a lead comes back.

The calendar cannot go into the past (earlier days are not selectable) nor
more than a year ahead (the service's limit). A time earlier than now on today
is refused in words before the dialog can close. Times are picked in the rep's
local time and handed to the service as naive UTC.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import date, datetime, time, timedelta

from PySide6.QtCore import QDate, QTime
from PySide6.QtGui import QPalette, QTextCharFormat
from PySide6.QtWidgets import (
    QCalendarWidget,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from salesdesk.services.workdays import working_day_after
from salesdesk.ui.timefmt import describe_delta, local_now, local_to_utc

MAX_DAYS_AHEAD = 365
DEFAULT_TIME = time(10, 0)


class CallBackDialog(QDialog):
    """A calendar, an optional time and quick picks; ``chosen_utc()`` after ``accepted``.

    Args:
        lead_name: who is to be called back (shown in the question).
        now: returns the current naive-UTC time (the database's clock).
    """

    def __init__(
        self, lead_name: str, now: Callable[[], datetime], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._now = now
        self.setWindowTitle("Call back")
        today = self._today()

        question = QLabel(f"When should <b>{html.escape(lead_name)}</b> be called back?")
        question.setWordWrap(True)

        self.quick_buttons: dict[str, QPushButton] = {}
        quick = QGridLayout()
        quick.setHorizontalSpacing(6)
        for i, (label, picker) in enumerate(self._quick_picks()):
            button = QPushButton(label)
            button.setAutoDefault(False)
            button.clicked.connect(lambda _=False, p=picker: self._pick(p()))
            self.quick_buttons[label] = button
            quick.addWidget(button, 0, i)

        self.calendar = QCalendarWidget()
        self.calendar.setGridVisible(True)
        self.calendar.setMinimumDate(_qdate(today))
        self.calendar.setMaximumDate(_qdate(today + timedelta(days=MAX_DAYS_AHEAD)))
        self.calendar.setSelectedDate(_qdate(today + timedelta(days=1)))
        self.calendar.setToolTip("Earlier days cannot be picked: a call back is in the future.")
        self._grey_out_past_days(today)
        self.calendar.selectionChanged.connect(self._update)
        # Arrow keys move through the days; Enter (or a double click) takes the day.
        self.calendar.activated.connect(lambda _date: self.accept())

        self.time_check = QCheckBox("At a set time:")
        self.time_check.setChecked(True)
        self.time_check.toggled.connect(self._on_time_toggled)
        self.time_edit = QTimeEdit(QTime(DEFAULT_TIME.hour, DEFAULT_TIME.minute))
        self.time_edit.setDisplayFormat("HH:mm")
        self.time_edit.timeChanged.connect(self._update)
        time_row = QHBoxLayout()
        time_row.addWidget(self.time_check)
        time_row.addWidget(self.time_edit)
        time_row.addStretch(1)

        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setMinimumHeight(self.summary.fontMetrics().lineSpacing() * 2 + 4)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Set call back")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(question)
        layout.addWidget(QLabel("Quick picks:"))
        layout.addLayout(quick)
        layout.addWidget(self.calendar)
        layout.addLayout(time_row)
        layout.addWidget(self.summary)
        layout.addWidget(self.buttons)
        self.calendar.setFocus()
        self._update()

    # --- the choice -----------------------------------------------------------------------

    def chosen_local(self) -> datetime:
        """The chosen moment as naive local time (midnight when no time is set)."""
        day = self.calendar.selectedDate().toPython()
        if self.time_check.isChecked():
            t = self.time_edit.time()
            return datetime.combine(day, time(t.hour(), t.minute()))
        return datetime.combine(day, time(0, 0))

    def chosen_utc(self) -> datetime:
        """The chosen moment as naive UTC, what ``actions.schedule_call_back`` takes."""
        return local_to_utc(self.chosen_local())

    def refusal(self) -> str | None:
        """Why the current choice cannot be saved, in words; None when it can."""
        now_local = local_now(self._now())
        chosen = self.chosen_local()
        if chosen.date() < now_local.date():
            return "That day has passed. Pick today or a later day."
        if not self.time_check.isChecked() and chosen.date() == now_local.date():
            return "For today, tick “At a set time” and pick a time later than now."
        if chosen <= now_local:
            return "That time has already passed. Pick a later time, or another day."
        return None

    def set_choice(self, moment: datetime, with_time: bool = True) -> None:
        """Select a local date and time (what a quick pick or a test does)."""
        self.calendar.setSelectedDate(_qdate(moment.date()))
        self.time_check.setChecked(with_time)
        self.time_edit.setTime(QTime(moment.hour, moment.minute))
        self._update()

    def accept(self) -> None:
        if self.refusal() is not None:
            self._update()
            return
        super().accept()

    # --- internals ---------------------------------------------------------------------------

    def _today(self) -> date:
        return local_now(self._now()).date()

    def _grey_out_past_days(self, today: date) -> None:
        # Qt refuses them already; this makes them look refused too (weekends stay red otherwise).
        past = QTextCharFormat()
        past.setForeground(
            self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
        )
        for days_back in range(1, 43):  # every day a month page can show before today
            self.calendar.setDateTextFormat(_qdate(today - timedelta(days=days_back)), past)

    def _quick_picks(self) -> list[tuple[str, Callable[[], datetime]]]:
        """One-click times, on working days: on a Friday "Tomorrow" would be a Saturday."""

        def at(day: date, hour: int) -> Callable[[], datetime]:
            return lambda: datetime.combine(day, time(hour, 0))

        def in_an_hour() -> datetime:
            soon = local_now(self._now()) + timedelta(hours=1)
            return soon.replace(second=0, microsecond=0)

        today = self._today()
        first, third = working_day_after(today, 1), working_day_after(today, 3)
        monday = today + timedelta(days=7 - today.weekday())  # always a later Monday
        name = "Tomorrow" if first == today + timedelta(days=1) else f"{first:%A}"
        picks = [
            ("In 1 hour", in_an_hour),
            (f"{name} 10:00", at(first, 10)),
            (f"{name} 14:00", at(first, 14)),
            ("In 3 working days 10:00", at(third, 10)),
        ]
        if monday != first:  # from Friday to Sunday the first working day is Monday
            picks.append(("Next Monday 10:00", at(monday, 10)))
        return picks

    def _pick(self, moment: datetime) -> None:
        self.set_choice(moment, with_time=True)

    def _on_time_toggled(self, checked: bool) -> None:
        self.time_edit.setEnabled(checked)
        self._update()

    def _update(self) -> None:
        refusal = self.refusal()
        self.ok_button.setEnabled(refusal is None)
        if refusal is not None:
            self.summary.setText(f"<span style='color:#c62828'><b>{refusal}</b></span>")
            return
        chosen = self.chosen_local()
        day = f"{chosen:%A} {chosen.day} {chosen:%B %Y}"
        if self.time_check.isChecked():
            delta = describe_delta(local_to_utc(chosen), self._now())
            self.summary.setText(f"Call back on <b>{day} at {chosen:%H:%M}</b> ({delta}).")
        else:
            self.summary.setText(
                f"Call back on <b>{day}</b>, any time: the lead is back in Current "
                "at the start of that day."
            )


def _qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)
