"""The admins' appointments queue: leads a rep handed over, waiting to be booked.

Marking one booked stamps it (an event in its history) and takes it off the
queue for every admin.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from salesdesk.services import leads
from salesdesk.services.records import LeadRow
from salesdesk.ui.context import LEADS, AppContext
from salesdesk.ui.manager.appointments_model import AppointmentsModel
from salesdesk.ui.manager.manager_work import load_appointments
from salesdesk.ui.message_bar import ERROR, INFO
from salesdesk.ui.tasks import TaskFailure


class AppointmentsTab(QWidget):
    """The queue and a "Mark booked" button.

    Signals:
        message(str, str): text and level for the view's message bar.
        loaded(int): the queue was read (how many are waiting).
    """

    message = Signal(str, str)
    loaded = Signal(int)

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._context = context
        self.model = AppointmentsModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.book_button = QPushButton("Mark booked")
        self.book_button.setToolTip("The admin team has booked this appointment")
        self.book_button.setEnabled(False)
        self.refresh_button = QPushButton("Refresh")
        self.status = QLabel("Loading the appointments queue…")
        row = QHBoxLayout()
        row.addWidget(self.book_button)
        row.addWidget(self.status, 1)
        row.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(row)
        layout.addWidget(self.table, 1)
        self.book_button.clicked.connect(self.mark_booked)
        self.refresh_button.clicked.connect(self.reload)
        self.table.selectionModel().selectionChanged.connect(self._on_selection)
        self.table.doubleClicked.connect(lambda _index: self.mark_booked())

    def reload(self) -> None:
        self._context.run(
            load_appointments,
            on_done=self._on_loaded,
            on_error=self._on_failed,
            key="manager.appointments",
        )

    def selected(self) -> LeadRow | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.rows[rows[0].row()] if rows else None

    def mark_booked(self) -> None:
        lead = self.selected()
        if lead is None:
            return
        self._context.run(
            leads.mark_booked,
            lead.id,
            on_done=lambda _none: self._on_booked(lead),
            on_error=self._on_failed,
            busy=[self.book_button],
        )

    def _on_booked(self, lead: LeadRow) -> None:
        self.message.emit(f"{lead.name}: appointment marked booked.", INFO)
        self._context.announce(LEADS)
        self.reload()

    def _on_loaded(self, rows: tuple[LeadRow, ...]) -> None:
        chosen = self.selected()
        self.model.set_rows(rows)
        if chosen is not None:
            for number, row in enumerate(rows):
                if row.id == chosen.id:
                    self.table.selectRow(number)
        waiting = len(rows)
        self.status.setText(
            f"{waiting} appointment{'s' if waiting != 1 else ''} waiting to be booked."
            if waiting
            else "No appointments are waiting. Leads appear here when a rep presses Appointment."
        )
        self._on_selection()
        self.loaded.emit(waiting)

    def _on_selection(self, *_args: object) -> None:
        self.book_button.setEnabled(self.selected() is not None)

    def _on_failed(self, failure: TaskFailure) -> None:
        self.message.emit(failure.message, ERROR)
