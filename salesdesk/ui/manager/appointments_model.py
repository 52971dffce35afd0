"""The appointments queue as a table: leads handed to the admin team, newest first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from salesdesk.services.records import LeadRow
from salesdesk.ui.timefmt import EMPTY, format_compact, format_datetime

_Index = QModelIndex | QPersistentModelIndex
COLUMNS = ("Appointment made", "Lead", "Company", "Phone", "Email", "Pool", "Source")


class AppointmentsModel(QAbstractTableModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: tuple[LeadRow, ...] = ()

    @property
    def rows(self) -> tuple[LeadRow, ...]:
        return self._rows

    def set_rows(self, rows: Sequence[LeadRow]) -> None:
        self.beginResetModel()
        self._rows = tuple(rows)
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's default
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            role == Qt.ItemDataRole.DisplayRole
            and orientation == Qt.Orientation.Horizontal
            and 0 <= section < len(COLUMNS)
        ):
            return COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        column = index.column()
        if not 0 <= column < len(COLUMNS):
            return None
        lead = self._rows[index.row()]
        if role == Qt.ItemDataRole.ToolTipRole and column == 0:
            return format_datetime(lead.appointment_at)
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        values = (
            format_compact(lead.appointment_at),
            lead.name,
            lead.company,
            lead.phone,
            lead.email,
            lead.pool_name,
            lead.source,
        )
        return values[column] or EMPTY
