"""The team panel as a table: one rep a row, an idle rep tinted so it stands out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

from salesdesk.services.stats import IDLE_AFTER, RepActivityRow
from salesdesk.ui.timefmt import describe_delta, format_datetime

_Index = QModelIndex | QPersistentModelIndex
COLUMNS = ("Rep", "Current", "Call backs", "New today", "Actions today", "Last activity")
TIPS = (
    None,
    "Leads in the rep's Current list now",
    "Leads the rep holds with a call back date",
    "Leads that reached the rep today: taken with Next, routed, or assigned by a manager",
    "Calls logged and action buttons pressed today",
    f"The rep's latest action; idle after {int(IDLE_AFTER.total_seconds() // 60)} minutes",
)
IDLE_TINT = QColor(230, 160, 0, 60)


class TeamModel(QAbstractTableModel):
    """Reps by name with what they hold and what they did today."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: tuple[RepActivityRow, ...] = ()
        self._now = datetime(1970, 1, 1)

    @property
    def rows(self) -> tuple[RepActivityRow, ...]:
        return self._rows

    def set_rows(self, rows: Sequence[RepActivityRow], now: datetime) -> None:
        self.beginResetModel()
        self._rows = tuple(rows)
        self._now = now
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's default
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return TIPS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        column = index.column()
        if not 0 <= column < len(COLUMNS):
            return None
        rep = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(rep, column)
        if role == Qt.ItemDataRole.ToolTipRole and column == 5 and rep.last_activity_at:
            return format_datetime(rep.last_activity_at)
        if role == Qt.ItemDataRole.BackgroundRole and rep.idle:
            return QBrush(IDLE_TINT)
        if role == Qt.ItemDataRole.TextAlignmentRole and 1 <= column <= 4:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _display(self, rep: RepActivityRow, column: int) -> str:
        if column == 0:
            return rep.display_name
        if column == 1:
            return str(rep.current)
        if column == 2:
            return str(rep.call_backs)
        if column == 3:
            return str(rep.claimed_today)
        if column == 4:
            return str(rep.actions_today)
        if rep.last_activity_at is None:
            return "Idle — nothing yet"
        when = describe_delta(rep.last_activity_at, self._now)
        when = "just now" if when == "now" else when
        return f"Idle — {when}" if rep.idle else when
