"""The manager's filters: pool, status, owner, source, a date range and a text search.

The bar only turns choices into a :class:`LeadFilter`; the database does the
filtering. Text is applied after a short pause in typing, every other choice
at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta

from PySide6.QtCore import QDate, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from salesdesk.services.lead_table import STATUS_WORDS, LeadFilter
from salesdesk.services.records import PoolRow, UserRow
from salesdesk.ui.timefmt import local_to_utc

SEARCH_DELAY_MS = 300
ANYONE, UNASSIGNED = -1, -2
HELD = "held"

# (label, LeadFilter field prefix) for the date range.
DATE_FIELDS = (
    ("Added", "created"),
    ("Assigned", "assigned"),
    ("Last contacted", "contacted"),
    ("Call back", "call_back"),
)


class FilterBar(QWidget):
    """Every filter the manager's table offers.

    Signals:
        filters_changed(object): the :class:`LeadFilter` now chosen.
    """

    filters_changed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search name, company, email or phone")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(180)
        self.pool = QComboBox()
        self.pool.setToolTip("Show one pool's leads")
        self.status = QComboBox()
        self.status.setToolTip("Show leads in one state")
        self.status.addItem("Any status", None)
        self.status.addItem("Held by a rep (current or call back)", HELD)
        for value, words in STATUS_WORDS.items():
            self.status.addItem(words, value)
        self.owner = QComboBox()
        self.owner.setToolTip("Show one person's leads, or those nobody holds")
        self.source = QComboBox()
        self.source.setToolTip("Show leads from one source")
        self.date_field = QComboBox()
        self.date_field.addItem("Any date", None)
        for label, prefix in DATE_FIELDS:
            self.date_field.addItem(f"{label} between", prefix)
        self.date_from = QDateEdit()
        self.date_to = QDateEdit()
        for edit in (self.date_from, self.date_to):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("d MMM yyyy")
        today = QDate.currentDate()
        self.date_from.setDate(today.addDays(-7))
        self.date_to.setDate(today)
        self.date_to.setToolTip("Up to and including this day")
        self._and = QLabel("and")
        self.clear = QPushButton("Clear filters")
        self.clear.setToolTip("Show every lead again")

        # The two combos with long entries may get narrower than their longest
        # entry (their lists still show it whole), so the bar, and the manager's
        # window with it, fits a 1024-pixel screen.
        for combo in (self.status, self.date_field):
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(11)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.search, 2)
        for widget in (self.pool, self.status, self.owner, self.source):
            layout.addWidget(widget, 1)
        layout.addWidget(self.date_field)
        layout.addWidget(self.date_from)
        layout.addWidget(self._and)
        layout.addWidget(self.date_to)
        layout.addWidget(self.clear)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SEARCH_DELAY_MS)
        self._timer.timeout.connect(self._emit)
        self._quiet = False
        self.search.textChanged.connect(self._timer.start)
        self.search.returnPressed.connect(self._emit)
        for combo in (self.pool, self.status, self.owner, self.source, self.date_field):
            combo.currentIndexChanged.connect(self._emit)
        self.date_from.dateChanged.connect(self._emit)
        self.date_to.dateChanged.connect(self._emit)
        self.clear.clicked.connect(self.reset)
        self.set_choices([], [], [])
        self._sync_dates()

    def set_choices(
        self, pools: Sequence[PoolRow], people: Sequence[UserRow], sources: Sequence[str]
    ) -> None:
        """Fill the pool, owner and source lists, keeping what is chosen where it still exists."""
        self._quiet = True
        try:
            _refill(self.pool, [("Any pool", None)] + [(p.name, p.id) for p in pools])
            owners: list[tuple[str, object]] = [
                ("Any owner", ANYONE),
                ("Unassigned", UNASSIGNED),
            ]
            owners += [(u.display_name + ("" if u.active else " (inactive)"), u.id) for u in people]
            _refill(self.owner, owners)
            _refill(self.source, [("Any source", None)] + [(s, s) for s in sources])
        finally:
            self._quiet = False

    def reset(self) -> None:
        self._quiet = True
        try:
            self.search.clear()
            for combo in (self.pool, self.status, self.owner, self.source, self.date_field):
                combo.setCurrentIndex(0)
        finally:
            self._quiet = False
        self._timer.stop()
        self._emit()

    def current_filter(self) -> LeadFilter:
        """The choices on screen as a filter (dates are whole local days)."""
        values: dict[str, object] = {"text": self.search.text().strip()}
        pool = self.pool.currentData()
        if pool is not None:
            values["pool_id"] = pool
        status = self.status.currentData()
        if status == HELD:
            values["statuses"] = ("current", "callback")
        elif status is not None:
            values["statuses"] = (status,)
        owner = self.owner.currentData()
        if owner == UNASSIGNED:
            values["unassigned"] = True
        elif owner not in (None, ANYONE):
            values["owner_id"] = owner
        source = self.source.currentData()
        if source:
            values["source"] = source
        prefix = self.date_field.currentData()
        if prefix:
            start = self.date_from.date().toPython()
            end = self.date_to.date().toPython()
            if end < start:
                start, end = end, start
            values[f"{prefix}_from"] = local_to_utc(datetime.combine(start, time()))
            after = datetime.combine(end, time()) + timedelta(days=1)
            values[f"{prefix}_to"] = local_to_utc(after)
        return LeadFilter(**values)  # type: ignore[arg-type]

    def _emit(self) -> None:
        self._sync_dates()
        if not self._quiet:
            self._timer.stop()
            self.filters_changed.emit(self.current_filter())

    def _sync_dates(self) -> None:
        on = self.date_field.currentData() is not None
        for widget in (self.date_from, self.date_to, self._and):
            widget.setVisible(on)


def _refill(combo: QComboBox, items: Sequence[tuple[str, object]]) -> None:
    chosen = combo.currentData()
    combo.blockSignals(True)
    combo.clear()
    for label, value in items:
        combo.addItem(label, value)
    index = combo.findData(chosen) if chosen is not None else 0
    combo.setCurrentIndex(max(0, index))
    combo.blockSignals(False)
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(8)
