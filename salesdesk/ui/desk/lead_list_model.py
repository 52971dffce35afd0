"""The rep's Current and Call backs lists as a Qt table model.

The model holds the rows the last snapshot brought (a rep holds tens of leads,
capped, so the whole list fits); ``data()`` only formats what it holds and
never touches the database.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont

from salesdesk.services.records import LeadRow
from salesdesk.ui.timefmt import format_datetime, format_short

CURRENT, CALL_BACKS = "current", "call_backs"
LEAD_ID_ROLE = Qt.ItemDataRole.UserRole + 1
OVERDUE_ROLE = Qt.ItemDataRole.UserRole + 2

_Index = QModelIndex | QPersistentModelIndex
_ROLES = frozenset(
    {
        Qt.ItemDataRole.DisplayRole,
        Qt.ItemDataRole.ToolTipRole,
        Qt.ItemDataRole.ForegroundRole,
        Qt.ItemDataRole.FontRole,
        LEAD_ID_ROLE,
        OVERDUE_ROLE,
    }
)
_OVERDUE = QColor(200, 40, 40)


class LeadListModel(QAbstractTableModel):
    """Rows of :class:`LeadRow` for one of the rep's lists.

    Args:
        kind: ``CURRENT`` (columns Name, Company, Phone, Assigned) or
            ``CALL_BACKS`` (Due, Name, Company, Phone — soonest first, overdue marked).
        now: the current naive-UTC time, to mark overdue call backs.
    """

    def __init__(self, kind: str, now: Callable[[], datetime], parent: Any = None) -> None:
        super().__init__(parent)
        self.kind = kind
        self._now = now
        self._rows: tuple[LeadRow, ...] = ()
        if kind == CALL_BACKS:
            self._columns = ("Due", "Name", "Company", "Phone")
        else:
            self._columns = ("Name", "Company", "Phone", "Assigned")

    # --- contents ---------------------------------------------------------------------

    @property
    def rows(self) -> tuple[LeadRow, ...]:
        return self._rows

    def set_rows(self, rows: Sequence[LeadRow]) -> bool:
        """Replace the rows; returns False (and leaves views alone) when nothing changed."""
        new = tuple(rows)
        if new == self._rows:
            return False
        self.beginResetModel()
        self._rows = new
        self.endResetModel()
        return True

    def row_of(self, lead_id: int) -> int:
        """The row showing ``lead_id``, or -1."""
        for i, row in enumerate(self._rows):
            if row.id == lead_id:
                return i
        return -1

    def lead_at(self, row: int) -> LeadRow | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    @property
    def columns(self) -> tuple[str, ...]:
        return self._columns

    def is_overdue(self, lead: LeadRow) -> bool:
        return lead.call_back_at is not None and lead.call_back_at <= self._now()

    def call_back_waiting(self, lead: LeadRow) -> bool:
        """In Current: a call back came due and nobody has called since."""
        if self.kind != CURRENT or not self.is_overdue(lead):
            return False
        assert lead.call_back_at is not None
        return lead.last_contacted_at is None or lead.last_contacted_at < lead.call_back_at

    # --- QAbstractTableModel ------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's default
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._columns)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            role == Qt.ItemDataRole.DisplayRole
            and orientation == Qt.Orientation.Horizontal
            and 0 <= section < len(self._columns)
        ):
            return self._columns[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        if not 0 <= index.column() < len(self._columns):
            return None
        if role not in _ROLES:
            return None  # views ask for many roles; answer the unused ones cheaply
        lead = self._rows[index.row()]
        column = self._columns[index.column()]
        overdue = self.kind == CALL_BACKS and self.is_overdue(lead)
        # The column that carries the "call now" mark: Due, or in Current the name.
        marked = (overdue and column == "Due") or (
            column == "Name" and self.call_back_waiting(lead)
        )
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(lead, column, overdue)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(lead, overdue)
        if role == Qt.ItemDataRole.ForegroundRole and marked:
            return QBrush(_OVERDUE)
        if role == Qt.ItemDataRole.FontRole and marked:
            font = QFont()
            font.setBold(True)
            return font
        if role == LEAD_ID_ROLE:
            return lead.id
        if role == OVERDUE_ROLE:
            return overdue
        return None

    def _text(self, lead: LeadRow, column: str, overdue: bool) -> str:
        if column == "Name":
            name = f"{lead.first_name} {lead.last_name}".strip() or lead.name
            return f"☎ {name}" if self.call_back_waiting(lead) else name
        if column == "Company":
            return lead.company
        if column == "Phone":
            return lead.phone or ""
        if column == "Assigned":
            return format_short(lead.assigned_at, self._now())
        due = format_short(lead.call_back_at, self._now())
        return f"⚠ {due}" if overdue else due  # red and bold too; the tooltip says "was due"

    def _tooltip(self, lead: LeadRow, overdue: bool) -> str:
        lines = [lead.name]
        if lead.company:
            lines.append(lead.company)
        if self.kind == CALL_BACKS:
            due = format_datetime(lead.call_back_at)
            lines.append(f"Call back {'was due' if overdue else 'due'} {due}")
        else:
            lines.append(f"Assigned {format_datetime(lead.assigned_at)}")
            if self.call_back_waiting(lead):
                lines.append(f"Call back was due {format_datetime(lead.call_back_at)}: call now")
        return "\n".join(lines)
