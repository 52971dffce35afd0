"""In-app notifications as a Qt list model (newest first, unread in bold)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QFont

from salesdesk.services.notifications import NotificationRow
from salesdesk.ui.timefmt import describe_delta, format_datetime

LEAD_ID_ROLE = Qt.ItemDataRole.UserRole + 1
_Index = QModelIndex | QPersistentModelIndex


class NotificationModel(QAbstractListModel):
    """Rows of :class:`NotificationRow`; ``data()`` only formats what it holds."""

    def __init__(self, now: Callable[[], datetime], parent: Any = None) -> None:
        super().__init__(parent)
        self._now = now
        self._rows: tuple[NotificationRow, ...] = ()

    @property
    def rows(self) -> tuple[NotificationRow, ...]:
        return self._rows

    def set_rows(self, rows: Sequence[NotificationRow]) -> None:
        self.beginResetModel()
        self._rows = tuple(rows)
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's default
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows) or index.column() != 0:
            return None
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{row.message}\n{describe_delta(row.created_at, self._now())}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{row.message}\n{format_datetime(row.created_at)}"
        if role == Qt.ItemDataRole.FontRole and not row.read:
            font = QFont()
            font.setBold(True)
            return font
        if role == LEAD_ID_ROLE:
            return row.lead_id
        return None
