"""A lead's whole history — every owner's, not only the current one's — as a table model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from salesdesk.services.records import EventRow
from salesdesk.services.workdays import period_in
from salesdesk.ui.timefmt import format_compact, format_datetime

_Index = QModelIndex | QPersistentModelIndex
COLUMNS = ("When", "Who", "What")
# How a push pool chose the rep, as a ``routed`` event's details name it.
ROUTING_WORDS = {"round_robin": "round robin", "weighted": "weighted shares"}


def describe_event(event: EventRow) -> str:
    """One line a rep understands for an event kind the services write."""
    d = event.details
    to_owner = event.to_owner_name or "someone"
    from_owner = event.from_owner_name or "someone"
    kind = event.kind
    if kind == "created":
        return "Added to the pool"
    if kind == "claimed":
        return "Taken with Next"  # by whom: the Who column, the rep who clicked
    if kind == "assigned":
        return f"Assigned to {to_owner}"
    if kind == "routed":
        how = ROUTING_WORDS.get(str(d.get("routing", "")))
        return f"Routed to {to_owner} ({how})" if how else f"Routed to {to_owner}"
    if kind == "reassigned":
        return f"Reassigned from {from_owner} to {to_owner}"
    if kind == "call_back":
        when = d.get("call_back_at")
        return f"Call back set for {_iso_local(when)}" if when else "Call back set"
    if kind == "call_back_due":
        return "Call back came due (back in Current)"
    if kind == "email_confirmed":
        return f"Email confirmed — confirmation email to {d.get('to', 'the lead')}"
    if kind == "appointment":
        return "Appointment made — handed to the admin team"
    if kind == "booked":
        return "Appointment booked by the admin team"
    if kind == "dead":
        reason = d.get("reason")
        return f"Marked dead: {reason}" if reason else "Marked dead"
    if kind == "removed":
        return "Removed by a manager"
    if kind == "contacted":
        return "Called (phone link)"
    if kind == "returned":
        return f"Returned to the pool from {from_owner}"
    if kind == "expired":
        return f"Back to the pool: {from_owner}'s keep period{period_in(d, ' of ', '')} ended"
    if kind == "idle":
        return f"Back to the pool: no action by {from_owner} for {period_in(d)}"
    if kind == "follow_up_reminder":
        return f"Follow-up reminder: no contact for {period_in(d)}"
    if kind == "owner_left":
        return f"Back to the pool: {from_owner} left the team"
    return kind.replace("_", " ").capitalize()


def describe_actor(event: EventRow) -> str:
    """Who did it: a person, or SalesDesk for what a rule or a clock job did.

    Routing is always SalesDesk's doing, even in events written before routing
    stopped recording the importer as the actor: the pool's rule chose the rep.
    """
    if event.kind == "routed" or not event.actor_name:
        return "SalesDesk"
    return event.actor_name


def _iso_local(value: str) -> str:
    from datetime import datetime

    try:
        return format_datetime(datetime.fromisoformat(value))
    except (TypeError, ValueError):
        return str(value)


class HistoryModel(QAbstractTableModel):
    """Events newest first (as the notes and the manager's pane), with when, who, and what.

    :attr:`events` keeps the order the service gave (oldest first); only the
    rows are shown the other way round, so the latest action is the first a
    rep sees when a lead opens.
    """

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._events: tuple[EventRow, ...] = ()

    def set_events(self, events: Sequence[EventRow]) -> None:
        new = tuple(events)
        if new == self._events:
            return
        self.beginResetModel()
        self._events = new
        self.endResetModel()

    @property
    def events(self) -> tuple[EventRow, ...]:
        return self._events

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's default
        return 0 if parent.isValid() else len(self._events)

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
        if not index.isValid() or not 0 <= index.row() < len(self._events):
            return None
        if not 0 <= index.column() < len(COLUMNS):
            return None
        event = self._events[len(self._events) - 1 - index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            column = index.column()
            if column == 0:
                if role == Qt.ItemDataRole.ToolTipRole:
                    return format_datetime(event.at)
                return format_compact(event.at)
            if column == 1:
                return describe_actor(event)
            return describe_event(event)
        return None
